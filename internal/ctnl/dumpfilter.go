package ctnl

import (
	"encoding/binary"
	"net/netip"
)

// DumpFilter is what a table dump (IPCTNL_MSG_CT_GET with NLM_F_DUMP) asks
// the kernel to filter on: the attributes ctnetlink_alloc_filter reads, and
// the family of struct nfgenmsg. The kernel lists an entry when it passes
// every part that is set (ctnetlink_filter_match); the zero DumpFilter
// lists every entry.
type DumpFilter struct {
	// Family lists only entries of this address family (nfgenmsg's
	// nfgen_family); 0 (AF_UNSPEC) lists both. A tuple filter needs one:
	// the kernel refuses CTA_FILTER without it (EOPNOTSUPP).
	Family uint8
	// MarkMask, when not 0, lists entries whose mark ANDed with MarkMask
	// is Mark&MarkMask (CTA_MARK, CTA_MARK_MASK).
	Mark, MarkMask uint32
	// StatusMask, when not 0, lists entries whose status ANDed with
	// StatusMask is Status&StatusMask (CTA_STATUS, CTA_STATUS_MASK; older
	// kernels ignore them). The kernel refuses a mask of 0.
	Status, StatusMask Status
	// HasZone lists only entries whose zone id is Zone, whichever
	// directions the zone applies to (CTA_ZONE, nf_ct_zone_equal_any).
	// Older kernels ignore it in a dump, and some take zone 0 for no
	// filter.
	Zone    uint16
	HasZone bool
	// Orig and Reply compare values of the original and reply tuples
	// exactly (CTA_TUPLE_ORIG, CTA_TUPLE_REPLY and CTA_FILTER).
	Orig, Reply TupleFilter
}

// TupleFilter is one direction's values, of which Flags say which count:
// FilterIPSrc, FilterIPDst, FilterProtoNum, FilterProtoSrcPort and
// FilterProtoDstPort. The kernel compares ports of TCP and UDP entries
// only, and needs FilterProtoNum for ports. It compares IPv6 addresses
// inverted (through Linux 6.18 at least: an entry is skipped when its
// address equals the filter's), which events.DumpFilter keeps callers
// from asking for.
type TupleFilter struct {
	Flags    FilterFlags
	Src, Dst netip.Addr
	Proto    uint8
	SrcPort  uint16
	DstPort  uint16
}

// AppendDumpRequest appends the payload of a dump request for the entries
// f selects: struct nfgenmsg, then f's attributes. The filter is not
// checked: a tuple filter without a family, ports without a protocol or an
// address of the other family is the caller's error, and the kernel's
// EINVAL or EOPNOTSUPP.
func AppendDumpRequest(b []byte, f *DumpFilter) []byte {
	b = append(b, f.Family, NFNetlinkV0, 0, 0)
	if f.MarkMask != 0 {
		b = AppendU32(b, CTAMark, f.Mark&f.MarkMask)
		b = AppendU32(b, CTAMarkMask, f.MarkMask)
	}
	if f.StatusMask != 0 {
		b = AppendU32(b, CTAStatus, uint32(f.Status&f.StatusMask))
		b = AppendU32(b, CTAStatusMask, uint32(f.StatusMask))
	}
	if f.HasZone {
		b = AppendU16(b, CTAZone, f.Zone)
	}
	if f.Orig.Flags == 0 && f.Reply.Flags == 0 {
		return b
	}
	if f.Orig.Flags != 0 {
		b = appendTupleFilter(b, CTATupleOrig, &f.Orig)
	}
	if f.Reply.Flags != 0 {
		b = appendTupleFilter(b, CTATupleReply, &f.Reply)
	}
	b, at := BeginNest(b, CTAFilter)
	// NLA_U32, read with nla_get_u32: host byte order, unlike the
	// big-endian values of ctnetlink.
	if f.Orig.Flags != 0 {
		b = appendHostU32(b, CTAFilterOrigFlags, uint32(f.Orig.Flags))
	}
	if f.Reply.Flags != 0 {
		b = appendHostU32(b, CTAFilterReplyFlags, uint32(f.Reply.Flags))
	}
	return EndNest(b, at)
}

// appendTupleFilter appends a CTA_TUPLE_ORIG or _REPLY nest holding the
// values t.Flags names.
func appendTupleFilter(b []byte, typ AttrType, t *TupleFilter) []byte {
	b, tup := BeginNest(b, typ)
	if t.Flags&(FilterIPSrc|FilterIPDst) != 0 {
		var ip int
		b, ip = BeginNest(b, CTATupleIP)
		if t.Flags&FilterIPSrc != 0 {
			b = appendAddr(b, CTAIPV4Src, CTAIPV6Src, t.Src)
		}
		if t.Flags&FilterIPDst != 0 {
			b = appendAddr(b, CTAIPV4Dst, CTAIPV6Dst, t.Dst)
		}
		b = EndNest(b, ip)
	}
	if t.Flags&FilterProtoNum != 0 {
		var proto int
		b, proto = BeginNest(b, CTATupleProto)
		b = AppendU8(b, CTAProtoNum, t.Proto)
		if t.Flags&FilterProtoSrcPort != 0 {
			b = AppendU16(b, CTAProtoSrcPort, t.SrcPort)
		}
		if t.Flags&FilterProtoDstPort != 0 {
			b = AppendU16(b, CTAProtoDstPort, t.DstPort)
		}
		b = EndNest(b, proto)
	}
	return EndNest(b, tup)
}

// appendAddr appends a as an attribute of type v4 or v6, by its size.
func appendAddr(b []byte, v4, v6 AttrType, a netip.Addr) []byte {
	if a.Is4() {
		a4 := a.As4()
		return AppendAttr(b, v4, a4[:])
	}
	a16 := a.As16()
	return AppendAttr(b, v6, a16[:])
}

// appendHostU32 appends an attribute of type t holding v in host byte
// order.
func appendHostU32(b []byte, t AttrType, v uint32) []byte {
	b = appendAttrHeader(b, t, 4)
	return binary.NativeEndian.AppendUint32(b, v)
}
