package record

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The native schema's entry records. Each type is a free conversion of the
// model or tracker value it writes, so that writing one costs neither a
// copy nor an allocation.
type (
	entryJSON      model.Entry
	originJSON     model.Origin
	transitionJSON flow.Transition
	lifecycleJSON  flow.Lifecycle
	unrepliedJSON  flow.Unreplied
)

// nativeEventRecord writes an entry event's keys into z, a record just
// started: time (when known), event, the envelope (seq, run, host), the
// entry's keys (community_id among them), and origin (for events a
// userspace program caused). It returns z, nil when z is nil (a record its
// level filters out, which takes no sequence number).
func (e *Encoder) nativeEventRecord(z *zerolog.Event, ev *model.Event) *zerolog.Event {
	if z == nil {
		return nil
	}
	if !ev.Time.IsZero() {
		var buf [40]byte
		z.RawJSON("time", AppendTime(buf[:0], ev.Time))
	}
	z.Str("event", ev.Type.String())
	e.nativeEnvelope(z)
	e.nativeNetNS(z, ev.NetNS)
	(*entryJSON)(&ev.Entry).MarshalZerologObject(z)
	if !ev.Origin.IsZero() {
		// A pooled dictionary rather than z.Object: a marshaler boxed
		// into an interface would make ev escape, and an inferred end's
		// event, made on the stack, would cost an allocation.
		o := zerolog.Dict()
		(*originJSON)(&ev.Origin).MarshalZerologObject(o)
		z.Dict("origin", o)
	}
	return z
}

// nativeNetNS writes the "netns" object of namespace n, when the encoder
// names namespaces (Config.NetNS).
func (e *Encoder) nativeNetNS(z *zerolog.Event, n model.NetNS) {
	if s := e.netnsOf(n); s != nil {
		z.RawJSON("netns", s.json)
	}
}

// MarshalZerologObject writes the origin's portid, and pid and program when
// known.
func (o *originJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Uint32("portid", o.PortID)
	if o.PID != 0 {
		z.Int32("pid", o.PID)
	}
	if o.Program != "" {
		z.Str("program", o.Program)
	}
}

// MarshalZerologObject writes the entry's keys, community_id (the
// Community ID v1 of the original tuple, seed 0) among them; keys for values
// the entry does not carry are omitted.
func (e *entryJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Str("family", e.Family.String())
	z.Str("proto", e.Proto.JSONName())
	z.Uint8("protonum", uint8(e.Proto))
	if e.Fields.Has(model.FieldTimeout) {
		z.Uint32("timeout", e.Timeout)
	}
	if e.Fields.Has(model.FieldState) {
		z.Str("state", e.State.Name(e.Proto))
	}
	if e.Fields.Has(model.FieldOrigVtag) {
		z.Uint32("orig_vtag", e.OrigVtag)
	}
	if e.Fields.Has(model.FieldReplyVtag) {
		z.Uint32("reply_vtag", e.ReplyVtag)
	}
	if e.Fields.Has(model.FieldDCCPRole) {
		z.Str("role", e.DCCPRole.String())
	}
	// zerolog's pooled Dict costs no allocation once warm, where a
	// marshaler value carrying the entry would be boxed into an interface.
	z.Dict("orig", e.tupleDict(&e.Orig, model.FieldOrigZone, model.FieldOrigCounters))
	z.Dict("reply", e.tupleDict(&e.Reply, model.FieldReplyZone, model.FieldReplyCounters))
	if e.Fields.Has(model.FieldMaster) {
		z.Dict("master", e.masterDict())
	}
	var id [communityid.Len]byte
	if cid := communityid.AppendEntry(id[:0], (*model.Entry)(e), 0); len(cid) > 0 {
		// A flow the specification cannot hash has none.
		z.Bytes("community_id", cid)
	}
	z.Bool("unreplied", e.Status.Unreplied())
	z.Bool("assured", e.Status.Assured())
	var buf [256]byte
	z.RawJSON("status", appendStatus(buf[:0], e.Status))
	if e.Fields.Has(model.FieldMark) {
		z.Uint32("mark", e.Mark)
	}
	if e.Fields.Has(model.FieldSecmark) {
		z.Uint32("secmark", e.Secmark)
	}
	if e.Fields.Has(model.FieldSecctx) {
		z.Str("secctx", e.Secctx)
	}
	if e.Fields.Has(model.FieldZone) {
		z.Uint16("zone", e.Zone)
	}
	if e.Fields.Has(model.FieldUse) {
		z.Uint32("use", e.Use)
	}
	if e.Fields.Has(model.FieldID) {
		z.Uint32("id", e.ID)
	}
	if e.Fields.Has(model.FieldHelper) {
		z.Str("helper", e.Helper)
	}
	if e.Fields.Has(model.FieldLabels) {
		z.Strs("labels", e.Labels)
	}
	if e.Fields.Has(model.FieldStart) {
		z.RawJSON("start", AppendTime(buf[:0], e.Start))
	}
	if e.Fields.Has(model.FieldStop) {
		z.RawJSON("stop", AppendTime(buf[:0], e.Stop))
	}
	if e.Fields.Has(model.FieldDeltaTime) {
		z.Uint64("delta_time", e.DeltaTime)
	}
	if e.Fields.Has(model.FieldGRETimeouts) {
		z.Uint32("gre_timeout", e.GRETimeout)
		z.Uint32("gre_stream_timeout", e.GREStreamTimeout)
	}
}

// tupleDict writes one direction's keys into a pooled dictionary.
func (e *entryJSON) tupleDict(t *model.Tuple, zone, counters model.Field) *zerolog.Event {
	z := tupleKeysDict(e.Family, e.Proto, t)
	if e.Fields.Has(zone) {
		z.Uint16("zone", t.Zone)
	}
	if e.Fields.Has(counters) {
		z.Uint64("packets", t.Packets)
		z.Uint64("bytes", t.Bytes)
	}
	return z
}

// masterDict writes the master tuple's keys into a pooled dictionary:
// those of a direction, by the master's own protocol, and that protocol
// as proto when it is not the entry's (a SIP signalling flow over TCP
// expecting RTP over UDP).
func (e *entryJSON) masterDict() *zerolog.Event {
	z := tupleKeysDict(e.Family, e.MasterProto, &e.Master)
	if e.MasterProto != e.Proto {
		z.Str("proto", e.MasterProto.JSONName())
	}
	return z
}

// tupleKeysDict writes a tuple's keys (tupleKeys) into a pooled
// dictionary: the object of an entry's direction and master, and of an
// expectation's tuple, mask, master and nat tuple, before the keys each
// adds.
func tupleKeysDict(f model.Family, p model.Proto, t *model.Tuple) *zerolog.Event {
	z := zerolog.Dict()
	tupleKeys(z, f, p, t)
	return z
}

// tupleKeys writes a tuple's addresses and its protocol's identifiers.
func tupleKeys(z *zerolog.Event, f model.Family, p model.Proto, t *model.Tuple) {
	var buf [64]byte
	z.RawJSON("src", appendAddr(buf[:0], f, t.Src))
	z.RawJSON("dst", appendAddr(buf[:0], f, t.Dst))
	switch {
	case p.HasPorts():
		z.Uint16("sport", t.SrcPort)
		z.Uint16("dport", t.DstPort)
	case p.IsICMP():
		z.Uint8("type", t.ICMPType)
		z.Uint8("code", t.ICMPCode)
		z.Uint16("id", t.ICMPID)
	case p == model.ProtoGRE:
		z.Uint16("srckey", t.SrcPort)
		z.Uint16("dstkey", t.DstPort)
	}
}

// appendAddr appends a quoted in its canonical (RFC 5952) form.
func appendAddr(dst []byte, f model.Family, a netip.Addr) []byte {
	if !a.IsValid() {
		if f == model.FamilyIPv6 {
			a = netip.IPv6Unspecified()
		} else {
			a = netip.IPv4Unspecified()
		}
	}
	dst = append(dst, '"')
	dst = a.AppendTo(dst)
	return append(dst, '"')
}

// appendStatus appends the names of s's bits as a JSON array.
func appendStatus(dst []byte, s model.Status) []byte {
	var names [32]string
	dst = append(dst, '[')
	for i, n := range s.AppendNames(names[:0]) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, n)
	}
	return append(dst, ']')
}

// MarshalZerologObject writes the transition's keys: from and to for every
// stateful protocol (equal when only the status, mark or labels changed, so
// that a query on "to" finds every transition of a state), gained and lost
// always (possibly empty arrays, so that the schema does not depend on the
// event), changed when another attribute changed, and after_s when the
// times are known.
func (t *transitionJSON) MarshalZerologObject(z *zerolog.Event) {
	if t.HasStates && t.Proto.HasState() {
		z.Str("from", t.From.Name(t.Proto))
		z.Str("to", t.To.Name(t.Proto))
	}
	var buf [512]byte
	z.RawJSON("gained", appendStatusChange(buf[:0], t.Gained, t.Lost))
	z.RawJSON("lost", appendStatusChange(buf[:0], t.Lost, t.Gained))
	if t.Changed != 0 {
		b := append(buf[:0], '[')
		if t.Changed&flow.AttrMark != 0 {
			b = appendString(b, "mark")
		}
		if t.Changed&flow.AttrLabels != 0 {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = appendString(b, "labels")
		}
		z.RawJSON("changed", append(b, ']'))
	}
	if t.AfterKnown {
		z.RawJSON("after_s", appendSeconds(buf[:0], t.After))
	}
}

// labelBits are the status bits the "gained"/"lost" lists name through
// their /proc label rather than by bit name.
const labelBits = model.StatusSeenReply | model.StatusAssured | model.StatusOffload | model.StatusHWOffload

// appendStatusChange appends, as a JSON array, the names of what was
// gained when the bits in set were set and those in cleared were cleared
// (call it with the arguments swapped for what was lost): first the /proc
// labels in schema order (UNREPLIED, ASSURED, OFFLOAD, HW_OFFLOAD), then
// the other status bits by name in bit order. SEEN_REPLY is reported
// through its label: gaining it is losing UNREPLIED.
func appendStatusChange(dst []byte, set, cleared model.Status) []byte {
	dst = append(dst, '[')
	n := 0
	add := func(name string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		n++
	}
	if cleared&model.StatusSeenReply != 0 {
		add(model.LabelUnreplied.String())
	}
	if set&model.StatusAssured != 0 {
		add(model.LabelAssured.String())
	}
	if set&model.StatusOffload != 0 {
		add(model.LabelOffload.String())
	}
	if set&model.StatusHWOffload != 0 {
		add(model.LabelHWOffload.String())
	}
	var names [32]string
	for _, name := range (set &^ labelBits).AppendNames(names[:0]) {
		add(name)
	}
	return append(dst, ']')
}

// MarshalZerologObject writes the lifecycle's keys: path (stateful
// protocols), path_truncated (when true), duration_s, reply_after_s,
// assured_after_s (each when known), outcome, seen_from, lower_bound and
// inferred (when true), and orig_packets, orig_bytes, reply_packets,
// reply_bytes (when accounting is on).
func (l *lifecycleJSON) MarshalZerologObject(z *zerolog.Event) {
	var buf [256]byte
	if l.Proto.HasState() && l.Path.Len() > 0 {
		z.RawJSON("path", appendPath(buf[:0], l.Path, l.Proto))
		if l.Path.Truncated() {
			z.Bool("path_truncated", true)
		}
	}
	if l.DurationKnown {
		z.RawJSON("duration_s", appendSeconds(buf[:0], l.Duration))
	}
	if l.HasReply {
		z.RawJSON("reply_after_s", appendSeconds(buf[:0], l.ReplyAfter))
	}
	if l.HasAssured {
		z.RawJSON("assured_after_s", appendSeconds(buf[:0], l.AssuredAfter))
	}
	z.Str("outcome", l.Outcome.String())
	z.Str("seen_from", l.SeenFrom.String())
	if l.LowerBound {
		z.Bool("lower_bound", true)
	}
	if l.Inferred {
		z.Bool("inferred", true)
	}
	if l.HasCounters {
		z.Uint64("orig_packets", l.OrigPackets)
		z.Uint64("orig_bytes", l.OrigBytes)
		z.Uint64("reply_packets", l.ReplyPackets)
		z.Uint64("reply_bytes", l.ReplyBytes)
	}
}

// appendPath appends the path's state names, as protocol proto names them,
// as a JSON array.
func appendPath(dst []byte, p flow.Path, proto model.Proto) []byte {
	dst = append(dst, '[')
	for i := 0; i < p.Len(); i++ {
		if i > 0 {
			if p.At(i) == p.At(i-1) { // the truncated path's last slot
				continue
			}
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.At(i).Name(proto))
	}
	return append(dst, ']')
}

// MarshalZerologObject writes the report's own keys, to follow the
// entry's: first_seen, age_s, repeats, repeats_since, seen_from, and
// lower_bound when true.
func (u *unrepliedJSON) MarshalZerologObject(z *zerolog.Event) {
	var buf [40]byte
	z.RawJSON("first_seen", AppendTime(buf[:0], u.FirstSeen))
	z.RawJSON("age_s", appendSeconds(buf[:0], u.Age))
	z.Int("repeats", u.Repeats)
	z.RawJSON("repeats_since", AppendTime(buf[:0], u.RepeatsSince))
	z.Str("seen_from", u.SeenFrom.String())
	if u.LowerBound {
		z.Bool("lower_bound", true)
	}
}

// seconds converts d to seconds rounded to the microsecond, so that JSON
// carries 0.000312 rather than the float noise of a nanosecond count.
func seconds(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e6
}

// appendSeconds appends d in seconds, rounded to the microsecond, as a
// JSON number without an exponent (0.000015, not zerolog's 1.5e-05), which
// SIEM parsers and people read alike.
func appendSeconds(dst []byte, d time.Duration) []byte {
	return strconv.AppendFloat(dst, seconds(d), 'f', -1, 64)
}

// appendString appends s quoted; the names it is used for (state and
// status names) need no escaping.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
