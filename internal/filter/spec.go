package filter

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Spec holds the raw values of the filter flags. Each is a comma-separated
// list of items; "" means the flag does not constrain. The package
// documentation describes what each flag matches.
type Spec struct {
	Family string // --family: ipv4, ipv6
	Proto  string // --proto: protocol names or numbers
	Src    string // --src: addresses or CIDR prefixes, original source
	Dst    string // --dst: addresses or CIDR prefixes, original destination
	Port   string // --port: ports or ranges, original sport or dport
	SPort  string // --sport: ports or ranges, original sport
	DPort  string // --dport: ports or ranges, original dport
	State  string // --state: protocol state names or numbers
	Status string // --status: status names, '!' negates an item
	Zone   string // --zone: zone numbers
	Mark   string // --mark: VALUE or VALUE/MASK

	ReplySrc   string // --reply-src: addresses or CIDR prefixes, reply source
	ReplyDst   string // --reply-dst: addresses or CIDR prefixes, reply destination
	ReplySPort string // --reply-sport: ports or ranges, reply sport
	ReplyDPort string // --reply-dport: ports or ranges, reply dport
	MaskSrc    string // --mask-src: address masks for --src, one a family
	MaskDst    string // --mask-dst: address masks for --dst, one a family

	// SrcNAT, DstNAT and AnyNAT are --src-nat, --dst-nat and --any-nat
	// given without a value; SrcNATAddr, DstNATAddr and AnyNATAddr their
	// values, ADDR[:PORT] items. A value turns its flag on by itself.
	SrcNAT, DstNAT, AnyNAT             bool
	SrcNATAddr, DstNATAddr, AnyNATAddr string

	Label string // --label: connlabel names (or bit numbers), all required
	// LabelNames is the connlabel table --label names are looked up in
	// (--connlabel-file); nil knows no name, only bit numbers.
	LabelNames *model.LabelNames

	OrigZone  string // --orig-zone: zone numbers of the original direction
	ReplyZone string // --reply-zone: zone numbers of the reply direction
	ICMPType  string // --icmp-type: ICMP or ICMPv6 types (0-255)
	ICMPCode  string // --icmp-code: ICMP or ICMPv6 codes (0-255)
	ICMPID    string // --icmp-id: ICMP or ICMPv6 identifiers (0-65535)
	Secmark   string // --secmark: VALUE or VALUE/MASK

	// GRE keys (0-65535, decimal or 0x-hex), of GRE entries only.
	GRESrcKey      string // --srckey: original source keys
	GREDstKey      string // --dstkey: original destination keys
	GREReplySrcKey string // --reply-key-src: reply source keys
	GREReplyDstKey string // --reply-key-dst: reply destination keys

	OrigVtag  string // --orig-vtag: SCTP verification tags of the original direction
	ReplyVtag string // --reply-vtag: SCTP verification tags of the reply direction
	Role      string // --role: DCCP roles of the original direction (client, server)
}

// Flag names, as the command line spells them; errors and String use them.
const (
	flagFamily = "--family"
	flagProto  = "--proto"
	flagSrc    = "--src"
	flagDst    = "--dst"
	flagPort   = "--port"
	flagSPort  = "--sport"
	flagDPort  = "--dport"
	flagState  = "--state"
	flagStatus = "--status"
	flagZone   = "--zone"
	flagMark   = "--mark"

	flagReplySrc   = "--reply-src"
	flagReplyDst   = "--reply-dst"
	flagReplySPort = "--reply-sport"
	flagReplyDPort = "--reply-dport"
	flagMaskSrc    = "--mask-src"
	flagMaskDst    = "--mask-dst"
	flagSrcNAT     = "--src-nat"
	flagDstNAT     = "--dst-nat"
	flagAnyNAT     = "--any-nat"
	flagLabel      = "--label"
	flagOrigZone   = "--orig-zone"
	flagReplyZone  = "--reply-zone"
	flagICMPType   = "--icmp-type"
	flagICMPCode   = "--icmp-code"
	flagICMPID     = "--icmp-id"
	flagSecmark    = "--secmark"
	flagSrcKey     = "--srckey"
	flagDstKey     = "--dstkey"
	flagReplySKey  = "--reply-key-src"
	flagReplyDKey  = "--reply-key-dst"
	flagOrigVtag   = "--orig-vtag"
	flagReplyVtag  = "--reply-vtag"
	flagRole       = "--role"
)

// New checks the flag values of s and compiles them into a Filter. Its error
// joins a [*FlagError] for every bad item of every flag, so that an operator
// fixes the command line in one go.
func New(s Spec) (*Filter, error) {
	c := compiler{f: &Filter{}}
	c.family(s.Family)
	c.proto(s.Proto)
	c.f.src = c.prefixes(flagSrc, s.Src)
	c.f.dst = c.prefixes(flagDst, s.Dst)
	c.f.port = c.ports(flagPort, s.Port)
	c.f.sport = c.ports(flagSPort, s.SPort)
	c.f.dport = c.ports(flagDPort, s.DPort)
	c.state(s.State)
	c.status(s.Status)
	c.f.zones = c.zones(flagZone, s.Zone)
	c.f.marks = c.marks(flagMark, s.Mark)
	c.f.replySrc = c.prefixes(flagReplySrc, s.ReplySrc)
	c.f.replyDst = c.prefixes(flagReplyDst, s.ReplyDst)
	c.f.replySPort = c.ports(flagReplySPort, s.ReplySPort)
	c.f.replyDPort = c.ports(flagReplyDPort, s.ReplyDPort)
	c.f.src, c.f.srcMasked = c.masks(flagMaskSrc, s.MaskSrc, flagSrc, c.f.src)
	c.f.dst, c.f.dstMasked = c.masks(flagMaskDst, s.MaskDst, flagDst, c.f.dst)
	c.nat(s)
	c.labels(s.Label, s.LabelNames)
	c.f.origZones = c.zones(flagOrigZone, s.OrigZone)
	c.f.replyZones = c.zones(flagReplyZone, s.ReplyZone)
	c.f.icmpTypes, c.f.hasICMPType = c.bytes(flagICMPType, s.ICMPType, "is not an ICMP type (0-255)")
	c.f.icmpCodes, c.f.hasICMPCode = c.bytes(flagICMPCode, s.ICMPCode, "is not an ICMP code (0-255)")
	c.f.icmpIDs = c.icmpIDs(s.ICMPID)
	c.f.secmarks = c.marks(flagSecmark, s.Secmark)
	c.f.greKeys = [4][]uint16{
		c.greKeys(flagSrcKey, s.GRESrcKey), c.greKeys(flagDstKey, s.GREDstKey),
		c.greKeys(flagReplySKey, s.GREReplySrcKey), c.greKeys(flagReplyDKey, s.GREReplyDstKey),
	}
	c.vtag(s)
	c.f.userspace = !c.f.userspaceEmpty()
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return c.f, nil
}

// compiler collects the compiled filter and every error found on the way.
type compiler struct {
	f    *Filter
	errs []error
}

func (c *compiler) fail(flag, item, msg string) {
	c.errs = append(c.errs, &FlagError{Flag: flag, Item: item, Msg: msg})
}

// items splits a flag value into its trimmed items, reporting empty ones.
// It returns nil for an empty value.
func (c *compiler) items(flag, value string) []string {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	items := strings.Split(value, ",")
	out := items[:0]
	empty := false
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			empty = true
			continue
		}
		out = append(out, it)
	}
	if empty {
		c.fail(flag, value, "has an empty item")
	}
	return out
}

// itemSet compiles a flag's value into the set of what parse makes of its
// items, sorted by compare and without repeats; an item parse rejects
// fails the flag with msg and is left out.
func itemSet[T comparable](c *compiler, flag, value string, parse func(string) (T, bool), msg string, compare func(a, b T) int) []T {
	var out []T
	for _, it := range c.items(flag, value) {
		v, ok := parse(it)
		if !ok {
			c.fail(flag, it, msg)
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, compare)
	return slices.Compact(out)
}

func (c *compiler) family(value string) {
	for _, it := range c.items(flagFamily, value) {
		fam, ok := model.ParseFamily(strings.ToLower(it))
		switch {
		case ok && fam == model.FamilyIPv4:
			c.f.families |= familyIPv4
		case ok && fam == model.FamilyIPv6:
			c.f.families |= familyIPv6
		default:
			c.fail(flagFamily, it, "is not a family (ipv4, ipv6)")
		}
	}
}

func (c *compiler) proto(value string) {
	for _, it := range c.items(flagProto, value) {
		p, ok := model.ParseProto(strings.ToLower(it))
		if !ok {
			c.fail(flagProto, it, "is not a protocol (a name such as tcp, udp, icmp, or a number 0-255)")
			continue
		}
		c.f.protos.add(uint8(p))
		c.f.hasProto = true
	}
}

func (c *compiler) prefixes(flag, value string) []netip.Prefix {
	return itemSet(c, flag, value, parsePrefix, "is not an address or CIDR prefix", func(a, b netip.Prefix) int {
		if r := a.Addr().Compare(b.Addr()); r != 0 {
			return r
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
}

// parsePrefix accepts an address, taken as a single-host prefix, or a CIDR
// prefix, which it masks.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func (c *compiler) ports(flag, value string) []portRange {
	var out []portRange
	for _, it := range c.items(flag, value) {
		lo, hi, isRange := strings.Cut(it, "-")
		a, okA := parsePort(lo)
		b, okB := a, okA
		if isRange {
			b, okB = parsePort(hi)
		}
		switch {
		case !okA || !okB:
			c.fail(flag, it, "is not a port (0-65535) or a port range (1000-2000)")
		case a > b:
			c.fail(flag, it, "is a range whose start is after its end")
		default:
			out = append(out, portRange{a, b})
		}
	}
	return mergeRanges(out)
}

func parsePort(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// mergeRanges sorts ranges and merges those that overlap or touch, so that
// the filter's canonical form does not depend on how the operator split
// them.
func mergeRanges(rs []portRange) []portRange {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b portRange) int { return cmp.Compare(a.lo, b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if uint32(r.lo) <= uint32(last.hi)+1 {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (c *compiler) state(value string) {
	var names []string
	for _, it := range c.items(flagState, value) {
		name := strings.ToUpper(it)
		known := false
		for i, p := range stateProtos {
			if s, ok := model.ParseState(p, name); ok {
				c.f.states[i].add(uint8(s))
				known = true
			}
		}
		if !known {
			c.fail(flagState, it, "is not a TCP, SCTP or DCCP state")
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 8); err == nil {
			name = strconv.FormatUint(n, 10) // "03" prints as "3"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	c.f.stateNames = slices.Compact(names)
	c.f.hasState = len(names) > 0
}

func (c *compiler) status(value string) {
	items := c.items(flagStatus, value)
	st := &c.f.status
	for _, it := range items {
		name, neg := strings.CutPrefix(it, "!")
		bit, set, ok := parseStatusItem(strings.TrimSpace(name))
		if !ok {
			c.fail(flagStatus, it, "is not a status (unreplied, replied, assured, offload, hw_offload, or a status bit such as seen_reply, confirmed, dst_nat; '!' negates)")
			continue
		}
		switch {
		case !neg && set:
			st.anySet |= bit
		case !neg:
			st.anyClear |= bit
		case set: // !assured: the bit must be clear
			st.allClear |= bit
		default: // !unreplied: the bit must be set
			st.allSet |= bit
		}
		c.f.hasStatus = true
	}
	if !st.satisfiable() {
		c.fail(flagStatus, value, "matches no entry")
	}
}

// parseStatusItem returns the status bit an item names and whether the item
// asks for it to be set (assured) or clear (unreplied).
func parseStatusItem(name string) (bit model.Status, set, ok bool) {
	switch upper := strings.ToUpper(name); upper {
	case "UNREPLIED":
		return model.StatusSeenReply, false, true
	case "REPLIED":
		return model.StatusSeenReply, true, true
	default:
		bit, ok = model.ParseStatusBit(upper)
		return bit, true, ok
	}
}

func (c *compiler) zones(flag, value string) []uint16 {
	return itemSet(c, flag, value, parseZone, "is not a zone (0-65535)", cmp.Compare[uint16])
}

// parseZone accepts a conntrack zone in decimal.
func parseZone(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// marks compiles --mark and --secmark.
func (c *compiler) marks(flag, value string) []markItem {
	var marks []markItem
	for _, it := range c.items(flag, value) {
		v, m, hasMask := strings.Cut(it, "/")
		val, okV := parseMark(v)
		mask, okM := ^uint32(0), true
		if hasMask {
			mask, okM = parseMark(m)
		}
		switch {
		case !okV || !okM:
			c.fail(flag, it, "is not a mark (VALUE or VALUE/MASK, each decimal or 0x-hex, 32 bits)")
		case val&^mask != 0:
			c.fail(flag, it, "has value bits outside its mask and can never match")
		default:
			marks = append(marks, markItem{val, mask})
		}
	}
	slices.SortFunc(marks, func(a, b markItem) int {
		if r := cmp.Compare(a.value, b.value); r != 0 {
			return r
		}
		return cmp.Compare(a.mask, b.mask)
	})
	return slices.Compact(marks)
}

// parseMark accepts decimal or 0x-hex. It does not use base 0 of
// strconv.ParseUint, which would read "010" as octal and accept '_'.
func parseMark(s string) (uint32, bool) {
	base := 10
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = h, 16
	}
	n, err := strconv.ParseUint(s, base, 32)
	return uint32(n), err == nil
}

// bytes compiles --icmp-type and --icmp-code: numbers 0-255.
func (c *compiler) bytes(flag, value, msg string) (set256, bool) {
	var s set256
	has := false
	for _, it := range c.items(flag, value) {
		n, err := strconv.ParseUint(it, 10, 8)
		if err != nil {
			c.fail(flag, it, msg)
			continue
		}
		s.add(uint8(n))
		has = true
	}
	return s, has
}

// icmpIDs compiles --icmp-id: numbers 0-65535.
func (c *compiler) icmpIDs(value string) []uint16 {
	var ids []uint16
	for _, it := range c.items(flagICMPID, value) {
		n, err := strconv.ParseUint(it, 10, 16)
		if err != nil {
			c.fail(flagICMPID, it, "is not an ICMP identifier (0-65535)")
			continue
		}
		ids = append(ids, uint16(n))
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// greKeys compiles a GRE key flag: numbers 0-65535, decimal or 0x-hex (as
// conntrack's strtoul, without octal).
func (c *compiler) greKeys(flag, value string) []uint16 {
	var keys []uint16
	for _, it := range c.items(flag, value) {
		n, ok := parseMark(it)
		if !ok || n > 0xffff {
			c.fail(flag, it, "is not a GRE key (0-65535, decimal or 0x-hex)")
			continue
		}
		keys = append(keys, uint16(n))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
