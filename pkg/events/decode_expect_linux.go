package events

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// DecodeExpect decodes the ctnetlink expectation message at the start of
// msg (its struct nlmsghdr included, as read from the socket) into ev,
// overwriting it: IPCTNL_MSG_EXP_NEW is an EventNew, IPCTNL_MSG_EXP_DELETE
// an EventDestroy. Bytes after the message's nlmsg_len are ignored. On
// error, ev's contents are unspecified. ev.Time is left zero (the kernel
// does not timestamp expectation events), for the caller to fill with its
// receive time; ev.Origin.PortID is the netlink header's port id.
//
// The grammar is the kernel's ctnetlink_exp_dump_expect: the nests
// CTA_EXPECT_MASTER, _TUPLE and _MASK, which must be present and carry
// NLA_F_NESTED, are tuples as a connection message's, all of one family;
// CTA_EXPECT_NAT holds a direction and a tuple; the scalars must have
// their exact size.
// Attributes of unknown types are skipped, at the top level and in nests,
// as DecodeFast skips them. Like DecodeFast it allocates nothing, except
// for a helper or function name not seen before.
//
// Errors wrap ErrNotConntrack (not an expectation event), ErrTruncated or
// ErrMalformed.
func DecodeExpect(msg []byte, ev *model.ExpectEvent) error {
	l, err := messageLen(msg, "expectation")
	if err != nil {
		return err
	}
	ht := ctnl.HeaderType(binary.NativeEndian.Uint16(msg[4:]))
	typ := model.EventUnknown
	if ht.Subsys() == ctnl.NFNLSubsysCTNetlinkExp {
		switch ht.Msg() {
		case ctnl.IPCTNLMsgExpNew:
			typ = model.EventNew
		case ctnl.IPCTNLMsgExpDelete:
			typ = model.EventDestroy
		}
	}
	if typ == model.EventUnknown {
		return fmt.Errorf("message type %#04x: %w", ht, ErrNotConntrack)
	}
	data, err := messagePayload(msg, l, "expectation")
	if err != nil {
		return err
	}
	*ev = model.ExpectEvent{Type: typ, Origin: model.Origin{PortID: binary.NativeEndian.Uint32(msg[12:])}}
	x := &ev.Expect
	if err := decodeExpectAttrs(data[ctnl.NFGenMsgLen:], x); err != nil {
		return fmt.Errorf("decode expectation message: %w", err)
	}
	x.Family = messageFamily(data[0], x.Tuple.Src)
	return nil
}

// isExpectMessage reports whether the netlink message at the start of msg,
// at least a header long, is of the expectation subsystem.
func isExpectMessage(msg []byte) bool {
	return ctnl.HeaderType(binary.NativeEndian.Uint16(msg[4:])).Subsys() == ctnl.NFNLSubsysCTNetlinkExp
}

// decodeExpectAttrs decodes the attributes after struct nfgenmsg into x.
func decodeExpectAttrs(b []byte, x *model.Expect) error {
	const required = model.ExpectFieldMaster | model.ExpectFieldMask
	var tuple bool
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return attrError(b)
		}
		b = rest
		typ := raw & ctnl.NLATypeMask
		switch typ {
		case ctnl.CTAExpectMaster, ctnl.CTAExpectTuple, ctnl.CTAExpectMask, ctnl.CTAExpectNat:
			if raw&ctnl.NLAFNested == 0 {
				return malformed("expectation", typ, "nest without NLA_F_NESTED")
			}
		}
		var err error
		switch typ {
		case ctnl.CTAExpectMaster:
			var p uint8
			if _, _, err = decodeTuple(v, &x.Master, &p); err != nil {
				return err
			}
			x.MasterProto = model.Proto(p)
			x.Fields |= model.ExpectFieldMaster
		case ctnl.CTAExpectTuple:
			var p uint8
			if _, _, err = decodeTuple(v, &x.Tuple, &p); err != nil {
				return err
			}
			x.Proto = model.Proto(p)
			tuple = true
		case ctnl.CTAExpectMask:
			// The mask's protocol number is the tuple's.
			var p uint8
			if _, _, err = decodeTuple(v, &x.Mask, &p); err != nil {
				return err
			}
			x.Fields |= model.ExpectFieldMask
		case ctnl.CTAExpectTimeout:
			x.Timeout, err = expectU32(v, typ)
			x.Fields |= model.ExpectFieldTimeout
		case ctnl.CTAExpectID:
			x.ID, err = expectU32(v, typ)
			x.Fields |= model.ExpectFieldID
		case ctnl.CTAExpectFlags:
			var f uint32
			f, err = expectU32(v, typ)
			x.Flags = model.ExpectFlags(f)
			x.Fields |= model.ExpectFieldFlags
		case ctnl.CTAExpectClass:
			x.Class, err = expectU32(v, typ)
			x.Fields |= model.ExpectFieldClass
		case ctnl.CTAExpectZone:
			if len(v) != 2 {
				return wrongLen("expectation", typ, len(v))
			}
			x.Zone = binary.BigEndian.Uint16(v)
			x.Fields |= model.ExpectFieldZone
		case ctnl.CTAExpectHelpName:
			x.Helper = helperNames.get(trimNULBytes(v))
			x.Fields |= model.ExpectFieldHelper
		case ctnl.CTAExpectFn:
			x.Fn = expectFnNames.get(trimNULBytes(v))
			x.Fields |= model.ExpectFieldFn
		case ctnl.CTAExpectNat:
			if err = decodeExpectNAT(v, x); err != nil {
				return err
			}
			x.Fields |= model.ExpectFieldNAT
		}
		if err != nil {
			return err
		}
	}
	if !tuple || !x.Fields.Has(required) {
		return fmt.Errorf("expectation without its tuple, mask or master: %w", ErrMalformed)
	}
	// The kernel's tuples of one expectation share their family (its
	// master's l3num).
	v6 := x.Tuple.Src.Is6()
	for _, a := range [...]netip.Addr{x.Tuple.Dst, x.Mask.Src, x.Mask.Dst, x.Master.Src, x.Master.Dst} {
		if a.Is6() != v6 {
			return fmt.Errorf("expectation with tuples of two families: %w", ErrMalformed)
		}
	}
	if x.Fields.Has(model.ExpectFieldNAT) && (x.NAT.Src.Is6() != v6 || x.NAT.Dst.Is6() != v6) {
		return fmt.Errorf("expectation with a NAT tuple of another family: %w", ErrMalformed)
	}
	return nil
}

func expectU32(v []byte, typ ctnl.AttrType) (uint32, error) {
	if len(v) != 4 {
		return 0, wrongLen("expectation", typ, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

// decodeExpectNAT decodes a CTA_EXPECT_NAT nest: a direction and a tuple,
// both required.
func decodeExpectNAT(b []byte, x *model.Expect) error {
	var dir, tuple bool
	for len(b) > 0 {
		raw, v, rest, valid := ctnl.NextAttr(b)
		if !valid {
			return fmt.Errorf("expectation nat: %w", attrError(b))
		}
		b = rest
		switch typ := raw & ctnl.NLATypeMask; typ {
		case ctnl.CTAExpectNatDir:
			d, err := expectU32(v, typ)
			if err != nil {
				return err
			}
			x.NATDir, dir = d, true
		case ctnl.CTAExpectNatTuple:
			var p uint8
			if _, _, err := decodeTuple(v, &x.NAT, &p); err != nil {
				return err
			}
			tuple = true
		}
	}
	if !dir || !tuple {
		return fmt.Errorf("expectation nat without its direction or tuple: %w", ErrMalformed)
	}
	return nil
}

// The names of the kernel's expectation functions (struct
// nf_ct_helper_expectfn), so that decoding them does not allocate.
var expectFnNames = newInterner(16, "nat-follow-master", "sip", "Q.931", "callforwarding")
