package record

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The OCSF schema's entry records: Network Activity (4001). What OCSF
// defines goes to its attributes (endpoints, connection_info, traffic,
// times, actor); everything conntrack-specific goes under
// unmapped.conntrack with its native name, the native entry's keys
// included, so that nothing the native record carries is lost.

// ocsfIANANames are the IANA protocol keywords, in lowercase, that OCSF's
// protocol_name takes (D1): ctwatch's own names but for ICMPv6.
func ocsfIANAName(p model.Proto) string {
	switch p {
	case model.ProtoICMPv6:
		return "ipv6-icmp"
	case model.ProtoICMP, model.ProtoTCP, model.ProtoUDP, model.ProtoDCCP, model.ProtoGRE, model.ProtoSCTP, model.ProtoUDPLite:
		return p.String()
	}
	return ""
}

// ocsfEntryClass returns the classification of an entry event: its
// activity by event type, and for a DESTROY by the flow's outcome (D11),
// with the status the outcome implies (-1 for none).
func ocsfEntryClass(t model.EventType, lc *flow.Lifecycle) (ocsfClass, int) {
	c := ocsfClass{class: ocsfNetworkActivity, severity: ocsfInformational}
	status := -1
	switch t {
	case model.EventNew:
		c.activity, c.activityName = ocsfOpen, "Open"
	case model.EventUpdate, model.EventSnapshot:
		c.activity, c.activityName = ocsfTraffic, "Traffic"
	case model.EventDestroy:
		c.activity, c.activityName, status = ocsfClose, "Close", ocsfStatusUnknown
		if lc != nil {
			switch lc.Outcome {
			case flow.OutcomeClosed, flow.OutcomeTimeout:
				status = ocsfStatusSuccess
			case flow.OutcomeReset:
				c.activity, c.activityName, status = ocsfReset, "Reset", ocsfStatusFailure
			case flow.OutcomeUnreplied:
				c.activity, c.activityName, status = ocsfFail, "Fail", ocsfStatusFailure
			case flow.OutcomeRejected:
				c.activity, c.activityName, status = ocsfRefuse, "Refuse", ocsfStatusFailure
			}
		}
	default:
		c.activity, c.activityName = ocsfActivityUnknown, "Unknown"
	}
	return c, status
}

// ocsfNetwork writes the Network Activity attributes of an entry: the
// endpoints of its original tuple, connection_info, and traffic and
// cumulative_traffic (the same counters: conntrack's are totals since the
// flow began, which is also the period start_time..time that traffic
// covers; out is the original direction, D3).
func ocsfNetwork(z *zerolog.Event, en *model.Entry) {
	var buf [256]byte
	z.RawJSON("src_endpoint", ocsfAppendEndpoint(buf[:0], en, en.Orig.Src, en.Orig.SrcPort))
	z.RawJSON("dst_endpoint", ocsfAppendEndpoint(buf[:0], en, en.Orig.Dst, en.Orig.DstPort))

	b := append(buf[:0], `{"protocol_num":`...)
	b = strconv.AppendUint(b, uint64(en.Proto), 10)
	if n := ocsfIANAName(en.Proto); n != "" {
		b = append(b, `,"protocol_name":"`...)
		b = append(b, n...)
		b = append(b, '"')
	}
	switch en.Family {
	case model.FamilyIPv4:
		b = append(b, `,"protocol_ver_id":4`...)
	case model.FamilyIPv6:
		b = append(b, `,"protocol_ver_id":6`...)
	}
	var id [communityid.Len]byte
	if cid := communityid.AppendEntry(id[:0], en, 0); len(cid) > 0 {
		b = append(b, `,"community_uid":"`...)
		b = append(b, cid...)
		b = append(b, '"')
	}
	// ctwatch does not know which addresses are the host's (D8).
	z.RawJSON("connection_info", append(b, `,"direction_id":0}`...))

	orig, reply := en.Fields.Has(model.FieldOrigCounters), en.Fields.Has(model.FieldReplyCounters)
	if !orig && !reply {
		return
	}
	b = append(buf[:0], '{')
	if orig {
		b = append(b, `"bytes_out":`...)
		b = strconv.AppendInt(b, ocsfLong(en.Orig.Bytes), 10)
		b = append(b, `,"packets_out":`...)
		b = strconv.AppendInt(b, ocsfLong(en.Orig.Packets), 10)
	}
	if reply {
		if orig {
			b = append(b, ',')
		}
		b = append(b, `"bytes_in":`...)
		b = strconv.AppendInt(b, ocsfLong(en.Reply.Bytes), 10)
		b = append(b, `,"packets_in":`...)
		b = strconv.AppendInt(b, ocsfLong(en.Reply.Packets), 10)
	}
	if orig && reply {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, ocsfSum(en.Orig.Bytes, en.Reply.Bytes), 10)
		b = append(b, `,"packets":`...)
		b = strconv.AppendInt(b, ocsfSum(en.Orig.Packets, en.Reply.Packets), 10)
	}
	b = append(b, '}')
	z.RawJSON("traffic", b)
	z.RawJSON("cumulative_traffic", b)
}

// ocsfAppendEndpoint appends a network_endpoint: an address, and a port
// for the protocols that have ports (never ICMP's type and code, D10).
func ocsfAppendEndpoint(dst []byte, en *model.Entry, a netip.Addr, port uint16) []byte {
	dst = append(dst, `{"ip":`...)
	dst = appendAddr(dst, en.Family, a)
	if en.Proto.HasPorts() {
		dst = append(dst, `,"port":`...)
		dst = strconv.AppendUint(dst, uint64(port), 10)
	}
	return append(dst, '}')
}

// ocsfActor writes actor.process for an event a userspace program caused,
// when its pid is known (a process needs one).
func ocsfActor(z *zerolog.Event, o *model.Origin) {
	if o.PID <= 0 {
		return
	}
	var buf [128]byte
	b := append(buf[:0], `{"process":{"pid":`...)
	b = strconv.AppendInt(b, int64(o.PID), 10)
	if o.Program != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, o.Program)
	}
	z.RawJSON("actor", append(b, `}}`...))
}

// ocsfTimes writes start_time, end_time and duration, each when known. A
// flow's start is the kernel's start timestamp, else its NEW, else (on a
// DESTROY with a lifecycle) its end less its duration; its end is the
// kernel's stop timestamp, else the DESTROY's time.
func ocsfTimes(z *zerolog.Event, typ model.EventType, at time.Time, en *model.Entry, lc *flow.Lifecycle) {
	var start, end time.Time
	if en.Fields.Has(model.FieldStart) {
		start = en.Start
	} else if typ == model.EventNew {
		start = at
	}
	if typ == model.EventDestroy {
		if en.Fields.Has(model.FieldStop) {
			end = en.Stop
		} else if lc == nil || !lc.Inferred {
			// An inferred end's time is when it was found, not the end.
			end = at
		}
	}
	var dur time.Duration
	durKnown := false
	if lc != nil && lc.DurationKnown {
		dur, durKnown = lc.Duration, true
		switch {
		case start.IsZero() && !end.IsZero():
			start = end.Add(-dur)
		case end.IsZero() && !start.IsZero():
			end = start.Add(dur)
		}
	} else if typ == model.EventDestroy && !start.IsZero() && !end.IsZero() && !end.Before(start) {
		dur, durKnown = end.Sub(start), true
	}
	if !start.IsZero() {
		z.Int64("start_time", start.UnixMilli())
	}
	if !end.IsZero() {
		z.Int64("end_time", end.UnixMilli())
	}
	if durKnown {
		z.Int64("duration", ocsfMillis(dur))
	}
}

// ocsfEntryRecord writes an entry record: an event of type typ at time at
// about en, caused by origin (nil for none), with the tracker's transition
// and lifecycle when it has them (lc only on a DESTROY), in namespace n, and
// for an inferred end the reason it was inferred (empty for a record that
// is not an inferred end). The event comes in
// parts so that an inferred end, whose event is made on the stack, costs
// no allocation: only what is handed to zerolog as an interface escapes.
func (e *Encoder) ocsfEntryRecord(level zerolog.Level, typ model.EventType, at time.Time, en *model.Entry, origin *model.Origin,
	tr *flow.Transition, lc *flow.Lifecycle, n model.NetNS, inferredReason string) {
	c, status := ocsfEntryClass(typ, lc)
	ns := e.netnsOf(n)
	z, seq := e.ocsfRecordNS(level, c, at, ns)
	if z == nil {
		return
	}
	if status >= 0 {
		ocsfStatus(z, status)
	}
	ocsfTimes(z, typ, at, en, lc)
	ocsfNetwork(z, en)
	switch {
	case typ == model.EventNew:
		// The NEW's original tuple is the first packet's direction.
		z.Bool("is_src_dst_assignment_known", true)
	case lc != nil && lc.SeenFrom == flow.SeenFromNew:
		z.Bool("is_src_dst_assignment_known", true)
	}
	if origin != nil {
		ocsfActor(z, origin)
	}
	var buf [2048]byte
	z.RawJSON("unmapped", e.appendOCSFConntrack(buf[:0], seq, typ.String(), en, origin, tr, lc, ns, inferredReason))
	z.Send()
}

func (e *Encoder) ocsfEntry(ev *model.Event, res *flow.Result) {
	var tr *flow.Transition
	var lc *flow.Lifecycle
	if res != nil {
		if res.HasTransition {
			tr = &res.Transition
		}
		if ev.Type == model.EventDestroy {
			lc = &res.Flow
		}
	}
	e.ocsfEntryRecord(zerolog.InfoLevel, ev.Type, ev.Time, &ev.Entry, &ev.Origin, tr, lc, ev.NetNS, "")
}

func (e *Encoder) ocsfEvent(ev *model.Event) {
	e.ocsfEntryRecord(zerolog.NoLevel, ev.Type, ev.Time, &ev.Entry, &ev.Origin, nil, nil, ev.NetNS, "")
}

func (e *Encoder) ocsfInferred(in *flow.Inferred) {
	// The DESTROY the kernel would have sent (flow.Inferred.Event): no
	// origin, the time the end was found.
	e.ocsfEntryRecord(zerolog.InfoLevel, model.EventDestroy, in.Time, &in.Entry, nil, nil, &in.Flow, in.NetNS, inferredReason(in))
}

func (e *Encoder) ocsfUnreplied(u *flow.Unreplied) {
	ns := e.netnsOf(u.NetNS)
	z, seq := e.ocsfRecordNS(zerolog.WarnLevel, ocsfClass{class: ocsfNetworkActivity, activity: ocsfActivityOther,
		activityName: "Unreplied", severity: ocsfLow}, u.Time, ns)
	if z == nil {
		return
	}
	if !u.FirstSeen.IsZero() {
		z.Int64("start_time", u.FirstSeen.UnixMilli())
	}
	z.Int("count", ocsfInt(uint64(max(u.Repeats, 0))))
	z.Str("message", unrepliedHint)
	ocsfNetwork(z, &u.Entry)
	if u.SeenFrom == flow.SeenFromNew {
		z.Bool("is_src_dst_assignment_known", true)
	}
	c := e.ocsfConntrack(seq, "unreplied")
	if ns != nil {
		c.RawJSON("netns", ns.json)
	}
	(*entryJSON)(&u.Entry).MarshalZerologObject(c)
	var buf [40]byte
	c.Dict("unreplied_warning", zerolog.Dict().
		Int("flows", 1).
		RawJSON("first_seen", AppendTime(buf[:0], u.FirstSeen)).
		RawJSON("age_s", appendSeconds(buf[:0], u.Age)).
		Int("repeats", u.Repeats).
		RawJSON("repeats_since", AppendTime(buf[:0], u.RepeatsSince)))
	f := zerolog.Dict().Str("seen_from", u.SeenFrom.String())
	if u.LowerBound {
		f.Bool("lower_bound", true)
	}
	c.Dict("flow", f)
	ocsfUnmapped(z, c)
}
