package record

import (
	"bytes"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The classes of the entry records, by event type (ECS 9.4.0 expects
// connection, start, end and info with category network; change is not
// among them, so an update is info). A snapshot, a line of a table
// listing, is the state of a connection rather than a change of it.
var (
	ecsNewClass       = ecsClass{"event", ecsNetwork, `["connection","start"]`, "conntrack-new"}
	ecsUpdateClass    = ecsClass{"event", ecsNetwork, `["connection","info"]`, "conntrack-update"}
	ecsDestroyClass   = ecsClass{"event", ecsNetwork, `["connection","end"]`, "conntrack-destroy"}
	ecsSnapshotClass  = ecsClass{"state", ecsNetwork, `["connection","info"]`, "conntrack-snapshot"}
	ecsUnknownClass   = ecsClass{"event", ecsNetwork, `["connection","info"]`, "conntrack-unknown"}
	ecsUnrepliedClass = ecsClass{"alert", ecsNetwork, `["connection","info"]`, "conntrack-unreplied"}
)

// ecsEntryClass returns the class of an entry event of type t.
func ecsEntryClass(t model.EventType) *ecsClass {
	switch t {
	case model.EventNew:
		return &ecsNewClass
	case model.EventUpdate:
		return &ecsUpdateClass
	case model.EventDestroy:
		return &ecsDestroyClass
	case model.EventSnapshot:
		return &ecsSnapshotClass
	}
	return &ecsUnknownClass
}

// ecsOutcome returns the event.outcome of a flow that ended with o: success
// for an orderly end (closed, timed out), failure for one that never
// worked (reset, rejected, unreplied), unknown when conntrack cannot say
// (deleted, unknown).
func ecsOutcome(o flow.Outcome) string {
	switch o {
	case flow.OutcomeClosed, flow.OutcomeTimeout:
		return ecsSuccess
	case flow.OutcomeReset, flow.OutcomeRejected, flow.OutcomeUnreplied:
		return ecsFailure
	}
	return ecsUnknown
}

// ecsEntryRec is an entry record to write: the entry and what the record
// says about it besides. Pointers are nil when absent.
type ecsEntryRec struct {
	level zerolog.Level
	class *ecsClass
	// event is the native event name, for conntrack.event.
	event string
	// at is the record's @timestamp; evTime the event's own time (zero for
	// a source that gave none).
	at, evTime time.Time
	entry      *model.Entry
	origin     *model.Origin
	tr         *flow.Transition
	lc         *flow.Lifecycle
	inferred   bool
	// reason is the inferred end's inferred_reason.
	reason  string
	un      *flow.Unreplied
	message string
	// netns is the namespace the entry is of.
	netns model.NetNS
}

func (e *Encoder) ecsEntry(ev *model.Event, res *flow.Result) {
	z := e.ecsOpen(zerolog.InfoLevel)
	if z == nil {
		return
	}
	r := ecsEntryRec{level: zerolog.InfoLevel, class: ecsEntryClass(ev.Type), event: ev.Type.String(),
		at: ev.Time, evTime: ev.Time, entry: &ev.Entry, origin: &ev.Origin, netns: ev.NetNS}
	if r.at.IsZero() {
		r.at = e.clock()
	}
	if res != nil {
		if res.HasTransition {
			r.tr = &res.Transition
		}
		if ev.Type == model.EventDestroy {
			r.lc = &res.Flow
		}
	}
	e.ecsEntryRecord(z, &r)
}

func (e *Encoder) ecsEvent(ev *model.Event) {
	z := e.ecsOpen(zerolog.NoLevel)
	if z == nil {
		return
	}
	r := ecsEntryRec{level: zerolog.NoLevel, class: ecsEntryClass(ev.Type), event: ev.Type.String(),
		at: ev.Time, evTime: ev.Time, entry: &ev.Entry, origin: &ev.Origin, netns: ev.NetNS}
	if r.at.IsZero() {
		// @timestamp is required: a line without a time is stamped when
		// it was read (ECS allows the time the pipeline received it).
		r.at = e.clock()
	}
	e.ecsEntryRecord(z, &r)
}

func (e *Encoder) ecsInferred(in *flow.Inferred) {
	z := e.ecsOpen(zerolog.InfoLevel)
	if z == nil {
		return
	}
	r := ecsEntryRec{level: zerolog.InfoLevel, class: &ecsDestroyClass, event: model.EventDestroy.String(),
		at: in.Time, entry: &in.Entry, lc: &in.Flow, inferred: true, reason: inferredReason(in), netns: in.NetNS}
	if r.at.IsZero() {
		r.at = e.clock()
	}
	e.ecsEntryRecord(z, &r)
}

func (e *Encoder) ecsUnreplied(u *flow.Unreplied) {
	z := e.ecsOpen(zerolog.WarnLevel)
	if z == nil {
		return
	}
	r := ecsEntryRec{level: zerolog.WarnLevel, class: &ecsUnrepliedClass, event: "unreplied",
		at: e.clock(), entry: &u.Entry, un: u, message: unrepliedHint, netns: u.NetNS}
	e.ecsEntryRecord(z, &r)
}

// ecsTimes returns the event.* values of an entry record: the flow's
// start, and on a destroy its end, duration and outcome. The start is the
// kernel's timestamp when the entry carries it, else what the tracker
// knows: the NEW itself, the time since the start a transition gives, the
// duration of an ended flow (a lower bound when the flow was not seen from
// its NEW, which conntrack.flow.lower_bound says). An inferred end has no
// time of its own: its @timestamp is when it was found, and event.end is
// the flow's last event only when the kernel's start makes it known.
func ecsTimes(r *ecsEntryRec) ecsEventExtra {
	var x ecsEventExtra
	en := r.entry
	if en.Fields.Has(model.FieldStart) {
		x.start = en.Start
	}
	switch {
	case r.un != nil:
		x.start = r.un.FirstSeen
	case r.class == &ecsNewClass:
		if x.start.IsZero() {
			x.start = r.evTime
		}
	case r.class == &ecsDestroyClass:
		if en.Fields.Has(model.FieldStop) {
			x.end = en.Stop
		} else if !r.inferred {
			x.end = r.evTime
		}
		if r.lc != nil && r.lc.DurationKnown {
			x.duration, x.hasDuration = r.lc.Duration, true
		} else if en.Fields.Has(model.FieldStart) && en.Fields.Has(model.FieldStop) && !en.Stop.Before(en.Start) {
			x.duration, x.hasDuration = en.Stop.Sub(en.Start), true
		}
		if x.hasDuration {
			switch {
			case x.start.IsZero() && !x.end.IsZero():
				x.start = x.end.Add(-x.duration)
			case x.end.IsZero() && !x.start.IsZero():
				x.end = x.start.Add(x.duration)
			}
		}
		x.outcome = ecsUnknown
		if r.lc != nil {
			x.outcome = ecsOutcome(r.lc.Outcome)
			x.reason = r.lc.Outcome.String()
		}
	default:
		if x.start.IsZero() && r.tr != nil && r.tr.AfterKnown && !r.evTime.IsZero() {
			x.start = r.evTime.Add(-r.tr.After)
		}
	}
	return x
}

// ecsEntryRecord writes an entry record: the ECS fields of the flow
// (network, source, destination with their NAT, related, process) and the
// whole native entry under conntrack.
func (e *Encoder) ecsEntryRecord(z *zerolog.Event, r *ecsEntryRec) {
	en := r.entry
	x := ecsTimes(r)
	// The kernel's timestamps are written twice (event.start and .end,
	// conntrack.start and .stop) and each address twice (its ECS fields
	// and the native tuples under conntrack): they are formatted once.
	var eb entryBytes
	eb.format(en, true)
	if k := eb.kstart(); k != nil && x.start == en.Start {
		x.startRaw = k
	}
	if k := eb.kstop(); k != nil && x.end == en.Stop {
		x.endRaw = k
	}
	e.ecsHead(z, r.at, r.level, r.class, &x, r.message)
	osrc, odst, rsrc, rdst := eb.osrc(), eb.odst(), eb.rsrc(), eb.rdst()

	var buf [512]byte
	ports := en.Proto.HasPorts()
	origCounters := en.Fields.Has(model.FieldOrigCounters)
	replyCounters := en.Fields.Has(model.FieldReplyCounters)

	b := appendECSNetworkProto(append(buf[:0], '{'), en.Family, en.Proto)
	var cid [communityid.Len]byte
	if id := communityid.AppendEntry(cid[:0], en, 0); len(id) > 0 {
		b = append(objKey(b, "community_id"), '"')
		b = append(append(b, id...), '"')
	}
	if origCounters && replyCounters {
		b = objUint(b, "bytes", en.Orig.Bytes+en.Reply.Bytes)
		b = objUint(b, "packets", en.Orig.Packets+en.Reply.Packets)
	}
	z.RawJSON("network", append(b, '}'))

	// The original tuple is the flow as its initiator sent it; the reply
	// tuple differs from its inverse where NAT rewrote it: the reply's
	// destination is the source after SNAT, its source the destination
	// after DNAT. Only protocols with ports compare ports (an ICMP id or
	// GRE key is not a port).
	replyValid := en.Reply.Src.IsValid() && en.Reply.Dst.IsValid()
	snat := replyValid && (en.Reply.Dst != en.Orig.Src || ports && en.Reply.DstPort != en.Orig.SrcPort)
	dnat := replyValid && (en.Reply.Src != en.Orig.Dst || ports && en.Reply.SrcPort != en.Orig.DstPort)

	b = append(buf[:0], '{')
	b = objRaw(b, "ip", osrc)
	if ports {
		b = objUint(b, "port", uint64(en.Orig.SrcPort))
	}
	if origCounters {
		b = objUint(b, "bytes", en.Orig.Bytes)
		b = objUint(b, "packets", en.Orig.Packets)
	}
	if snat {
		b = objRaw(append(objKey(b, "nat"), '{'), "ip", rdst)
		if ports {
			b = objUint(b, "port", uint64(en.Reply.DstPort))
		}
		b = append(b, '}')
	}
	z.RawJSON("source", append(b, '}'))

	b = append(buf[:0], '{')
	b = objRaw(b, "ip", odst)
	if ports {
		b = objUint(b, "port", uint64(en.Orig.DstPort))
	}
	if replyCounters {
		b = objUint(b, "bytes", en.Reply.Bytes)
		b = objUint(b, "packets", en.Reply.Packets)
	}
	if dnat {
		b = objRaw(append(objKey(b, "nat"), '{'), "ip", rsrc)
		if ports {
			b = objUint(b, "port", uint64(en.Reply.SrcPort))
		}
		b = append(b, '}')
	}
	z.RawJSON("destination", append(b, '}'))

	b = append(buf[:0], `{"ip":[`...)
	b = append(b, osrc...)
	addrs := [4][]byte{osrc, odst, rsrc, rdst}
	for i := 1; i < len(addrs); i++ {
		dup := false
		for j := 0; j < i; j++ {
			if bytes.Equal(addrs[i], addrs[j]) {
				dup = true
				break
			}
		}
		if !dup {
			b = append(append(b, ','), addrs[i]...)
		}
	}
	z.RawJSON("related", append(b, ']', '}'))

	if r.origin != nil {
		ecsProcess(z, r.origin)
	}
	ns := e.netnsOf(r.netns)
	ecsContainer(z, ns)

	var cb [2048]byte
	z.RawJSON("conntrack", e.appendECSConntrack(cb[:0], r, &eb, ns))
	z.Send()
}

// appendECSNetworkProto appends the keys of the network object that name
// the family and the protocol (type, transport, iana_number) to dst, an
// open object, for an entry record and an expectation record alike.
func appendECSNetworkProto(dst []byte, f model.Family, p model.Proto) []byte {
	if t := ecsNetworkType(f); t != "" {
		dst = objStr(dst, "type", t)
	}
	if t := ecsTransport(p); t != "" {
		dst = objStr(dst, "transport", t)
	}
	dst = append(objKey(dst, "iana_number"), '"')
	return append(appendUint8(dst, uint8(p)), '"')
}

// ecsProcess writes the process object of the program that caused an
// event, when the origin names its pid or program (a port id alone says
// nothing ECS has a field for).
func ecsProcess(z *zerolog.Event, o *model.Origin) {
	if o.PID == 0 && o.Program == "" {
		return
	}
	p := zerolog.Dict()
	if o.PID != 0 {
		p.Int32("pid", o.PID)
	}
	if o.Program != "" {
		p.Str("name", o.Program)
	}
	z.Dict("process", p)
}

// appendECSConntrack appends the conntrack object of an entry record: the
// event and the run, the native entry's keys (less family and protonum,
// which network.type and network.iana_number carry), its origin,
// transition and lifecycle, and for an unreplied warning the warning's own
// keys; netns after the run when ns is not nil.
func (e *Encoder) appendECSConntrack(dst []byte, r *ecsEntryRec, eb *entryBytes, ns *netnsSlot) []byte {
	dst = objStr(append(dst, '{'), "event", r.event)
	dst = objStr(dst, "run", e.run)
	if ns != nil {
		dst = objRaw(dst, "netns", ns.json)
	}
	dst = appendEntryKeys(dst, r.entry, eb)
	dst = appendFlowKeys(dst, r.origin, r.tr, r.lc)
	if r.inferred {
		dst = objBool(dst, "inferred", true)
		dst = objStr(dst, "inferred_reason", r.reason)
	}
	if u := r.un; u != nil {
		// The warning's keys: first_seen and the rest under
		// unreplied_warning (conntrack.unreplied is the entry's boolean),
		// seen_from and lower_bound where a destroy has them.
		dst = append(objKey(dst, "unreplied_warning"), '{')
		dst = objUint(dst, "flows", 1)
		dst = objTime(dst, "first_seen", u.FirstSeen)
		dst = appendSeconds(objKey(dst, "age_s"), u.Age)
		dst = objInt(dst, "repeats", int64(u.Repeats))
		dst = objTime(dst, "repeats_since", u.RepeatsSince)
		dst = append(objKey(append(dst, '}'), "flow"), '{')
		dst = objStr(dst, "seen_from", u.SeenFrom.String())
		if u.LowerBound {
			dst = objBool(dst, "lower_bound", true)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendUint8 appends v in decimal.
func appendUint8(dst []byte, v uint8) []byte {
	switch {
	case v >= 100:
		dst = append(dst, '0'+v/100)
		fallthrough
	case v >= 10:
		dst = append(dst, '0'+v/10%10)
	}
	return append(dst, '0'+v%10)
}
