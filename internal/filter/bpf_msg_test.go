package filter

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// encodeEvent builds the ctnetlink message the kernel's
// ctnetlink_conntrack_event sends for ev, in its order: the tuples (with
// a per-direction zone), CTA_ZONE for a zone of both directions, CTA_ID,
// CTA_STATUS, CTA_TIMEOUT, CTA_PROTOINFO when the entry has a state (a
// DESTROY carries it, an update only when the state changed: the caller's
// Fields say which), CTA_MARK when present.
func encodeEvent(ev *model.Event) []byte {
	e := &ev.Entry
	typ := ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)
	var flags ctnl.Flags
	switch ev.Type {
	case model.EventNew:
		flags = ctnl.NLMFCreate | ctnl.NLMFExcl
	case model.EventDestroy:
		typ = ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtDelete)
	}
	b, at := ctnl.AppendMessage(nil, typ, flags, 0, uint8(e.Family))
	tuple := func(b []byte, t ctnl.AttrType, tp *model.Tuple, zone bool) []byte {
		b, n := ctnl.BeginNest(b, t)
		b, ip := ctnl.BeginNest(b, ctnl.CTATupleIP)
		if e.Family == model.FamilyIPv6 {
			s, d := tp.Src.As16(), tp.Dst.As16()
			b = ctnl.AppendAttr(b, ctnl.CTAIPV6Src, s[:])
			b = ctnl.AppendAttr(b, ctnl.CTAIPV6Dst, d[:])
		} else {
			s, d := tp.Src.As4(), tp.Dst.As4()
			b = ctnl.AppendAttr(b, ctnl.CTAIPV4Src, s[:])
			b = ctnl.AppendAttr(b, ctnl.CTAIPV4Dst, d[:])
		}
		b = ctnl.EndNest(b, ip)
		b, pn := ctnl.BeginNest(b, ctnl.CTATupleProto)
		b = ctnl.AppendU8(b, ctnl.CTAProtoNum, uint8(e.Proto))
		switch {
		case e.Proto == model.ProtoICMP:
			b = ctnl.AppendU16(b, ctnl.CTAProtoICMPID, tp.ICMPID)
			b = ctnl.AppendU8(b, ctnl.CTAProtoICMPType, tp.ICMPType)
			b = ctnl.AppendU8(b, ctnl.CTAProtoICMPCode, tp.ICMPCode)
		case e.Proto == model.ProtoICMPv6:
			b = ctnl.AppendU16(b, ctnl.CTAProtoICMPV6ID, tp.ICMPID)
			b = ctnl.AppendU8(b, ctnl.CTAProtoICMPV6Type, tp.ICMPType)
			b = ctnl.AppendU8(b, ctnl.CTAProtoICMPV6Code, tp.ICMPCode)
		case e.Proto.HasPorts() || e.Proto == model.ProtoGRE:
			b = ctnl.AppendU16(b, ctnl.CTAProtoSrcPort, tp.SrcPort)
			b = ctnl.AppendU16(b, ctnl.CTAProtoDstPort, tp.DstPort)
		}
		b = ctnl.EndNest(b, pn)
		if zone {
			b = ctnl.AppendU16(b, ctnl.CTATupleZone, tp.Zone)
		}
		return ctnl.EndNest(b, n)
	}
	b = tuple(b, ctnl.CTATupleOrig, &e.Orig, e.Fields.Has(model.FieldOrigZone))
	b = tuple(b, ctnl.CTATupleReply, &e.Reply, e.Fields.Has(model.FieldReplyZone))
	if e.Fields.Has(model.FieldZone) {
		b = ctnl.AppendU16(b, ctnl.CTAZone, e.Zone)
	}
	b = ctnl.AppendU32(b, ctnl.CTAID, e.ID)
	b = ctnl.AppendU32(b, ctnl.CTAStatus, uint32(e.Status))
	b = ctnl.AppendU32(b, ctnl.CTATimeout, e.Timeout)
	if e.Fields.Has(model.FieldState) {
		var pi, st ctnl.AttrType
		switch e.Proto {
		case model.ProtoTCP:
			pi, st = ctnl.CTAProtoinfoTCP, ctnl.CTAProtoinfoTCPState
		case model.ProtoSCTP:
			pi, st = ctnl.CTAProtoinfoSCTP, ctnl.CTAProtoinfoSCTPState
		case model.ProtoDCCP:
			pi, st = ctnl.CTAProtoinfoDCCP, ctnl.CTAProtoinfoDCCPState
		}
		if pi != 0 {
			var n, p int
			b, n = ctnl.BeginNest(b, ctnl.CTAProtoinfo)
			b, p = ctnl.BeginNest(b, pi)
			b = ctnl.AppendU8(b, st, uint8(e.State))
			if pi == ctnl.CTAProtoinfoTCP {
				b = ctnl.AppendU8(b, ctnl.CTAProtoinfoTCPWscaleOriginal, 7)
				b = ctnl.AppendU8(b, ctnl.CTAProtoinfoTCPWscaleReply, 7)
			}
			b = ctnl.EndNest(b, p)
			b = ctnl.EndNest(b, n)
		}
	}
	if e.Fields.Has(model.FieldMark) {
		b = ctnl.AppendU32(b, ctnl.CTAMark, e.Mark)
	}
	return ctnl.EndMessage(b, at)
}

// Small pools, so that random filters and random entries meet.
var (
	pool4 = []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.1.0.1", "192.168.1.1", "192.168.1.200", "172.16.5.4", "0.0.0.0", "255.255.255.255"}
	pool6 = []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:1::1", "fe80::1", "::1", "::ffff:10.0.0.1", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}
	// protocols, weighted to the interesting ones
	poolProto  = []model.Proto{model.ProtoTCP, model.ProtoTCP, model.ProtoUDP, model.ProtoUDP, model.ProtoICMP, model.ProtoICMPv6, model.ProtoSCTP, model.ProtoDCCP, model.ProtoGRE, model.ProtoUDPLite, 2}
	poolPort   = []uint16{0, 1, 22, 53, 80, 443, 694, 1000, 1500, 2000, 8080, 65535}
	poolZone   = []uint16{0, 1, 2, 3, 7, 65535}
	poolMark   = []uint32{0, 1, 2, 3, 0x10, 0x11, 0xff, 0x100, 0xdeadbeef, 0xffffffff}
	poolStatus = []model.Status{0, 1, 2, 4, 8, 0x10, 0x20, 0x100, 0x4000, 0x8000}
)

// randomEvent returns a random, kernel-shaped event.
func randomEvent(r *rand.Rand) model.Event {
	var ev model.Event
	ev.Type = []model.EventType{model.EventNew, model.EventUpdate, model.EventDestroy}[r.IntN(3)]
	e := &ev.Entry
	pool := pool4
	e.Family = model.FamilyIPv4
	if r.IntN(2) == 0 {
		pool, e.Family = pool6, model.FamilyIPv6
	}
	e.Proto = poolProto[r.IntN(len(poolProto))]
	if r.IntN(8) == 0 {
		e.Proto = model.Proto(r.IntN(256))
	}
	addr := func() netip.Addr {
		a := netip.MustParseAddr(pool[r.IntN(len(pool))])
		if r.IntN(4) == 0 { // somewhere else in the pool's networks
			b := a.AsSlice()
			b[len(b)-1] = byte(r.IntN(256))
			a, _ = netip.AddrFromSlice(b)
		}
		return a
	}
	port := func() uint16 {
		if r.IntN(3) == 0 {
			return uint16(r.IntN(65536))
		}
		return poolPort[r.IntN(len(poolPort))]
	}
	e.Orig = model.Tuple{Src: addr(), Dst: addr(), SrcPort: port(), DstPort: port()}
	e.Reply = model.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, SrcPort: e.Orig.DstPort, DstPort: e.Orig.SrcPort}
	if r.IntN(4) == 0 {
		e.Reply.Src = addr()
	}
	if e.Proto.IsICMP() {
		e.Orig.SrcPort, e.Orig.DstPort, e.Reply.SrcPort, e.Reply.DstPort = 0, 0, 0, 0
		e.Orig.ICMPType, e.Orig.ICMPID = uint8(r.IntN(256)), uint16(r.IntN(65536))
		e.Reply.ICMPType, e.Reply.ICMPID = uint8(r.IntN(256)), e.Orig.ICMPID
	}
	if !e.Proto.HasPorts() && e.Proto != model.ProtoGRE {
		e.Orig.SrcPort, e.Orig.DstPort, e.Reply.SrcPort, e.Reply.DstPort = 0, 0, 0, 0
	}
	e.Fields = model.FieldTimeout | model.FieldID
	e.Timeout, e.ID = uint32(r.IntN(1000)), r.Uint32()
	for range r.IntN(4) {
		e.Status |= poolStatus[r.IntN(len(poolStatus))]
	}
	if r.IntN(8) == 0 {
		e.Status = model.Status(r.Uint32())
	}
	zone := func() uint16 { return poolZone[r.IntN(len(poolZone))] }
	switch r.IntN(5) { // the kernel's zone is for both directions or one
	case 1:
		e.Zone, e.Fields = zone(), e.Fields|model.FieldZone
	case 2:
		e.Orig.Zone, e.Fields = zone(), e.Fields|model.FieldOrigZone
	case 3:
		e.Reply.Zone, e.Fields = zone(), e.Fields|model.FieldReplyZone
	}
	if r.IntN(2) == 0 {
		e.Mark, e.Fields = poolMark[r.IntN(len(poolMark))], e.Fields|model.FieldMark
		if r.IntN(4) == 0 {
			e.Mark = r.Uint32()
		}
	}
	for i, p := range stateProtos {
		if p == e.Proto && r.IntN(3) > 0 {
			e.State, e.Fields = model.State(r.IntN(12)), e.Fields|model.FieldState
			if i > 0 && r.IntN(2) == 0 {
				e.State = model.State(r.IntN(256))
			}
		}
	}
	return ev
}

// randomSpec returns a random filter spec of the pools' values.
func randomSpec(r *rand.Rand) Spec {
	pick := func(n int, item func() string) string {
		if r.IntN(3) > 0 {
			return ""
		}
		k := 1 + r.IntN(n)
		items := make([]string, k)
		for i := range items {
			items[i] = item()
		}
		return strings.Join(items, ",")
	}
	prefix := func() string {
		pool, max := pool4, 32
		if r.IntN(2) == 0 {
			pool, max = pool6, 128
		}
		a := pool[r.IntN(len(pool))]
		if r.IntN(3) == 0 {
			return a
		}
		return a + "/" + strconv.Itoa(r.IntN(max+1))
	}
	ports := func() string {
		a := poolPort[r.IntN(len(poolPort))]
		if r.IntN(2) == 0 {
			return strconv.Itoa(int(a))
		}
		b := a + uint16(r.IntN(3000))
		if b < a {
			b = 65535
		}
		return strconv.Itoa(int(a)) + "-" + strconv.Itoa(int(b))
	}
	var s Spec
	s.Family = pick(2, func() string { return []string{"ipv4", "ipv6"}[r.IntN(2)] })
	s.Proto = pick(3, func() string { return strconv.Itoa(int(poolProto[r.IntN(len(poolProto))])) })
	s.Src = pick(4, prefix)
	s.Dst = pick(4, prefix)
	s.Port = pick(3, ports)
	s.SPort = pick(3, ports)
	s.DPort = pick(3, ports)
	s.State = pick(3, func() string {
		if r.IntN(3) == 0 {
			return strconv.Itoa(r.IntN(12))
		}
		return []string{"ESTABLISHED", "SYN_SENT", "CLOSE", "TIME_WAIT", "COOKIE_WAIT", "REQUEST", "NONE"}[r.IntN(7)]
	})
	s.Status = pick(3, func() string {
		n := []string{"unreplied", "replied", "assured", "confirmed", "dst_nat", "src_nat", "offload", "hw_offload", "dying"}[r.IntN(9)]
		if r.IntN(3) == 0 {
			return "!" + n
		}
		return n
	})
	s.Zone = pick(3, func() string { return strconv.Itoa(int(poolZone[r.IntN(len(poolZone))])) })
	s.Mark = pick(3, func() string {
		v := poolMark[r.IntN(len(poolMark))]
		if r.IntN(2) == 0 {
			return "0x" + strconv.FormatUint(uint64(v), 16)
		}
		m := poolMark[r.IntN(len(poolMark))]
		return "0x" + strconv.FormatUint(uint64(v&m), 16) + "/0x" + strconv.FormatUint(uint64(m), 16)
	})
	return s
}
