package events

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// The ctnetlink attributes DecodeFast reads beyond those Decode names, from
// include/uapi/linux/netfilter/nfnetlink_conntrack.h.
const (
	ctaStatus      = 3  // CTA_STATUS
	ctaTupleMaster = 14 // CTA_TUPLE_MASTER
	ctaSeqAdjOrig  = 15 // CTA_SEQ_ADJ_ORIG
	ctaSeqAdjReply = 16 // CTA_SEQ_ADJ_REPLY
	ctaSynProxy    = 24 // CTA_SYNPROXY

	// enum ctattr_tuple
	ctaTupleIP    = 1
	ctaTupleProto = 2

	// enum ctattr_ip
	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	// enum ctattr_l4proto
	ctaProtoNum        = 1
	ctaProtoSrcPort    = 2
	ctaProtoDstPort    = 3
	ctaProtoICMPID     = 4
	ctaProtoICMPType   = 5
	ctaProtoICMPCode   = 6
	ctaProtoICMPv6ID   = 7
	ctaProtoICMPv6Type = 8
	ctaProtoICMPv6Code = 9

	// enum ctattr_protoinfo
	ctaProtoinfoTCP  = 1
	ctaProtoinfoDCCP = 2
	ctaProtoinfoSCTP = 3

	// enum ctattr_protoinfo_tcp (1 is the state)
	ctaProtoinfoTCPWscaleOrig = 2
	ctaProtoinfoTCPWscaleRepl = 3
	ctaProtoinfoTCPFlagsOrig  = 4
	ctaProtoinfoTCPFlagsRepl  = 5

	// enum ctattr_protoinfo_dccp (1 is the state)
	ctaProtoinfoDCCPRole         = 2
	ctaProtoinfoDCCPHandshakeSeq = 3
	ctaProtoinfoDCCPPad          = 4

	// enum ctattr_protoinfo_sctp (1 is the state)
	ctaProtoinfoSCTPVtagOrig = 2
	ctaProtoinfoSCTPVtagRepl = 3

	ctaHelpInfo = 2 // CTA_HELP_INFO

	// enum ctattr_counters
	ctaCountersPackets   = 1
	ctaCountersBytes     = 2
	ctaCounters32Packets = 3
	ctaCounters32Bytes   = 4
	ctaCountersPad       = 5

	ctaTimestampPad = 3 // CTA_TIMESTAMP_PAD

	// nlaFNested is NLA_F_NESTED, which the kernel sets on every nest.
	nlaFNested = 0x8000
)

// DecodeFast decodes the ctnetlink event message at the start of msg (its
// struct nlmsghdr included, as read from the socket) into ev, overwriting it
// as Decode does (the backing array of ev.Entry.Labels is reused), with the
// same result: same event type, entry, presence bits, event time and
// origin port id. Bytes after the message's nlmsg_len (its padding, or the
// datagram's next messages) are ignored. On error, ev's contents are
// unspecified.
//
// DecodeFast walks the attributes itself, straight from msg, where Decode
// builds ti-mo/conntrack's Flow through netlink.AttributeDecoder (38 heap
// allocations per event): it allocates nothing, except for a helper or
// security context name not seen before and labels past bit 127. It
// accepts and rejects what Decode does (FuzzDecodeDifferential holds the
// two to that), except where ti-mo is wrong about what the kernel sends:
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
	if len(msg) < nlmsghdrLen {
		return fmt.Errorf("decode conntrack message: netlink header of %d bytes: %w", len(msg), ErrTruncated)
	}
	l := binary.NativeEndian.Uint32(msg)
	if l < nlmsghdrLen || uint64(l) > uint64(len(msg)) {
		return fmt.Errorf("decode conntrack message: netlink message length %d of %d bytes: %w", l, len(msg), ErrTruncated)
	}
	typ, err := rawEventType(binary.NativeEndian.Uint16(msg[4:]), binary.NativeEndian.Uint16(msg[6:]))
	if err != nil {
		return err
	}
	data := msg[nlmsghdrLen:l]
	if len(data) < nfgenmsgLen {
		return fmt.Errorf("decode conntrack message: %d bytes: %w", len(data), ErrTruncated)
	}
	labels := ev.Entry.Labels[:0]
	*ev = model.Event{Type: typ, Origin: model.Origin{PortID: binary.NativeEndian.Uint32(msg[12:])}}
	ev.Entry.Labels = labels
	if err := decodeAttrs(data[nfgenmsgLen:], ev); err != nil {
		return fmt.Errorf("decode conntrack message: %w", err)
	}
	// As Decode: the family of the original source address, unless the
	// nfgenmsg header names one.
	switch e := &ev.Entry; {
	case data[0] != 0:
		e.Family = model.Family(data[0])
	case e.Orig.Src.Is4():
		e.Family = model.FamilyIPv4
	case e.Orig.Src.Is6():
		e.Family = model.FamilyIPv6
	}
	return nil
}

// rawEventType is eventType for the raw header's type and flags.
func rawEventType(ht, flags uint16) (model.EventType, error) {
	if ht>>8 == nfnlSubsysCTNetlink {
		switch ht & 0xff {
		case ipctnlMsgCtNew:
			if flags&(nlmFCreate|nlmFExcl) != 0 {
				return model.EventNew, nil
			}
			return model.EventUpdate, nil
		case ipctnlMsgCtDelete:
			return model.EventDestroy, nil
		}
	}
	return model.EventUnknown, fmt.Errorf("message type %#04x: %w", ht, ErrNotConntrack)
}

// NLM_F_EXCL and NLM_F_CREATE, the flags of a new entry's event.
const (
	nlmFExcl   = 0x200
	nlmFCreate = 0x400
)

// nextAttr splits the attribute at the start of b from what follows it: its
// type with the NLA_F_* flags, its payload, and the rest of b past its
// padding. Like the kernel's nla_ok, it refuses (ok false; attrError says
// why) a length shorter than the header or longer than b. It is small
// enough to be inlined, which saves a sixth of DecodeFast's time.
func nextAttr(b []byte) (typ uint16, data, rest []byte, ok bool) {
	if len(b) < 4 {
		return 0, nil, nil, false
	}
	l := int(binary.NativeEndian.Uint16(b))
	if l < 4 || l > len(b) {
		return 0, nil, nil, false
	}
	if a := (l + 3) &^ 3; a < len(b) {
		rest = b[a:]
	}
	return binary.NativeEndian.Uint16(b[2:]), b[4:l], rest, true
}

// attrError says why nextAttr refused b.
func attrError(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("%d bytes left for an attribute header: %w: %w", len(b), ErrMalformed, ErrTruncated)
	}
	return fmt.Errorf("attribute length %d of %d bytes left: %w: %w", binary.NativeEndian.Uint16(b), len(b), ErrMalformed, ErrTruncated)
}

// malformed is the error of an attribute that does not decode.
func malformed(where string, typ uint16, why string) error {
	return fmt.Errorf("%s attribute %d: %s: %w", where, typ, why, ErrMalformed)
}

// wrongLen is the error of an attribute whose payload has the wrong size.
func wrongLen(where string, typ uint16, n int) error {
	return fmt.Errorf("%s attribute %d: payload of %d bytes: %w", where, typ, n, ErrMalformed)
}

// decodeAttrs decodes the attributes after struct nfgenmsg into ev, whose
// Type and Origin are set and Entry is zero but for Labels' backing array.
//
// The grammar is ti-mo/conntrack's (Flow.unmarshal), so that DecodeFast
// fails where Decode does: top-level nests must carry NLA_F_NESTED, scalars
// of known types must have their exact size, and the minimum child counts
// of each nest are ti-mo's. Unlike ti-mo, it skips attributes of unknown
// types at every level, not only the top one (a newer kernel's), and
// leaves them out of the child counts. Presence bits are those Decode's
// scanAttributes sets.
func decodeAttrs(b []byte, ev *model.Event) error {
	e := &ev.Entry
	var present model.Field
	var protoinfo bool
	for len(b) > 0 {
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return attrError(b)
		}
		b = rest
		typ := raw & nlaTypeMask
		switch typ {
		case ctaTupleOrig, ctaTupleReply, ctaTupleMaster, ctaProtoinfo, ctaHelp,
			ctaCountersOrig, ctaCountersReply, ctaSecctx, ctaTimestamp,
			ctaSeqAdjOrig, ctaSeqAdjReply, ctaSynProxy:
			if raw&nlaFNested == 0 {
				return malformed("top-level", typ, "nest without NLA_F_NESTED")
			}
		}
		switch typ {
		case ctaTupleOrig:
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
		case ctaTupleReply:
			var p uint8
			zone, _, err := decodeTuple(v, &e.Reply, &p)
			if err != nil {
				return err
			}
			if zone {
				present |= model.FieldReplyZone
			}
		case ctaTupleMaster:
			// Checked as ti-mo checks it, and dropped: the model has no
			// master tuple.
			var t model.Tuple
			var p uint8
			if _, _, err := decodeTuple(v, &t, &p); err != nil {
				return err
			}
		case ctaStatus:
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
		case ctaProtoinfo:
			// ti-mo refuses a second CTA_PROTOINFO.
			if protoinfo {
				return malformed("top-level", typ, "repeated")
			}
			protoinfo = true
			state, ok, err := decodeProtoinfo(v)
			if err != nil {
				return err
			}
			e.State = model.State(state)
			if ok {
				present |= model.FieldState
			}
		case ctaHelp:
			ok, err := decodeHelp(v, &e.Helper)
			if err != nil {
				return err
			}
			if ok {
				present |= model.FieldHelper
			}
		case ctaTimeout:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Timeout = binary.BigEndian.Uint32(v)
			present |= model.FieldTimeout
		case ctaMark:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Mark = binary.BigEndian.Uint32(v)
			present |= model.FieldMark
		case ctaCountersOrig:
			if err := decodeCounters(v, &e.Orig); err != nil {
				return err
			}
			present |= model.FieldOrigCounters
		case ctaCountersReply:
			if err := decodeCounters(v, &e.Reply); err != nil {
				return err
			}
			present |= model.FieldReplyCounters
		case ctaUse:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Use = binary.BigEndian.Uint32(v)
			present |= model.FieldUse
		case ctaID:
			if len(v) != 4 {
				return wrongLen("top-level", typ, len(v))
			}
			e.ID = binary.BigEndian.Uint32(v)
			present |= model.FieldID
		case ctaSeqAdjOrig, ctaSeqAdjReply, ctaSynProxy:
			// Three optional u32 children each; checked, not kept.
			if err := checkU32Nest(v, typ); err != nil {
				return err
			}
		case ctaSecmark:
			// ti-mo ignores it; Decode keeps it only with its size.
			if len(v) == 4 {
				e.Secmark = binary.BigEndian.Uint32(v)
				present |= model.FieldSecmark
			}
		case ctaZone:
			if len(v) != 2 {
				return wrongLen("top-level", typ, len(v))
			}
			e.Zone = binary.BigEndian.Uint16(v)
			present |= model.FieldZone
		case ctaSecctx:
			if err := decodeSecctx(v, &e.Secctx); err != nil {
				return err
			}
			present |= model.FieldSecctx
		case ctaTimestamp:
			f, err := decodeTimestamp(v, e)
			if err != nil {
				return err
			}
			present |= f
		case ctaLabels:
			e.Labels = appendLabels(e.Labels[:0], v)
			present |= model.FieldLabels
		case ctaTimestampEvent:
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
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return false, false, fmt.Errorf("tuple: %w", attrError(b))
		}
		b = rest
		switch typ := raw & nlaTypeMask; typ {
		case ctaTupleIP:
			if t.Src, t.Dst, err = decodeIP(v); err != nil {
				return false, false, err
			}
		case ctaTupleProto:
			t.SrcPort, t.DstPort, t.ICMPType, t.ICMPCode, t.ICMPID = 0, 0, 0, 0, 0
			*proto = 0
			if err := decodeProto(v, t, proto); err != nil {
				return false, false, err
			}
			hasProto = true
		case ctaTupleZone:
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
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return src, dst, fmt.Errorf("tuple ip: %w", attrError(b))
		}
		b = rest
		typ := raw & nlaTypeMask
		switch typ {
		case ctaIPv4Src, ctaIPv4Dst, ctaIPv6Src, ctaIPv6Dst:
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
		if typ == ctaIPv4Src || typ == ctaIPv6Src {
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
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return fmt.Errorf("tuple proto: %w", attrError(b))
		}
		b = rest
		switch typ := raw & nlaTypeMask; typ {
		case ctaProtoNum, ctaProtoICMPType, ctaProtoICMPCode, ctaProtoICMPv6Type, ctaProtoICMPv6Code:
			if len(v) != 1 {
				return wrongLen("tuple proto", typ, len(v))
			}
			switch typ {
			case ctaProtoNum:
				*proto = v[0]
			case ctaProtoICMPType, ctaProtoICMPv6Type:
				t.ICMPType = v[0]
			default:
				t.ICMPCode = v[0]
			}
		case ctaProtoSrcPort, ctaProtoDstPort, ctaProtoICMPID, ctaProtoICMPv6ID:
			if len(v) != 2 {
				return wrongLen("tuple proto", typ, len(v))
			}
			switch x := binary.BigEndian.Uint16(v); typ {
			case ctaProtoSrcPort:
				t.SrcPort = x
			case ctaProtoDstPort:
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
// attribute at least. It returns the protocol state and whether the nest
// carried one.
func decodeProtoinfo(b []byte) (state uint8, ok bool, err error) {
	var typ uint16
	var v []byte
	n := 0 // known protocols
	for len(b) > 0 {
		raw, cv, rest, valid := nextAttr(b)
		if !valid {
			return 0, false, fmt.Errorf("protoinfo: %w", attrError(b))
		}
		b = rest
		switch t := raw & nlaTypeMask; t {
		case ctaProtoinfoTCP, ctaProtoinfoDCCP, ctaProtoinfoSCTP:
			typ, v = t, cv
			n++
		}
	}
	if n != 1 {
		return 0, false, fmt.Errorf("protoinfo of %d known protocols: %w", n, ErrMalformed)
	}
	n = 0 // known children of the protocol's nest
	for b := v; len(b) > 0; {
		craw, cv, rest, valid := nextAttr(b)
		if !valid {
			return 0, false, fmt.Errorf("protoinfo %d: %w", typ, attrError(b))
		}
		b = rest
		ctyp := craw & nlaTypeMask
		size := 0
		switch {
		case ctyp == ctaProtoinfoState:
			size = 1
		case typ == ctaProtoinfoTCP && (ctyp == ctaProtoinfoTCPWscaleOrig || ctyp == ctaProtoinfoTCPWscaleRepl):
			size = 1
		case typ == ctaProtoinfoTCP && (ctyp == ctaProtoinfoTCPFlagsOrig || ctyp == ctaProtoinfoTCPFlagsRepl):
			size = 2 // struct nf_ct_tcp_flags
		case typ == ctaProtoinfoDCCP && ctyp == ctaProtoinfoDCCPRole:
			size = 1
		case typ == ctaProtoinfoDCCP && ctyp == ctaProtoinfoDCCPHandshakeSeq:
			size = 8
		case typ == ctaProtoinfoDCCP && ctyp == ctaProtoinfoDCCPPad:
			continue // alignment before the handshake sequence
		case typ == ctaProtoinfoSCTP && (ctyp == ctaProtoinfoSCTPVtagOrig || ctyp == ctaProtoinfoSCTPVtagRepl):
			size = 4
		default:
			continue // unknown, skipped
		}
		if len(cv) != size {
			return 0, false, wrongLen("protoinfo", ctyp, len(cv))
		}
		n++
		if ctyp == ctaProtoinfoState {
			state, ok = cv[0], true
		}
	}
	if n == 0 {
		return 0, false, fmt.Errorf("empty protoinfo %d: %w", typ, ErrMalformed)
	}
	return state, ok, nil
}

// decodeHelp decodes a CTA_HELP nest into *name, and reports whether it
// named a helper. Unlike ti-mo's other nests, an empty one is valid.
func decodeHelp(b []byte, name *string) (ok bool, err error) {
	for len(b) > 0 {
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return false, fmt.Errorf("help: %w", attrError(b))
		}
		b = rest
		// CTA_HELP_INFO is not kept; unknown types are skipped.
		if raw&nlaTypeMask == ctaHelpName {
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
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return fmt.Errorf("counters: %w", attrError(b))
		}
		b = rest
		switch typ := raw & nlaTypeMask; typ {
		case ctaCountersPackets, ctaCountersBytes:
			if len(v) != 8 {
				return wrongLen("counters", typ, len(v))
			}
			if typ == ctaCountersPackets {
				t.Packets = binary.BigEndian.Uint64(v)
			} else {
				t.Bytes = binary.BigEndian.Uint64(v)
			}
		case ctaCounters32Packets, ctaCounters32Bytes:
			if len(v) != 4 {
				return wrongLen("counters", typ, len(v))
			}
			if typ == ctaCounters32Packets {
				t.Packets = uint64(binary.BigEndian.Uint32(v))
			} else {
				t.Bytes = uint64(binary.BigEndian.Uint32(v))
			}
		case ctaCountersPad:
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
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return fmt.Errorf("secctx: %w", attrError(b))
		}
		b = rest
		if raw&nlaTypeMask != ctaSecctxName {
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
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return 0, fmt.Errorf("timestamp: %w", attrError(b))
		}
		b = rest
		typ := raw & nlaTypeMask
		if typ != ctaTimestampStart && typ != ctaTimestampStop {
			// CTA_TIMESTAMP_PAD (alignment before a 64-bit value) or
			// unknown, skipped.
			continue
		}
		if len(v) != 8 {
			return 0, wrongLen("timestamp", typ, len(v))
		}
		n++
		t := time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		if typ == ctaTimestampStart {
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
func checkU32Nest(b []byte, typ uint16) error {
	n := 0 // known children
	for len(b) > 0 {
		raw, v, rest, valid := nextAttr(b)
		if !valid {
			return fmt.Errorf("nest %d: %w", typ, attrError(b))
		}
		b = rest
		ctyp := raw & nlaTypeMask
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
