package events

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// DecodeFast decodes the ctnetlink event message at the start of msg (its
// struct nlmsghdr included, as read from the socket) into ev, overwriting
// it (the backing array of ev.Entry.Labels is reused). IPCTNL_MSG_CT_NEW
// with NLM_F_CREATE or NLM_F_EXCL is an EventNew, without them an
// EventUpdate; IPCTNL_MSG_CT_DELETE is an EventDestroy. Bytes after the
// message's nlmsg_len (its padding, or the datagram's next messages) are
// ignored. On error, ev's contents are unspecified.
//
// ev.Time is the kernel's event timestamp (CTA_TIMESTAMP_EVENT, Linux 6.14
// with nf_conntrack_timestamp=1) when the message carries one, and zero
// otherwise, for the caller to fill with its receive time. ev.Origin.PortID
// is the netlink header's port id: non-zero when a userspace program's
// request caused the event. Entry.DeltaTime is left unset: it depends on
// the time of whoever prints it (internal/record sets it for the text form).
//
// DecodeFast walks the attributes itself, straight from msg, where
// ti-mo/conntrack builds a Flow through netlink.AttributeDecoder (38 heap
// allocations per event): it allocates nothing, except for a helper or
// security context name not seen before and labels past bit 127 (which
// the kernel does not send). It
// accepts and rejects what ti-mo does (FuzzDecodeDifferential holds it to
// the reference decoder of the package's tests, built on ti-mo), except
// where ti-mo is wrong about what the kernel sends:
// DecodeFast skips the pad attributes the kernel emits before 64-bit values
// on architectures without efficient unaligned access (CTA_TIMESTAMP_PAD,
// CTA_PROTOINFO_DCCP_PAD, and the empty CTA_STATUS that CTA_TIMESTAMP_EVENT's
// padding amounts to at the top level), reads the old 32-bit counters, and
// rejects what the kernel's own parser rejects: attributes shorter than
// their header (ti-mo takes a zero length for an empty attribute) and
// types past 255 that ti-mo truncates into known ones.
//
// It also departs from ti-mo where a newer kernel may send what ti-mo does
// not know: like libnetfilter_conntrack, DecodeFast skips attributes of
// unknown types inside nests as it does at the top level, where ti-mo
// refuses them, so that a kernel adding one more attribute to a nest (as
// SCTP's vtags, TCP's window scales and flags, and the 64-bit pads were
// added) does not make every event fail to decode. Only the types are
// forgiven: attributes must still fit their nest, an attribute of a known
// type must have its size, and a nest must hold ti-mo's minimum number of
// children, counting only those of known types.
//
// Errors wrap ErrNotConntrack (not an entry event), ErrTruncated (the
// headers do not fit) or ErrMalformed (the attributes do not decode; an
// attribute running past its nest also wraps ErrTruncated).
func DecodeFast(msg []byte, ev *model.Event) error {
	return decodeFast(msg, ev, nil)
}

// decodeFast is DecodeFast writing labels by the names of names: a bit's
// name, or its number where names has none (nil names none).
func decodeFast(msg []byte, ev *model.Event, names *model.LabelNames) error {
	l, err := messageLen(msg, "conntrack")
	if err != nil {
		return err
	}
	typ, err := rawEventType(ctnl.HeaderType(binary.NativeEndian.Uint16(msg[4:])), ctnl.Flags(binary.NativeEndian.Uint16(msg[6:])))
	if err != nil {
		return err
	}
	data, err := messagePayload(msg, l, "conntrack")
	if err != nil {
		return err
	}
	labels := ev.Entry.Labels[:0]
	*ev = model.Event{Type: typ, Origin: model.Origin{PortID: binary.NativeEndian.Uint32(msg[12:])}}
	ev.Entry.Labels = labels
	if err := decodeAttrs(data[ctnl.NFGenMsgLen:], ev, names); err != nil {
		return fmt.Errorf("decode conntrack message: %w", err)
	}
	// As ti-mo: the family of the original source address, unless the
	// nfgenmsg header names one.
	ev.Entry.Family = messageFamily(data[0], ev.Entry.Orig.Src)
	return nil
}

// messageLen checks the netlink header at the start of msg, a message of
// what ("conntrack", "expectation") as read from the socket, and returns
// its nlmsg_len: at least a header long and within msg.
func messageLen(msg []byte, what string) (uint32, error) {
	if len(msg) < ctnl.NLMsgHdrLen {
		return 0, fmt.Errorf("decode %s message: netlink header of %d bytes: %w", what, len(msg), ErrTruncated)
	}
	l := binary.NativeEndian.Uint32(msg)
	if l < ctnl.NLMsgHdrLen || uint64(l) > uint64(len(msg)) {
		return 0, fmt.Errorf("decode %s message: netlink message length %d of %d bytes: %w", what, l, len(msg), ErrTruncated)
	}
	return l, nil
}

// messagePayload returns the payload of the message of length l (from
// messageLen) at the start of msg: struct nfgenmsg, which it must hold,
// and the attributes.
func messagePayload(msg []byte, l uint32, what string) ([]byte, error) {
	data := msg[ctnl.NLMsgHdrLen:l]
	if len(data) < ctnl.NFGenMsgLen {
		return nil, fmt.Errorf("decode %s message: %d bytes: %w", what, len(data), ErrTruncated)
	}
	return data, nil
}

// messageFamily returns the family of a conntrack or expectation message,
// as ti-mo takes it: the nfgenmsg header's, unless it is 0, and otherwise
// that of src, the first tuple's source address (0 when src is none).
func messageFamily(nfgen uint8, src netip.Addr) model.Family {
	switch {
	case nfgen != 0:
		return model.Family(nfgen)
	case src.Is4():
		return model.FamilyIPv4
	case src.Is6():
		return model.FamilyIPv6
	}
	return 0
}

// rawEventType is eventType for the raw header's type and flags.
func rawEventType(ht ctnl.HeaderType, flags ctnl.Flags) (model.EventType, error) {
	if ht.Subsys() == ctnl.NFNLSubsysCTNetlink {
		switch ht.Msg() {
		case ctnl.IPCTNLMsgCtNew:
			if flags&(ctnl.NLMFCreate|ctnl.NLMFExcl) != 0 {
				return model.EventNew, nil
			}
			return model.EventUpdate, nil
		case ctnl.IPCTNLMsgCtDelete:
			return model.EventDestroy, nil
		}
	}
	return model.EventUnknown, fmt.Errorf("message type %#04x: %w", ht, ErrNotConntrack)
}

// attrError says why ctnl.NextAttr refused b.
func attrError(b []byte) error {
	return fmt.Errorf("%w: %w", ErrMalformed, ctnl.AttrError(b))
}

// malformed is the error of an attribute that does not decode.
func malformed(where string, typ ctnl.AttrType, why string) error {
	return fmt.Errorf("%s attribute %d: %s: %w", where, typ, why, ErrMalformed)
}

// wrongLen is the error of an attribute whose payload has the wrong size.
func wrongLen(where string, typ ctnl.AttrType, n int) error {
	return fmt.Errorf("%s attribute %d: payload of %d bytes: %w", where, typ, n, ErrMalformed)
}

// decodeAttrs decodes the attributes after struct nfgenmsg into ev, whose
// Type and Origin are set and Entry is zero but for Labels' backing array.
//
// The grammar is ti-mo/conntrack's (Flow.unmarshal), so that DecodeFast
// fails where ti-mo does: top-level nests must carry NLA_F_NESTED, scalars
// of known types must have their exact size, and the minimum child counts
// of each nest are ti-mo's. Unlike ti-mo, it skips attributes of unknown
// types at every level, not only the top one (a newer kernel's), and
// leaves them out of the child counts. Presence bits are those the
// reference decoder's
// scanAttributes sets.
func decodeAttrs(b []byte, ev *model.Event, names *model.LabelNames) error {
	e := &ev.Entry
	var present model.Field
	var protoinfo bool
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return attrError(b)
		}
		b = rest
		typ := raw & ctnl.NLATypeMask
		switch typ {
		case ctnl.CTATupleOrig, ctnl.CTATupleReply, ctnl.CTATupleMaster, ctnl.CTAProtoinfo, ctnl.CTAHelp,
			ctnl.CTACountersOrig, ctnl.CTACountersReply, ctnl.CTASecctx, ctnl.CTATimestamp,
			ctnl.CTASeqAdjOrig, ctnl.CTASeqAdjReply, ctnl.CTASynproxy:
			if raw&ctnl.NLAFNested == 0 {
				return malformed("top-level", typ, "nest without NLA_F_NESTED")
			}
		}
		switch typ {
		case ctnl.CTATupleOrig:
			var p uint8
			zone, setProto, err := decodeTuple(v, &e.Orig, &p)
			if err != nil {
				return err
			}
			if setProto {
				e.Proto = model.Proto(p)
			}
			if zone {
				present |= model.FieldOrigZone
			}
		case ctnl.CTATupleReply:
			var p uint8
			zone, _, err := decodeTuple(v, &e.Reply, &p)
			if err != nil {
				return err
			}
			if zone {
				present |= model.FieldReplyZone
			}
		case ctnl.CTATupleMaster:
			var p uint8
			_, setProto, err := decodeTuple(v, &e.Master, &p)
			if err != nil {
				return err
			}
			if setProto {
				e.MasterProto = model.Proto(p)
			}
			present |= model.FieldMaster
		case ctnl.CTAStatus:
			switch len(v) {
			case 4:
				e.Status = model.Status(binary.BigEndian.Uint32(v))
			case 0:
				// The pad that nla_put_be64 puts before CTA_TIMESTAMP_EVENT
				// where 64-bit values must be aligned: its pad type,
				// CTA_TIMESTAMP_PAD, is CTA_STATUS at the top level.
			default:
				return wrongLen("top-level", typ, len(v))
			}
		case ctnl.CTAProtoinfo:
			// ti-mo refuses a second CTA_PROTOINFO.
			if protoinfo {
				return malformed("top-level", typ, "repeated")
			}
			protoinfo = true
			got, err := decodeProtoinfo(v, e)
			if err != nil {
				return err
			}
			present |= got
		case ctnl.CTAHelp:
			ok, err := decodeHelp(v, &e.Helper)
			if err != nil {
				return err
			}
			if ok {
				present |= model.FieldHelper
			}
		case ctnl.CTATimeout:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Timeout = binary.BigEndian.Uint32(v)
			present |= model.FieldTimeout
		case ctnl.CTAMark:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Mark = binary.BigEndian.Uint32(v)
			present |= model.FieldMark
		case ctnl.CTACountersOrig:
			if err := decodeCounters(v, &e.Orig); err != nil {
				return err
			}
			present |= model.FieldOrigCounters
		case ctnl.CTACountersReply:
			if err := decodeCounters(v, &e.Reply); err != nil {
				return err
			}
			present |= model.FieldReplyCounters
		case ctnl.CTAUse:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Use = binary.BigEndian.Uint32(v)
			present |= model.FieldUse
		case ctnl.CTAID:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.ID = binary.BigEndian.Uint32(v)
			present |= model.FieldID
		case ctnl.CTASeqAdjOrig, ctnl.CTASeqAdjReply, ctnl.CTASynproxy:
			// Three optional u32 children each; checked, not kept.
			if err := checkU32Nest(v, typ); err != nil {
				return err
			}
		case ctnl.CTASecmark:
			// ti-mo ignores it; it is kept only with its size.
			if len(v) == 4 {
				e.Secmark = binary.BigEndian.Uint32(v)
				present |= model.FieldSecmark
			}
		case ctnl.CTAZone:
			if len(v) != 2 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Zone = binary.BigEndian.Uint16(v)
			present |= model.FieldZone
		case ctnl.CTASecctx:
			if err := decodeSecctx(v, &e.Secctx); err != nil {
				return err
			}
			present |= model.FieldSecctx
		case ctnl.CTATimestamp:
			f, err := decodeTimestamp(v, e)
			if err != nil {
				return err
			}
			present |= f
		case ctnl.CTALabels:
			e.Labels = appendLabels(e.Labels[:0], v, names)
			present |= model.FieldLabels
		case ctnl.CTATimestampEvent:
			if len(v) == 8 {
				ev.Time = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
			}
		}
	}
	e.Fields = present
	return nil
}

// decodeTuple decodes a CTA_TUPLE_ORIG, _REPLY or _MASTER nest into t and
// *proto. As in ti-mo, a CTA_TUPLE_IP or CTA_TUPLE_PROTO child replaces all
// of t's addresses or protocol values (a repeated tuple attribute only
// overrides what it carries). It reports whether the nest held a zone and a
// protocol nest.
func decodeTuple(b []byte, t *model.Tuple, proto *uint8) (zone, hasProto bool, err error) {
	n := 0 // known children
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return false, false, fmt.Errorf("tuple: %w", attrError(b))
		}
		b = rest
		switch typ := raw & ctnl.NLATypeMask; typ {
		case ctnl.CTATupleIP:
			if t.Src, t.Dst, err = decodeIP(v); err != nil {
				return false, false, err
			}
		case ctnl.CTATupleProto:
			t.SrcPort, t.DstPort, t.ICMPType, t.ICMPCode, t.ICMPID = 0, 0, 0, 0, 0
			*proto = 0
			if err := decodeProto(v, t, proto); err != nil {
				return false, false, err
			}
			hasProto = true
		case ctnl.CTATupleZone:
			if len(v) != 2 {
				return false, false, wrongLen("tuple", typ, len(v))
			}
			t.Zone = binary.BigEndian.Uint16(v)
			zone = true
		default:
			continue // unknown, skipped
		}
		n++
	}
	if n < 2 {
		return false, false, fmt.Errorf("tuple of %d known attributes: %w", n, ErrMalformed)
	}
	return zone, hasProto, nil
}

// decodeIP decodes a CTA_TUPLE_IP nest: exactly two addresses (and any
// number of attributes of unknown types). Like ti-mo, it takes the
// address's family from its size, not from its attribute type.
func decodeIP(b []byte) (src, dst netip.Addr, err error) {
	n := 0 // addresses
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return src, dst, fmt.Errorf("tuple ip: %w", attrError(b))
		}
		b = rest
		typ := raw & ctnl.NLATypeMask
		switch typ {
		case ctnl.CTAIPV4Src, ctnl.CTAIPV4Dst, ctnl.CTAIPV6Src, ctnl.CTAIPV6Dst:
		default:
			continue // unknown, skipped
		}
		n++
		var a netip.Addr
		switch len(v) {
		case 4:
			a = netip.AddrFrom4([4]byte(v))
		case 16:
			a = netip.AddrFrom16([16]byte(v))
		default:
			return src, dst, wrongLen("tuple ip", typ, len(v))
		}
		if typ == ctnl.CTAIPV4Src || typ == ctnl.CTAIPV6Src {
			src = a
		} else {
			dst = a
		}
	}
	if n != 2 {
		return src, dst, fmt.Errorf("tuple ip of %d addresses: %w", n, ErrMalformed)
	}
	return src, dst, nil
}

// decodeProto decodes a CTA_TUPLE_PROTO nest into t and *proto: one known
// attribute at least.
func decodeProto(b []byte, t *model.Tuple, proto *uint8) error {
	n := 0 // known children
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return fmt.Errorf("tuple proto: %w", attrError(b))
		}
		b = rest
		switch typ := raw & ctnl.NLATypeMask; typ {
		case ctnl.CTAProtoNum, ctnl.CTAProtoICMPType, ctnl.CTAProtoICMPCode, ctnl.CTAProtoICMPV6Type, ctnl.CTAProtoICMPV6Code:
			if len(v) != 1 {
				return wrongLen("tuple proto", typ, len(v))
			}
			switch typ {
			case ctnl.CTAProtoNum:
				*proto = v[0]
			case ctnl.CTAProtoICMPType, ctnl.CTAProtoICMPV6Type:
				t.ICMPType = v[0]
			default:
				t.ICMPCode = v[0]
			}
		case ctnl.CTAProtoSrcPort, ctnl.CTAProtoDstPort, ctnl.CTAProtoICMPID, ctnl.CTAProtoICMPV6ID:
			if len(v) != 2 {
				return wrongLen("tuple proto", typ, len(v))
			}
			switch x := binary.BigEndian.Uint16(v); typ {
			case ctnl.CTAProtoSrcPort:
				t.SrcPort = x
			case ctnl.CTAProtoDstPort:
				t.DstPort = x
			default:
				t.ICMPID = x
			}
		default:
			continue // unknown, skipped
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("empty tuple proto: %w", ErrMalformed)
	}
	return nil
}

// decodeProtoinfo decodes a CTA_PROTOINFO nest: exactly one protocol nest
// of a known protocol (TCP, DCCP or SCTP), which must hold one known
// attribute at least. It sets e's state, SCTP vtags and DCCP role from the
// attributes present, and returns their presence bits.
func decodeProtoinfo(b []byte, e *model.Entry) (model.Field, error) {
	var typ ctnl.AttrType
	var v []byte
	n := 0 // known protocols
	for len(b) > 0 {
		raw, cv, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return 0, fmt.Errorf("protoinfo: %w", attrError(b))
		}
		b = rest
		switch t := raw & ctnl.NLATypeMask; t {
		case ctnl.CTAProtoinfoTCP, ctnl.CTAProtoinfoDCCP, ctnl.CTAProtoinfoSCTP:
			typ, v = t, cv
			n++
		}
	}
	if n != 1 {
		return 0, fmt.Errorf("protoinfo of %d known protocols: %w", n, ErrMalformed)
	}
	var present model.Field
	n = 0 // known children of the protocol's nest
	for b := v; len(b) > 0; {
		craw, cv, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return 0, fmt.Errorf("protoinfo %d: %w", typ, attrError(b))
		}
		b = rest
		ctyp := craw & ctnl.NLATypeMask
		size := 0
		switch {
		// The state is 1 in all three protocols' enums.
		case ctyp == ctnl.CTAProtoinfoTCPState:
			size = 1
		case typ == ctnl.CTAProtoinfoTCP && (ctyp == ctnl.CTAProtoinfoTCPWscaleOriginal || ctyp == ctnl.CTAProtoinfoTCPWscaleReply):
			size = 1
		case typ == ctnl.CTAProtoinfoTCP && (ctyp == ctnl.CTAProtoinfoTCPFlagsOriginal || ctyp == ctnl.CTAProtoinfoTCPFlagsReply):
			size = 2 // struct nf_ct_tcp_flags
		case typ == ctnl.CTAProtoinfoDCCP && ctyp == ctnl.CTAProtoinfoDCCPRole:
			size = 1
		case typ == ctnl.CTAProtoinfoDCCP && ctyp == ctnl.CTAProtoinfoDCCPHandshakeSeq:
			size = 8
		case typ == ctnl.CTAProtoinfoDCCP && ctyp == ctnl.CTAProtoinfoDCCPPad:
			continue // alignment before the handshake sequence
		case typ == ctnl.CTAProtoinfoSCTP && (ctyp == ctnl.CTAProtoinfoSCTPVtagOriginal || ctyp == ctnl.CTAProtoinfoSCTPVtagReply):
			size = 4
		default:
			continue // unknown, skipped
		}
		if len(cv) != size {
			return 0, wrongLen("protoinfo", ctyp, len(cv))
		}
		n++
		switch {
		case ctyp == ctnl.CTAProtoinfoTCPState:
			e.State = model.State(cv[0])
			present |= model.FieldState
		case typ == ctnl.CTAProtoinfoDCCP && ctyp == ctnl.CTAProtoinfoDCCPRole:
			e.DCCPRole = model.DCCPRole(cv[0])
			present |= model.FieldDCCPRole
		case typ == ctnl.CTAProtoinfoSCTP && ctyp == ctnl.CTAProtoinfoSCTPVtagOriginal:
			e.OrigVtag = binary.BigEndian.Uint32(cv)
			present |= model.FieldOrigVtag
		case typ == ctnl.CTAProtoinfoSCTP && ctyp == ctnl.CTAProtoinfoSCTPVtagReply:
			e.ReplyVtag = binary.BigEndian.Uint32(cv)
			present |= model.FieldReplyVtag
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("empty protoinfo %d: %w", typ, ErrMalformed)
	}
	return present, nil
}

// decodeHelp decodes a CTA_HELP nest into *name, and reports whether it
// named a helper. Unlike ti-mo's other nests, an empty one is valid.
func decodeHelp(b []byte, name *string) (ok bool, err error) {
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return false, fmt.Errorf("help: %w", attrError(b))
		}
		b = rest
		// CTA_HELP_INFO is not kept; unknown types are skipped.
		if raw&ctnl.NLATypeMask == ctnl.CTAHelpName {
			*name = helperNames.get(trimNULBytes(v))
			ok = true
		}
	}
	return ok, nil
}

// decodeCounters decodes a CTA_COUNTERS_ORIG or _REPLY nest into t: at least
// two known attributes (ti-mo counts the pad). The 32-bit forms are the old
// ones the uapi header keeps as "unused"; ti-mo refuses them.
func decodeCounters(b []byte, t *model.Tuple) error {
	n := 0 // known children
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return fmt.Errorf("counters: %w", attrError(b))
		}
		b = rest
		switch typ := raw & ctnl.NLATypeMask; typ {
		case ctnl.CTACountersPackets, ctnl.CTACountersBytes:
			if len(v) != 8 {
				return wrongLen("counters", typ, len(v))
			}
			if typ == ctnl.CTACountersPackets {
				t.Packets = binary.BigEndian.Uint64(v)
			} else {
				t.Bytes = binary.BigEndian.Uint64(v)
			}
		case ctnl.CTACounters32Packets, ctnl.CTACounters32Bytes:
			if len(v) != 4 {
				return wrongLen("counters", typ, len(v))
			}
			if typ == ctnl.CTACounters32Packets {
				t.Packets = uint64(binary.BigEndian.Uint32(v))
			} else {
				t.Bytes = uint64(binary.BigEndian.Uint32(v))
			}
		case ctnl.CTACountersPad:
		default:
			continue // unknown, skipped
		}
		n++
	}
	if n < 2 {
		return fmt.Errorf("counters of %d known attributes: %w", n, ErrMalformed)
	}
	return nil
}

// decodeSecctx decodes a CTA_SECCTX nest into *name: one or more names, the
// last of which counts, without its C terminator.
func decodeSecctx(b []byte, name *string) error {
	n := 0 // names
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return fmt.Errorf("secctx: %w", attrError(b))
		}
		b = rest
		if raw&ctnl.NLATypeMask != ctnl.CTASecctxName {
			continue // unknown, skipped
		}
		*name = secctxNames.get(trimNULBytes(v))
		n++
	}
	if n == 0 {
		return fmt.Errorf("empty secctx: %w", ErrMalformed)
	}
	return nil
}

// decodeTimestamp decodes a CTA_TIMESTAMP nest into e's Start and Stop, and
// returns their presence bits.
func decodeTimestamp(b []byte, e *model.Entry) (model.Field, error) {
	var f model.Field
	n := 0 // start and stop times
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return 0, fmt.Errorf("timestamp: %w", attrError(b))
		}
		b = rest
		typ := raw & ctnl.NLATypeMask
		if typ != ctnl.CTATimestampStart && typ != ctnl.CTATimestampStop {
			// CTA_TIMESTAMP_PAD (alignment before a 64-bit value) or
			// unknown, skipped.
			continue
		}
		if len(v) != 8 {
			return 0, wrongLen("timestamp", typ, len(v))
		}
		n++
		t := time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		if typ == ctnl.CTATimestampStart {
			e.Start, f = t, f|model.FieldStart
		} else {
			e.Stop, f = t, f|model.FieldStop
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("empty timestamp: %w", ErrMalformed)
	}
	return f, nil
}

// checkU32Nest checks a nest of u32 attributes numbered 1 to 3, one of
// them at least: CTA_SEQ_ADJ_ORIG and _REPLY, CTA_SYNPROXY.
func checkU32Nest(b []byte, typ ctnl.AttrType) error {
	n := 0 // known children
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return fmt.Errorf("nest %d: %w", typ, attrError(b))
		}
		b = rest
		ctyp := raw & ctnl.NLATypeMask
		if ctyp < 1 || ctyp > 3 {
			continue // unknown, skipped
		}
		if len(v) != 4 {
			return wrongLen("nest", ctyp, len(v))
		}
		n++
	}
	if n == 0 {
		return malformed("top-level", typ, "empty nest")
	}
	return nil
}

// trimNULBytes returns b without its C terminators.
func trimNULBytes(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// The names of the helpers in the kernel tree (their struct
// nf_conntrack_helper's name), so that even the first event of an entry
// with a helper does not allocate.
var helperNames = newInterner(64, "ftp", "irc", "tftp", "amanda", "sip", "sane", "pptp",
	"snmp", "snmp_trap", "netbios-ns", "RAS", "Q.931", "H.245")

// Security contexts are few on a host (one per SELinux type of the
// processes and packets it labels).
var secctxNames = newInterner(64)

// interner hands out one string per distinct name, so that decoding a name
// seen before does not allocate. It holds at most limit names; past that,
// new names are allocated each time. Reading is a lock-free map lookup;
// adding a name copies the map, which is rare by design.
type interner struct {
	m     atomic.Pointer[map[string]string]
	limit int
}

func newInterner(limit int, names ...string) *interner {
	in := &interner{limit: limit}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	in.m.Store(&m)
	return in
}

// get returns b as a string, interned if there is room.
func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	// The compiler does not allocate for a conversion used as a map key.
	if s, ok := (*in.m.Load())[string(b)]; ok {
		return s
	}
	s := string(b)
	for {
		old := in.m.Load()
		if len(*old) >= in.limit {
			return s
		}
		if t, ok := (*old)[s]; ok {
			return t
		}
		m := make(map[string]string, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
		m[s] = s
		if in.m.CompareAndSwap(old, &m) {
			return s
		}
	}
}

// appendLabels appends the labels of the bits set in the CTA_LABELS bit
// field b, in increasing order, as names.Label gives them: a bit's name, or
// its number in decimal. The kernel sends its array of unsigned longs as
// they are in memory; like libnetfilter_conntrack, bits are read from
// 32-bit words in host byte order, which is the kernel's layout on every
// little-endian host.
func appendLabels(dst []string, b []byte, names *model.LabelNames) []string {
	for w := 0; w+4 <= len(b); w += 4 {
		v := binary.NativeEndian.Uint32(b[w:])
		for v != 0 {
			dst = append(dst, names.Label(w*8+bits.TrailingZeros32(v)))
			v &= v - 1
		}
	}
	return dst
}
