package events

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// This file is the reference decoder: ti-mo/conntrack's unmarshalling,
// translated at the boundary, which DecodeFast is held to by
// FuzzDecodeDifferential and the golden tests. It is test code: nothing in
// production decodes through ti-mo.

// Decode decodes one ctnetlink event message into ev, overwriting it (the
// backing array of ev.Entry.Labels is reused). IPCTNL_MSG_CT_NEW with
// NLM_F_CREATE or NLM_F_EXCL is an EventNew, without them an EventUpdate;
// IPCTNL_MSG_CT_DELETE is an EventDestroy.
//
// ev.Time is the kernel's event timestamp (CTA_TIMESTAMP_EVENT, Linux 6.14
// with nf_conntrack_timestamp=1) when the message carries one, and zero
// otherwise, for the caller to fill with its receive time. ev.Origin.PortID
// is the netlink header's port id: non-zero when a userspace program's
// request caused the event. Entry.DeltaTime is left unset: it depends on
// the time of whoever prints it (internal/record sets it for the text form). On error, ev's
// contents are unspecified.
func decodeTiMo(msg netlink.Message, ev *model.Event) error {
	typ, err := eventType(msg)
	if err != nil {
		return err
	}
	if err := decodeEntry(msg, ev); err != nil {
		return err
	}
	ev.Type = typ
	ev.Origin = model.Origin{PortID: msg.Header.PID}
	return nil
}

// eventType checks that msg is a ctnetlink entry message and says which
// event it reports.
func eventType(msg netlink.Message) (model.EventType, error) {
	ht := ctnl.HeaderType(msg.Header.Type)
	subsys, mt := ht.Subsys(), ht.Msg()
	if subsys != ctnl.NFNLSubsysCTNetlink {
		return model.EventUnknown, fmt.Errorf("message type %#04x: %w", uint16(msg.Header.Type), ErrNotConntrack)
	}
	switch mt {
	case ctnl.IPCTNLMsgCtNew:
		// The kernel marks a new entry's event as a creation; an update
		// carries no flags.
		if msg.Header.Flags&(netlink.Create|netlink.Excl) != 0 {
			return model.EventNew, nil
		}
		return model.EventUpdate, nil
	case ctnl.IPCTNLMsgCtDelete:
		return model.EventDestroy, nil
	}
	return model.EventUnknown, fmt.Errorf("message type %#04x: %w", uint16(msg.Header.Type), ErrNotConntrack)
}

// decodeEntry fills ev's Entry and Time from msg's attributes and resets
// everything else in ev.
func decodeEntry(msg netlink.Message, ev *model.Event) error {
	labels := ev.Entry.Labels[:0]
	*ev = model.Event{}
	if len(msg.Data) < ctnl.NFGenMsgLen {
		return fmt.Errorf("decode conntrack message: %d bytes: %w", len(msg.Data), ErrTruncated)
	}
	// ti-mo refuses to unmarshal into a used Event, so it gets a fresh one
	// each time.
	var ce conntrack.Event
	if err := ce.Unmarshal(msg); err != nil {
		return fmt.Errorf("decode conntrack message: %w: %w", ErrMalformed, err)
	}
	if ce.Flow == nil {
		return fmt.Errorf("decode conntrack message: no flow: %w", ErrNotConntrack)
	}
	ev.Entry = fromFlow(ce.Flow)
	ev.Entry.Labels = labels
	if f := model.Family(msg.Data[0]); f != 0 {
		ev.Entry.Family = f
	}
	if err := scanAttributes(msg.Data[ctnl.NFGenMsgLen:], ev); err != nil {
		return fmt.Errorf("decode conntrack message: %w", err)
	}
	return nil
}

// fromFlowLabels translates a ti-mo Flow into an Entry. A Flow does not say which
// attributes the kernel sent, so fromFlowLabels sets presence bits by value: a
// zero timeout, mark, zone, use, id or counter pair and an empty helper or
// security context count as absent. Protocol state is known exactly (ti-mo
// keeps the protocol info as a pointer). Family is derived from the
// addresses. Decode replaces these guesses by the attributes actually
// present in the message.
func fromFlowLabels(f *conntrack.Flow) model.Entry {
	e := fromFlow(f)
	if len(f.Labels) > 0 {
		e.Labels = appendLabels(nil, f.Labels, nil)
		if len(e.Labels) > 0 {
			e.Fields |= model.FieldLabels
		}
	}
	return e
}

// fromFlow is fromFlowLabels without the labels, which Decode reads into a reused
// slice.
func fromFlow(f *conntrack.Flow) model.Entry {
	var e model.Entry
	e.Proto = model.Proto(f.TupleOrig.Proto.Protocol)
	switch a := f.TupleOrig.IP.SourceAddress; {
	case a.Is4():
		e.Family = model.FamilyIPv4
	case a.Is6():
		e.Family = model.FamilyIPv6
	}
	e.Status = model.Status(f.Status)
	e.Orig = fromTuple(&f.TupleOrig, &f.CountersOrig)
	e.Reply = fromTuple(&f.TupleReply, &f.CountersReply)
	e.Master = fromTuple(&f.TupleMaster, &conntrack.Counter{})
	e.MasterProto = model.Proto(f.TupleMaster.Proto.Protocol)
	if f.TupleOrig.Zone != 0 {
		e.Fields |= model.FieldOrigZone
	}
	if f.TupleReply.Zone != 0 {
		e.Fields |= model.FieldReplyZone
	}
	if f.CountersOrig.Packets != 0 || f.CountersOrig.Bytes != 0 {
		e.Fields |= model.FieldOrigCounters
	}
	if f.CountersReply.Packets != 0 || f.CountersReply.Bytes != 0 {
		e.Fields |= model.FieldReplyCounters
	}

	switch pi := f.ProtoInfo; {
	case pi.TCP != nil:
		e.State, e.Fields = model.State(pi.TCP.State), e.Fields|model.FieldState
	case pi.SCTP != nil:
		e.State, e.Fields = model.State(pi.SCTP.State), e.Fields|model.FieldState
		e.OrigVtag, e.ReplyVtag = pi.SCTP.VTagOriginal, pi.SCTP.VTagReply
		e.Fields |= model.FieldOrigVtag | model.FieldReplyVtag
	case pi.DCCP != nil:
		e.State, e.Fields = model.State(pi.DCCP.State), e.Fields|model.FieldState
		e.DCCPRole, e.Fields = model.DCCPRole(pi.DCCP.Role), e.Fields|model.FieldDCCPRole
	}

	e.Timeout = f.Timeout
	e.Mark = f.Mark
	e.Zone = f.Zone
	e.Use = f.Use
	e.ID = f.ID
	set := func(nonZero bool, b model.Field) {
		if nonZero {
			e.Fields |= b
		}
	}
	set(f.Timeout != 0, model.FieldTimeout)
	set(f.Mark != 0, model.FieldMark)
	set(f.Zone != 0, model.FieldZone)
	set(f.Use != 0, model.FieldUse)
	set(f.ID != 0, model.FieldID)

	// The kernel sends the context and helper names NUL-terminated, and
	// ti-mo keeps the context's terminator.
	e.Secctx = strings.TrimRight(string(f.SecurityContext), "\x00")
	set(e.Secctx != "", model.FieldSecctx)
	e.Helper = f.Helper.Name
	set(e.Helper != "", model.FieldHelper)

	if !f.Timestamp.Start.IsZero() {
		e.Start = f.Timestamp.Start.UTC()
		e.Fields |= model.FieldStart
	}
	if !f.Timestamp.Stop.IsZero() {
		e.Stop = f.Timestamp.Stop.UTC()
		e.Fields |= model.FieldStop
	}
	return e
}

func fromTuple(t *conntrack.Tuple, c *conntrack.Counter) model.Tuple {
	return model.Tuple{
		Src:      t.IP.SourceAddress,
		Dst:      t.IP.DestinationAddress,
		SrcPort:  t.Proto.SourcePort,
		DstPort:  t.Proto.DestinationPort,
		ICMPType: t.Proto.ICMPType,
		ICMPCode: t.Proto.ICMPCode,
		ICMPID:   t.Proto.ICMPID,
		Zone:     t.Zone,
		Packets:  c.Packets,
		Bytes:    c.Bytes,
	}
}

// scanAttributes sets ev.Entry.Fields to exactly the attributes present in
// b (the message's attributes after struct nfgenmsg), and reads what ti-mo
// does not: the event timestamp, the labels (into the reused slice), the
// security context without its terminator, and the obsolete secmark.
func scanAttributes(b []byte, ev *model.Event) error {
	e := &ev.Entry
	var present model.Field
	it := attrs{b: b}
	for it.next() {
		switch it.typ {
		case ctnl.CTATupleOrig:
			if hasChild(it.data, ctnl.CTATupleZone) {
				present |= model.FieldOrigZone
			}
		case ctnl.CTATupleReply:
			if hasChild(it.data, ctnl.CTATupleZone) {
				present |= model.FieldReplyZone
			}
		case ctnl.CTATupleMaster:
			present |= model.FieldMaster
		case ctnl.CTAProtoinfo:
			// One nest per protocol (TCP, DCCP, SCTP), holding the state,
			// and SCTP's vtags or DCCP's role but in destroy events.
			in := attrs{b: it.data}
			for in.next() {
				if hasChild(in.data, ctnl.CTAProtoinfoTCPState) {
					present |= model.FieldState
				}
				switch in.typ {
				case ctnl.CTAProtoinfoSCTP:
					if hasChild(in.data, ctnl.CTAProtoinfoSCTPVtagOriginal) {
						present |= model.FieldOrigVtag
					}
					if hasChild(in.data, ctnl.CTAProtoinfoSCTPVtagReply) {
						present |= model.FieldReplyVtag
					}
				case ctnl.CTAProtoinfoDCCP:
					if hasChild(in.data, ctnl.CTAProtoinfoDCCPRole) {
						present |= model.FieldDCCPRole
					}
				}
			}
		case ctnl.CTAHelp:
			if hasChild(it.data, ctnl.CTAHelpName) {
				present |= model.FieldHelper
			}
		case ctnl.CTATimeout:
			present |= model.FieldTimeout
		case ctnl.CTAMark:
			present |= model.FieldMark
		case ctnl.CTACountersOrig:
			present |= model.FieldOrigCounters
		case ctnl.CTACountersReply:
			present |= model.FieldReplyCounters
		case ctnl.CTAUse:
			present |= model.FieldUse
		case ctnl.CTAID:
			present |= model.FieldID
		case ctnl.CTASecmark:
			if len(it.data) == 4 {
				e.Secmark = binary.BigEndian.Uint32(it.data)
				present |= model.FieldSecmark
			}
		case ctnl.CTAZone:
			present |= model.FieldZone
		case ctnl.CTASecctx:
			in := attrs{b: it.data}
			for in.next() {
				if in.typ == ctnl.CTASecctxName {
					e.Secctx = trimNUL(in.data)
					present |= model.FieldSecctx
				}
			}
		case ctnl.CTATimestamp:
			in := attrs{b: it.data}
			for in.next() {
				switch in.typ {
				case ctnl.CTATimestampStart:
					present |= model.FieldStart
				case ctnl.CTATimestampStop:
					present |= model.FieldStop
				}
			}
		case ctnl.CTALabels:
			e.Labels = appendLabels(e.Labels[:0], it.data, nil)
			present |= model.FieldLabels
		case ctnl.CTATimestampEvent:
			if len(it.data) == 8 {
				ev.Time = time.Unix(0, int64(binary.BigEndian.Uint64(it.data))).UTC()
			}
		}
	}
	if it.err != nil {
		return it.err
	}
	if !present.Has(model.FieldLabels) {
		e.Labels = e.Labels[:0]
	}
	e.Fields = present
	return nil
}

// trimNUL returns b as a string without its C terminator.
func trimNUL(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

// hasChild reports whether the nest b holds an attribute of type typ.
func hasChild(b []byte, typ ctnl.AttrType) bool {
	it := attrs{b: b}
	for it.next() {
		if it.typ == typ {
			return true
		}
	}
	return false
}

// attrs iterates over netlink attributes without allocating, where
// netlink.AttributeDecoder allocates one decoder per nest.
type attrs struct {
	b    []byte
	typ  ctnl.AttrType
	data []byte
	err  error
}

func (it *attrs) next() bool {
	// Fewer bytes than a header end the walk, as in ti-mo.
	if len(it.b) < ctnl.NLAHdrLen {
		return false
	}
	typ, data, rest, ok := ctnl.NextAttr(it.b)
	if !ok {
		it.err = ctnl.AttrError(it.b)
		it.b = nil
		return false
	}
	it.typ, it.data, it.b = typ.Type(), data, rest
	return true
}

// forEachMessage calls fn with each netlink message in b (one datagram, or
// a capture file of concatenated messages) and the bytes it was parsed
// from, header included. The message's Data aliases b. It stops when fn
// returns false, and returns an error wrapping ErrTruncated when a header
// does not fit.
func forEachMessage(b []byte, fn func(msg netlink.Message, raw []byte) bool) error {
	for len(b) > 0 {
		raw, rest, err := ctnl.NextMessage(b)
		if err != nil {
			return err
		}
		h := ctnl.ParseHeader(raw)
		msg := netlink.Message{
			Header: netlink.Header{
				Length:   h.Len,
				Type:     netlink.HeaderType(h.Type),
				Flags:    netlink.HeaderFlags(h.Flags),
				Sequence: h.Seq,
				PID:      h.PortID,
			},
			Data: ctnl.Payload(raw),
		}
		if !fn(msg, raw) {
			return nil
		}
		b = rest
	}
	return nil
}
