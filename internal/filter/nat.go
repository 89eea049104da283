package filter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// natCond is a compiled --src-nat, --dst-nat or --any-nat. conntrack-tools
// 1.4.7 decides NAT in filter_nat (src/conntrack.c) from
// libnetfilter_conntrack's NFCT_GOPT_IS_SNAT, IS_SPAT, IS_DNAT and IS_DPAT
// (src/conntrack/objopt.c): an entry is source-NATed when its status has
// IPS_SRC_NAT_DONE and the reply tuple's destination differs from the
// original source (the address, IS_SNAT, or the port, IS_SPAT), and
// destination-NATed when it has IPS_DST_NAT_DONE and the reply source
// differs from the original destination. A value names the NATed address:
// the reply destination for source NAT, the reply source for destination
// NAT; with a port, the reply destination or source port too.
type natCond struct {
	// src and dst say whether --src-nat (or --any-nat) and --dst-nat (or
	// --any-nat) were given; any whether it was --any-nat, whose two
	// checks are ORed where --src-nat --dst-nat ANDs them.
	src, dst, any bool
	// srcItems and dstItems are the flags' values, ORed; nil matches any
	// NAT of the direction.
	srcItems, dstItems []natItem
}

// natItem is one ADDR[:PORT] of a NAT flag.
type natItem struct {
	addr    netip.Prefix
	ports   portRange
	hasPort bool
}

func (c *compiler) nat(s Spec) {
	n := &c.f.nat
	var src, dst []natItem
	if s.SrcNAT || s.SrcNATAddr != "" {
		n.src = true
		src = c.natItems(flagSrcNAT, s.SrcNATAddr)
	}
	if s.DstNAT || s.DstNATAddr != "" {
		n.dst = true
		dst = c.natItems(flagDstNAT, s.DstNATAddr)
	}
	if s.AnyNAT || s.AnyNATAddr != "" {
		if n.src || n.dst {
			// As conntrack: "cannot specify `--src-nat' or `--dst-nat'
			// with `--any-nat'".
			c.fail(flagAnyNAT, s.AnyNATAddr, "cannot be combined with --src-nat or --dst-nat")
			return
		}
		n.src, n.dst, n.any = true, true, true
		src = c.natItems(flagAnyNAT, s.AnyNATAddr)
		dst = src
	}
	n.srcItems, n.dstItems = src, dst
}

// natItems parses conntrack's NAT values: ADDR, ADDR:PORT (IPv4) or
// [ADDR]:PORT (IPv6), as its split_address_and_port does; ADDR may also be
// a CIDR prefix and PORT a range, as in ctwatch's other flags.
func (c *compiler) natItems(flag, value string) []natItem {
	return itemSet(c, flag, value, parseNATItem, "is not a NAT address (ADDR, ADDR:PORT, [IPV6]:PORT; ADDR may be a CIDR prefix, PORT a range)", compareNATItems)
}

func parseNATItem(s string) (natItem, bool) {
	addr, port, hasPort := s, "", false
	if rest, ok := strings.CutPrefix(s, "["); ok {
		a, after, closed := strings.Cut(rest, "]")
		if !closed {
			return natItem{}, false
		}
		addr = a
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return natItem{}, false
			}
			port, hasPort = p, true
		}
	} else if strings.Count(s, ":") == 1 {
		addr, port, hasPort = strings.Cut(s, ":")
	}
	p, ok := parsePrefix(addr)
	if !ok {
		return natItem{}, false
	}
	item := natItem{addr: p}
	if hasPort {
		lo, hi, isRange := strings.Cut(port, "-")
		a, okA := parsePort(lo)
		b, okB := a, okA
		if isRange {
			b, okB = parsePort(hi)
		}
		if !okA || !okB || a > b {
			return natItem{}, false
		}
		item.ports, item.hasPort = portRange{a, b}, true
	}
	return item, true
}

func compareNATItems(a, b natItem) int {
	if r := a.addr.Addr().Compare(b.addr.Addr()); r != 0 {
		return r
	}
	if r := a.addr.Bits() - b.addr.Bits(); r != 0 {
		return r
	}
	if a.hasPort != b.hasPort {
		if a.hasPort {
			return 1
		}
		return -1
	}
	if r := int(a.ports.lo) - int(b.ports.lo); r != 0 {
		return r
	}
	return int(a.ports.hi) - int(b.ports.hi)
}

func (n *natCond) active() bool { return n.src || n.dst }

// match follows filter_nat: with --any-nat either direction's check must
// hold, with --src-nat and --dst-nat both, else the one given.
func (n *natCond) match(e *model.Entry) bool {
	var s, d bool
	if n.src {
		op, np := natPorts(e, true)
		s = matchNAT(n.srcItems, e, model.StatusSrcNATDone, e.Orig.Src, e.Reply.Dst, op, np)
	}
	if n.any && s {
		return true
	}
	if n.dst {
		op, np := natPorts(e, false)
		d = matchNAT(n.dstItems, e, model.StatusDstNATDone, e.Orig.Dst, e.Reply.Src, op, np)
	}
	switch {
	case n.any:
		return d
	case n.src && n.dst:
		return s && d
	case n.src:
		return s
	}
	return d
}

// matchNAT decides one direction: orig is the original tuple's address
// (and port) that NAT rewrites, nated the reply tuple's address (and port)
// that holds the rewritten value.
func matchNAT(items []natItem, e *model.Entry, done model.Status, orig, nated netip.Addr, origP, natedP uint16) bool {
	if e.Status&done == 0 {
		return false
	}
	orig, nated = addr(e, orig), addr(e, nated)
	isAddr := orig != nated
	isPort := origP != natedP
	if items == nil {
		return isAddr || isPort
	}
	for _, it := range items {
		// conntrack: an address must be NATed to ADDR; with a port, the
		// port to PORT too.
		if !isAddr || !it.addr.Contains(nated) {
			continue
		}
		if it.hasPort && (!isPort || natedP < it.ports.lo || natedP > it.ports.hi) {
			continue
		}
		return true
	}
	return false
}

// natPorts returns the original tuple's port that source NAT (src) or
// destination NAT rewrites, and the reply tuple's port that holds the
// rewritten value: ports (and GRE keys, which ctnetlink carries where
// ports would be) for every protocol but ICMP, and for ICMP and ICMPv6 the
// identifier, which only source NAT rewrites and which sits in the source
// part of both tuples. conntrack compares the raw layer-4 unions (reply
// l4dst against original l4src) for ICMP too, where one holds type and
// code and the other the identifier, so that it takes nearly every ICMP
// entry with IPS_SRC_NAT_DONE for port-NATed; ctwatch compares the
// identifiers, which is what the kernel NATs.
func natPorts(e *model.Entry, src bool) (orig, nated uint16) {
	switch {
	case e.Proto.IsICMP() && src:
		return e.Orig.ICMPID, e.Reply.ICMPID
	case e.Proto.IsICMP():
		return 0, 0
	case src:
		return e.Orig.SrcPort, e.Reply.DstPort
	}
	return e.Orig.DstPort, e.Reply.SrcPort
}

// natString prints one NAT flag's items in canonical form.
func natString(items []natItem) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		a := prefixString(it.addr)
		if it.hasPort && it.addr.Addr().Is6() {
			a = "[" + a + "]"
		}
		b.WriteString(a)
		if it.hasPort {
			b.WriteString(":" + strconv.Itoa(int(it.ports.lo)))
			if it.ports.hi != it.ports.lo {
				b.WriteString("-" + strconv.Itoa(int(it.ports.hi)))
			}
		}
	}
	return b.String()
}

// prefixString prints a prefix, a single address without its length.
func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
