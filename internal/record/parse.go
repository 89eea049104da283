package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// ErrNotEntryRecord is returned by ParseJSON for a valid JSON record that
// does not describe an entry, such as ctwatch's "gap" or "stats" records.
var ErrNotEntryRecord = errors.New("record carries no conntrack entry")

// JSONError reports a JSON record that does not parse, naming the field.
type JSONError struct {
	// Field names the offending key as a path ("orig.sport"), or is empty
	// when the record is not valid JSON.
	Field string
	Err   error
}

func (e *JSONError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("field %s: %v", e.Field, e.Err)
}

func (e *JSONError) Unwrap() error { return e.Err }

type jsonTuple struct {
	Src     *string `json:"src"`
	Dst     *string `json:"dst"`
	Sport   *uint16 `json:"sport"`
	Dport   *uint16 `json:"dport"`
	Type    *uint8  `json:"type"`
	Code    *uint8  `json:"code"`
	ID      *uint16 `json:"id"`
	SrcKey  *uint16 `json:"srckey"`
	DstKey  *uint16 `json:"dstkey"`
	Zone    *uint16 `json:"zone"`
	Packets *uint64 `json:"packets"`
	Bytes   *uint64 `json:"bytes"`
	// Proto is the master tuple's protocol, when it is not the entry's.
	Proto *string `json:"proto"`
}

type jsonOrigin struct {
	PortID  uint32 `json:"portid"`
	PID     int32  `json:"pid"`
	Program string `json:"program"`
}

type jsonEvent struct {
	Time      *string     `json:"time"`
	Event     *string     `json:"event"`
	Family    *string     `json:"family"`
	Proto     *string     `json:"proto"`
	Protonum  *uint8      `json:"protonum"`
	Timeout   *uint32     `json:"timeout"`
	State     *string     `json:"state"`
	OrigVtag  *uint32     `json:"orig_vtag"`
	ReplyVtag *uint32     `json:"reply_vtag"`
	Role      *string     `json:"role"`
	Orig      *jsonTuple  `json:"orig"`
	Reply     *jsonTuple  `json:"reply"`
	Master    *jsonTuple  `json:"master"`
	Unreplied *bool       `json:"unreplied"`
	Assured   *bool       `json:"assured"`
	Status    []string    `json:"status"`
	Mark      *uint32     `json:"mark"`
	Secmark   *uint32     `json:"secmark"`
	Secctx    *string     `json:"secctx"`
	Zone      *uint16     `json:"zone"`
	Use       *uint32     `json:"use"`
	ID        *uint32     `json:"id"`
	Helper    *string     `json:"helper"`
	Labels    []string    `json:"labels"`
	Start     *string     `json:"start"`
	Stop      *string     `json:"stop"`
	DeltaTime *uint64     `json:"delta_time"`
	GRE       *uint32     `json:"gre_timeout"`
	GREStream *uint32     `json:"gre_stream_timeout"`
	Origin    *jsonOrigin `json:"origin"`
}

// ParseJSON parses one record of the native schema, as ctwatch writes it,
// back into an Event. Keys outside the entry's contract (level, transition,
// flow, ...) are ignored. A record whose "event" is not an entry event
// returns ErrNotEntryRecord.
func ParseJSON(data []byte) (model.Event, error) {
	var j jsonEvent
	var ev model.Event
	if err := decodeRecord(data, &j); err != nil {
		return ev, err
	}
	var err error
	if ev.Type, ev.Time, ev.Origin, err = parseHead(j.Event, "", j.Time, j.Origin); err != nil {
		return ev, err
	}
	err = j.entry(&ev.Entry)
	return ev, err
}

// decodeRecord decodes one JSON record into v, a jsonEvent or a
// jsonExpect, naming the field whose value its Go type cannot hold.
func decodeRecord(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &JSONError{Field: te.Field, Err: fmt.Errorf("cannot hold a JSON %s", te.Value)}
		}
		return &JSONError{Err: err}
	}
	return nil
}

// parseHead parses the keys an entry record and an expectation record
// share around their subject: the event, required, whose name after prefix
// must be an event type (ErrNotEntryRecord otherwise), and the time and
// the origin, each optional.
func parseHead(event *string, prefix string, tm *string, o *jsonOrigin) (model.EventType, time.Time, model.Origin, error) {
	var t time.Time
	if event == nil {
		return 0, t, model.Origin{}, &JSONError{Field: "event", Err: errors.New("missing")}
	}
	name, ok := strings.CutPrefix(*event, prefix)
	typ, known := model.ParseEventType(name)
	if !ok || !known {
		return 0, t, model.Origin{}, fmt.Errorf("event %q: %w", *event, ErrNotEntryRecord)
	}
	if tm != nil {
		p, err := time.Parse(time.RFC3339Nano, *tm)
		if err != nil {
			return typ, t, model.Origin{}, &JSONError{Field: "time", Err: err}
		}
		t = p.UTC()
	}
	if o == nil {
		return typ, t, model.Origin{}, nil
	}
	if o.PortID == 0 {
		return typ, t, model.Origin{}, &JSONError{Field: "origin.portid", Err: errors.New("port id 0 is the kernel, not userspace")}
	}
	return typ, t, model.Origin{PortID: o.PortID, PID: o.PID, Program: o.Program}, nil
}

// parseFamilyProto parses the family, protonum and proto keys an entry
// and an expectation share: family and protonum are required, proto, the
// name, must match protonum when present.
func parseFamilyProto(family *string, protonum *uint8, proto *string) (model.Family, model.Proto, error) {
	if family == nil {
		return 0, 0, &JSONError{Field: "family", Err: errors.New("missing")}
	}
	f, ok := model.ParseFamily(*family)
	if !ok || (f != model.FamilyIPv4 && f != model.FamilyIPv6) {
		return 0, 0, &JSONError{Field: "family", Err: fmt.Errorf("unknown family %q", *family)}
	}
	if protonum == nil {
		return f, 0, &JSONError{Field: "protonum", Err: errors.New("missing")}
	}
	p := model.Proto(*protonum)
	if proto != nil && *proto != p.JSONName() {
		return f, p, &JSONError{Field: "proto", Err: fmt.Errorf("%q does not match protonum %d", *proto, p)}
	}
	return f, p, nil
}

// setOptional copies an optional key's value, when the record has it, to
// dst and sets its presence bit f in fields: of an entry (model.Field) or
// of an expectation (model.ExpectField).
func setOptional[T any, F ~uint16 | ~uint32](src, dst *T, fields *F, f F) {
	if src != nil {
		*dst = *src
		*fields |= f
	}
}

func (j *jsonEvent) entry(e *model.Entry) error {
	missing := func(field string) error { return &JSONError{Field: field, Err: errors.New("missing")} }
	var err error
	if e.Family, e.Proto, err = parseFamilyProto(j.Family, j.Protonum, j.Proto); err != nil {
		return err
	}
	setOptional(j.Timeout, &e.Timeout, &e.Fields, model.FieldTimeout)
	if j.State != nil {
		s, ok := model.ParseState(e.Proto, *j.State)
		if !ok {
			return &JSONError{Field: "state", Err: fmt.Errorf("%q is not a %s state", *j.State, e.Proto)}
		}
		e.State = s
		e.Fields |= model.FieldState
	}
	setOptional(j.OrigVtag, &e.OrigVtag, &e.Fields, model.FieldOrigVtag)
	setOptional(j.ReplyVtag, &e.ReplyVtag, &e.Fields, model.FieldReplyVtag)
	if j.Role != nil {
		r, ok := model.ParseDCCPRole(*j.Role)
		if !ok {
			return &JSONError{Field: "role", Err: fmt.Errorf("%q is not a DCCP role (client, server)", *j.Role)}
		}
		e.DCCPRole = r
		e.Fields |= model.FieldDCCPRole
	}
	if j.Orig == nil {
		return missing("orig")
	}
	if j.Reply == nil {
		return missing("reply")
	}
	if err := j.Orig.tuple(e, &e.Orig, "orig", model.FieldOrigZone, model.FieldOrigCounters); err != nil {
		return err
	}
	if err := j.Reply.tuple(e, &e.Reply, "reply", model.FieldReplyZone, model.FieldReplyCounters); err != nil {
		return err
	}
	if j.Master != nil {
		if err := j.Master.master(e); err != nil {
			return err
		}
	}
	if j.Status != nil {
		for _, n := range j.Status {
			b, ok := model.ParseStatusBit(n)
			if !ok {
				return &JSONError{Field: "status", Err: fmt.Errorf("unknown status bit %q", n)}
			}
			e.Status |= b
		}
	} else {
		if j.Unreplied == nil || !*j.Unreplied {
			e.Status |= model.StatusSeenReply
		}
		if j.Assured != nil && *j.Assured {
			e.Status |= model.StatusAssured
		}
	}
	if j.Unreplied != nil && *j.Unreplied != e.Status.Unreplied() {
		return &JSONError{Field: "unreplied", Err: errors.New("contradicts status")}
	}
	if j.Assured != nil && *j.Assured != e.Status.Assured() {
		return &JSONError{Field: "assured", Err: errors.New("contradicts status")}
	}
	setOptional(j.Mark, &e.Mark, &e.Fields, model.FieldMark)
	setOptional(j.Secmark, &e.Secmark, &e.Fields, model.FieldSecmark)
	setOptional(j.Use, &e.Use, &e.Fields, model.FieldUse)
	setOptional(j.ID, &e.ID, &e.Fields, model.FieldID)
	setOptional(j.Zone, &e.Zone, &e.Fields, model.FieldZone)
	setOptional(j.Secctx, &e.Secctx, &e.Fields, model.FieldSecctx)
	setOptional(j.Helper, &e.Helper, &e.Fields, model.FieldHelper)
	if j.Labels != nil {
		e.Labels = j.Labels
		e.Fields |= model.FieldLabels
	}
	for _, ts := range []struct {
		field string
		src   *string
		dst   *time.Time
		bit   model.Field
	}{{"start", j.Start, &e.Start, model.FieldStart}, {"stop", j.Stop, &e.Stop, model.FieldStop}} {
		if ts.src == nil {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, *ts.src)
		if err != nil {
			return &JSONError{Field: ts.field, Err: err}
		}
		*ts.dst = tm.UTC()
		e.Fields |= ts.bit
	}
	setOptional(j.DeltaTime, &e.DeltaTime, &e.Fields, model.FieldDeltaTime)
	if (j.GRE == nil) != (j.GREStream == nil) {
		return &JSONError{Field: "gre_timeout", Err: errors.New("gre_timeout and gre_stream_timeout come together")}
	}
	if j.GRE != nil && e.Proto != model.ProtoGRE {
		return &JSONError{Field: "gre_timeout", Err: errors.New("only GRE entries carry GRE timeouts")}
	}
	if j.GRE != nil {
		e.GRETimeout, e.GREStreamTimeout = *j.GRE, *j.GREStream
		e.Fields |= model.FieldGRETimeouts
	}
	return nil
}

// master reads the master tuple into e: a tuple of the master's
// protocol, the entry's unless proto names another, without zone or
// counters (the kernel sends neither).
func (jt *jsonTuple) master(e *model.Entry) error {
	e.MasterProto = e.Proto
	if jt.Proto != nil {
		p, ok := model.ParseProto(*jt.Proto)
		if !ok || *jt.Proto != p.JSONName() {
			return &JSONError{Field: "master.proto", Err: fmt.Errorf("unknown protocol %q", *jt.Proto)}
		}
		e.MasterProto = p
	}
	if jt.Zone != nil || jt.Packets != nil || jt.Bytes != nil {
		return &JSONError{Field: "master", Err: errors.New("a master tuple has no zone or counters")}
	}
	if err := jt.tupleOf(e, e.MasterProto, &e.Master, "master", 0, 0); err != nil {
		return err
	}
	e.Fields |= model.FieldMaster
	return nil
}

func (jt *jsonTuple) tuple(e *model.Entry, t *model.Tuple, dir string, zone, counters model.Field) error {
	return jt.tupleOf(e, e.Proto, t, dir, zone, counters)
}

// tupleOf reads a tuple of protocol p into t.
func (jt *jsonTuple) tupleOf(e *model.Entry, p model.Proto, t *model.Tuple, dir string, zone, counters model.Field) error {
	addr := func(key string, s *string) (netip.Addr, error) {
		if s == nil {
			return netip.Addr{}, &JSONError{Field: dir + "." + key, Err: errors.New("missing")}
		}
		a, err := netip.ParseAddr(*s)
		if err != nil || a.Zone() != "" || a.Is6() != (e.Family == model.FamilyIPv6) {
			return netip.Addr{}, &JSONError{Field: dir + "." + key, Err: fmt.Errorf("%q is not an %s address", *s, e.Family)}
		}
		return a, nil
	}
	var err error
	if t.Src, err = addr("src", jt.Src); err != nil {
		return err
	}
	if t.Dst, err = addr("dst", jt.Dst); err != nil {
		return err
	}
	u16 := func(key string, p *uint16) (uint16, error) {
		if p == nil {
			return 0, &JSONError{Field: dir + "." + key, Err: errors.New("missing")}
		}
		return *p, nil
	}
	switch {
	case p.HasPorts():
		if t.SrcPort, err = u16("sport", jt.Sport); err != nil {
			return err
		}
		if t.DstPort, err = u16("dport", jt.Dport); err != nil {
			return err
		}
	case p.IsICMP():
		if jt.Type == nil || jt.Code == nil {
			return &JSONError{Field: dir + ".type", Err: errors.New("type and code are required for " + p.String())}
		}
		t.ICMPType, t.ICMPCode = *jt.Type, *jt.Code
		if t.ICMPID, err = u16("id", jt.ID); err != nil {
			return err
		}
	case p == model.ProtoGRE:
		if t.SrcPort, err = u16("srckey", jt.SrcKey); err != nil {
			return err
		}
		if t.DstPort, err = u16("dstkey", jt.DstKey); err != nil {
			return err
		}
	}
	if jt.Zone != nil {
		t.Zone = *jt.Zone
		e.Fields |= zone
	}
	if (jt.Packets == nil) != (jt.Bytes == nil) {
		return &JSONError{Field: dir + ".packets", Err: errors.New("packets and bytes come together")}
	}
	if jt.Packets != nil {
		t.Packets, t.Bytes = *jt.Packets, *jt.Bytes
		e.Fields |= counters
	}
	return nil
}
