package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// ctnetlink message types and attributes, from the kernel's
// include/uapi/linux/netfilter/nfnetlink_conntrack.h.
const (
	nfnlSubsysCTNetlink = 1 // NFNL_SUBSYS_CTNETLINK

	ipctnlMsgCtNew    = 0 // IPCTNL_MSG_CT_NEW
	ipctnlMsgCtGet    = 1 // IPCTNL_MSG_CT_GET
	ipctnlMsgCtDelete = 2 // IPCTNL_MSG_CT_DELETE

	// nfgenmsgLen is the size of struct nfgenmsg, which precedes the
	// attributes of every nfnetlink message.
	nfgenmsgLen = 4

	// enum ctattr_type
	ctaTupleOrig      = 1
	ctaTupleReply     = 2
	ctaProtoinfo      = 4
	ctaHelp           = 5
	ctaTimeout        = 7
	ctaMark           = 8
	ctaCountersOrig   = 9
	ctaCountersReply  = 10
	ctaUse            = 11
	ctaID             = 12
	ctaSecmark        = 17 // obsolete: kernels send CTA_SECCTX instead
	ctaZone           = 18
	ctaSecctx         = 19
	ctaTimestamp      = 20
	ctaLabels         = 22
	ctaTimestampEvent = 27 // Linux 6.14: when the event happened, ns since the epoch

	ctaTupleZone = 3 // enum ctattr_tuple: CTA_TUPLE_ZONE

	ctaProtoinfoState = 1 // CTA_PROTOINFO_{TCP,DCCP,SCTP}_STATE

	ctaHelpName = 1 // CTA_HELP_NAME

	ctaSecctxName = 1 // CTA_SECCTX_NAME

	ctaTimestampStart = 1 // CTA_TIMESTAMP_START
	ctaTimestampStop  = 2 // CTA_TIMESTAMP_STOP

	// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER.
	nlaTypeMask = 0x3fff
)

// ErrNotConntrack is returned (wrapped) by Decode for a message that is not
// a ctnetlink conntrack entry message (IPCTNL_MSG_CT_NEW or
// IPCTNL_MSG_CT_DELETE).
var ErrNotConntrack = errors.New("not a ctnetlink conntrack message")

// ErrMalformed is returned (wrapped, with the decoder's own error) for a
// ctnetlink message whose attributes cannot be decoded.
var ErrMalformed = errors.New("malformed ctnetlink message")

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
// the time of whoever prints it (see SetDeltaTime). On error, ev's
// contents are unspecified.
func Decode(msg netlink.Message, ev *model.Event) error {
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
	subsys, mt := uint16(msg.Header.Type)>>8, uint16(msg.Header.Type)&0xff
	if subsys != nfnlSubsysCTNetlink {
		return model.EventUnknown, fmt.Errorf("message type %#04x: %w", uint16(msg.Header.Type), ErrNotConntrack)
	}
	switch mt {
	case ipctnlMsgCtNew:
		// The kernel marks a new entry's event as a creation; an update
		// carries no flags.
		if msg.Header.Flags&(netlink.Create|netlink.Excl) != 0 {
			return model.EventNew, nil
		}
		return model.EventUpdate, nil
	case ipctnlMsgCtDelete:
		return model.EventDestroy, nil
	}
	return model.EventUnknown, fmt.Errorf("message type %#04x: %w", uint16(msg.Header.Type), ErrNotConntrack)
}

// decodeEntry fills ev's Entry and Time from msg's attributes and resets
// everything else in ev.
func decodeEntry(msg netlink.Message, ev *model.Event) error {
	labels := ev.Entry.Labels[:0]
	*ev = model.Event{}
	if len(msg.Data) < nfgenmsgLen {
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
	if err := scanAttributes(msg.Data[nfgenmsgLen:], ev); err != nil {
		return fmt.Errorf("decode conntrack message: %w", err)
	}
	return nil
}

// FromFlow translates a ti-mo Flow into an Entry. A Flow does not say which
// attributes the kernel sent, so FromFlow sets presence bits by value: a
// zero timeout, mark, zone, use, id or counter pair and an empty helper or
// security context count as absent. Protocol state is known exactly (ti-mo
// keeps the protocol info as a pointer). Family is derived from the
// addresses. Decode replaces these guesses by the attributes actually
// present in the message.
func FromFlow(f *conntrack.Flow) model.Entry {
	e := fromFlow(f)
	if len(f.Labels) > 0 {
		e.Labels = appendLabels(nil, f.Labels)
		if len(e.Labels) > 0 {
			e.Fields |= model.FieldLabels
		}
	}
	return e
}

// fromFlow is FromFlow without the labels, which Decode reads into a reused
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
	case pi.DCCP != nil:
		e.State, e.Fields = model.State(pi.DCCP.State), e.Fields|model.FieldState
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

// labelNames are the decimal names of the label bits the kernel supports
// (NF_CT_LABELS_MAX_SIZE is 16 bytes), so that naming a label does not
// allocate.
var labelNames = func() (n [128]string) {
	for i := range n {
		n[i] = strconv.Itoa(i)
	}
	return n
}()

// appendLabels appends the numbers of the bits set in the CTA_LABELS bit
// field b. The kernel sends its array of unsigned longs as they are in
// memory; like libnetfilter_conntrack, bits are read from 32-bit words in
// host byte order, which is the kernel's layout on every little-endian
// host.
func appendLabels(dst []string, b []byte) []string {
	for w := 0; w+4 <= len(b); w += 4 {
		v := binary.NativeEndian.Uint32(b[w:])
		for v != 0 {
			i := w*8 + bits.TrailingZeros32(v)
			if i < len(labelNames) {
				dst = append(dst, labelNames[i])
			} else {
				dst = append(dst, strconv.Itoa(i))
			}
			v &= v - 1
		}
	}
	return dst
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
		case ctaTupleOrig:
			if hasChild(it.data, ctaTupleZone) {
				present |= model.FieldOrigZone
			}
		case ctaTupleReply:
			if hasChild(it.data, ctaTupleZone) {
				present |= model.FieldReplyZone
			}
		case ctaProtoinfo:
			// One nest per protocol (TCP, DCCP, SCTP), holding the state.
			in := attrs{b: it.data}
			for in.next() {
				if hasChild(in.data, ctaProtoinfoState) {
					present |= model.FieldState
				}
			}
		case ctaHelp:
			if hasChild(it.data, ctaHelpName) {
				present |= model.FieldHelper
			}
		case ctaTimeout:
			present |= model.FieldTimeout
		case ctaMark:
			present |= model.FieldMark
		case ctaCountersOrig:
			present |= model.FieldOrigCounters
		case ctaCountersReply:
			present |= model.FieldReplyCounters
		case ctaUse:
			present |= model.FieldUse
		case ctaID:
			present |= model.FieldID
		case ctaSecmark:
			if len(it.data) == 4 {
				e.Secmark = binary.BigEndian.Uint32(it.data)
				present |= model.FieldSecmark
			}
		case ctaZone:
			present |= model.FieldZone
		case ctaSecctx:
			in := attrs{b: it.data}
			for in.next() {
				if in.typ == ctaSecctxName {
					e.Secctx = trimNUL(in.data)
					present |= model.FieldSecctx
				}
			}
		case ctaTimestamp:
			in := attrs{b: it.data}
			for in.next() {
				switch in.typ {
				case ctaTimestampStart:
					present |= model.FieldStart
				case ctaTimestampStop:
					present |= model.FieldStop
				}
			}
		case ctaLabels:
			e.Labels = appendLabels(e.Labels[:0], it.data)
			present |= model.FieldLabels
		case ctaTimestampEvent:
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
func hasChild(b []byte, typ uint16) bool {
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
	typ  uint16
	data []byte
	err  error
}

func (it *attrs) next() bool {
	if len(it.b) < 4 {
		return false
	}
	l := int(binary.NativeEndian.Uint16(it.b))
	if l < 4 || l > len(it.b) {
		it.err = fmt.Errorf("attribute length %d of %d bytes left: %w", l, len(it.b), ErrTruncated)
		it.b = nil
		return false
	}
	it.typ = binary.NativeEndian.Uint16(it.b[2:]) & nlaTypeMask
	it.data = it.b[4:l]
	if adv := (l + 3) &^ 3; adv < len(it.b) {
		it.b = it.b[adv:]
	} else {
		it.b = nil
	}
	return true
}

// SetDeltaTime sets e's DeltaTime as conntrack-tools computes it for an
// entry with a start timestamp: the whole seconds of the stop time (or of
// now, while the entry lives) minus the whole seconds of the start time. A
// negative result (a clock stepped back) is 0. Entries without a start time
// are left alone.
func SetDeltaTime(e *model.Entry, now time.Time) {
	if !e.Fields.Has(model.FieldStart) {
		return
	}
	end := now.Unix()
	if e.Fields.Has(model.FieldStop) && e.Stop.UnixNano() != 0 {
		end = e.Stop.Unix()
	}
	var d uint64
	if s := e.Start.Unix(); end > s {
		d = uint64(end - s)
	}
	e.DeltaTime = d
	e.Fields |= model.FieldDeltaTime
}
