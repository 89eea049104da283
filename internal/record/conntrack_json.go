package record

import (
	"net/netip"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The native keys of an entry, its origin, transition and lifecycle,
// appended as bytes for the conntrack objects of the ECS and OCSF entry
// records (conntrack.*, unmapped.conntrack.*) rather than through
// zerolog's per-key calls: written key by key they would cost those
// schemas more than the 1.5x of native CPU they are allowed (issue 11).
// The keys, names and values are the native schema's (docs/schema.md) but
// for family and protonum, which both schemas carry in their own fields;
// each is written as the native schema's marshalers (entryJSON,
// originJSON, transitionJSON, lifecycleJSON) write it.

// entryBytes are an entry's addresses and kernel timestamps formatted
// once, for the record's own fields and its conntrack object alike. It
// keeps the ends of its pieces, not slices of its own buffer, so that it
// stays on its caller's stack.
type entryBytes struct {
	buf [4*48 + 80]byte
	// end[i] is where piece i ends in buf: orig src, orig dst, reply src,
	// reply dst, kernel start, kernel stop (an absent timestamp is empty).
	end [6]int
}

// format formats en's addresses, without their zones for noZone (ECS's
// ip fields, see appendIP), and its kernel timestamps.
func (b *entryBytes) format(en *model.Entry, noZone bool) {
	a := b.buf[:0]
	for i, ip := range [4]netip.Addr{en.Orig.Src, en.Orig.Dst, en.Reply.Src, en.Reply.Dst} {
		if noZone {
			ip = ip.WithZone("")
		}
		a = appendAddr(a, en.Family, ip)
		b.end[i] = len(a)
	}
	if en.Fields.Has(model.FieldStart) {
		a = AppendTime(a, en.Start)
	}
	b.end[4] = len(a)
	if en.Fields.Has(model.FieldStop) {
		a = AppendTime(a, en.Stop)
	}
	b.end[5] = len(a)
}

// piece returns piece i, nil when it is empty.
func (b *entryBytes) piece(i int) []byte {
	start := 0
	if i > 0 {
		start = b.end[i-1]
	}
	if b.end[i] == start {
		return nil
	}
	return b.buf[start:b.end[i]:b.end[i]]
}

// The pieces.
func (b *entryBytes) osrc() []byte   { return b.piece(0) }
func (b *entryBytes) odst() []byte   { return b.piece(1) }
func (b *entryBytes) rsrc() []byte   { return b.piece(2) }
func (b *entryBytes) rdst() []byte   { return b.piece(3) }
func (b *entryBytes) kstart() []byte { return b.piece(4) }
func (b *entryBytes) kstop() []byte  { return b.piece(5) }

// appendEntryKeys appends the entry's native keys, less family and
// protonum, each after a comma.
func appendEntryKeys(dst []byte, en *model.Entry, b *entryBytes) []byte {
	dst = append(dst, `,"proto":"`...)
	dst = append(dst, en.Proto.JSONName()...)
	dst = append(dst, '"')
	if en.Fields.Has(model.FieldTimeout) {
		dst = objUint(dst, "timeout", uint64(en.Timeout))
	}
	if en.Fields.Has(model.FieldState) {
		dst = appendString(objKey(dst, "state"), en.State.Name(en.Proto))
	}
	if en.Fields.Has(model.FieldOrigVtag) {
		dst = objUint(dst, "orig_vtag", uint64(en.OrigVtag))
	}
	if en.Fields.Has(model.FieldReplyVtag) {
		dst = objUint(dst, "reply_vtag", uint64(en.ReplyVtag))
	}
	if en.Fields.Has(model.FieldDCCPRole) {
		dst = objStr(dst, "role", en.DCCPRole.String())
	}
	dst = appendTuple(objKey(dst, "orig"), en, &en.Orig, b.osrc(), b.odst(), model.FieldOrigZone, model.FieldOrigCounters)
	dst = appendTuple(objKey(dst, "reply"), en, &en.Reply, b.rsrc(), b.rdst(), model.FieldReplyZone, model.FieldReplyCounters)
	if en.Fields.Has(model.FieldMaster) {
		dst = appendMaster(objKey(dst, "master"), en)
	}
	dst = objBool(dst, "unreplied", en.Status.Unreplied())
	dst = objBool(dst, "assured", en.Status.Assured())
	dst = appendStatus(objKey(dst, "status"), en.Status)
	if en.Fields.Has(model.FieldMark) {
		dst = objUint(dst, "mark", uint64(en.Mark))
	}
	if en.Fields.Has(model.FieldSecmark) {
		dst = objUint(dst, "secmark", uint64(en.Secmark))
	}
	if en.Fields.Has(model.FieldSecctx) {
		dst = objStr(dst, "secctx", en.Secctx)
	}
	if en.Fields.Has(model.FieldZone) {
		dst = objUint(dst, "zone", uint64(en.Zone))
	}
	if en.Fields.Has(model.FieldUse) {
		dst = objUint(dst, "use", uint64(en.Use))
	}
	if en.Fields.Has(model.FieldID) {
		dst = objUint(dst, "id", uint64(en.ID))
	}
	if en.Fields.Has(model.FieldHelper) {
		dst = objStr(dst, "helper", en.Helper)
	}
	if en.Fields.Has(model.FieldLabels) {
		dst = append(objKey(dst, "labels"), '[')
		for i, l := range en.Labels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, l)
		}
		dst = append(dst, ']')
	}
	if k := b.kstart(); k != nil {
		dst = objRaw(dst, "start", k)
	}
	if k := b.kstop(); k != nil {
		dst = objRaw(dst, "stop", k)
	}
	if en.Fields.Has(model.FieldDeltaTime) {
		dst = objUint(dst, "delta_time", en.DeltaTime)
	}
	if en.Fields.Has(model.FieldGRETimeouts) {
		dst = objUint(dst, "gre_timeout", uint64(en.GRETimeout))
		dst = objUint(dst, "gre_stream_timeout", uint64(en.GREStreamTimeout))
	}
	return dst
}

// appendFlowKeys appends what the tracker and the origin resolver know of
// the entry's flow, each after a comma: origin, transition and flow (its
// lifecycle); nil ones are left out.
func appendFlowKeys(dst []byte, origin *model.Origin, tr *flow.Transition, lc *flow.Lifecycle) []byte {
	if origin != nil && !origin.IsZero() {
		dst = append(dst, `,"origin":{`...)
		dst = objUint(dst, "portid", uint64(origin.PortID))
		if origin.PID != 0 {
			dst = objInt(dst, "pid", int64(origin.PID))
		}
		if origin.Program != "" {
			dst = objStr(dst, "program", origin.Program)
		}
		dst = append(dst, '}')
	}
	if tr != nil {
		dst = appendTransition(objKey(dst, "transition"), tr)
	}
	if lc != nil {
		dst = appendLifecycle(objKey(dst, "flow"), lc)
	}
	return dst
}

// appendTransition appends the transition object, as
// transitionJSON.MarshalZerologObject writes it.
func appendTransition(dst []byte, t *flow.Transition) []byte {
	dst = append(dst, '{')
	if t.HasStates && t.Proto.HasState() {
		dst = append(dst, `"from":`...)
		dst = appendString(dst, t.From.Name(t.Proto))
		dst = append(dst, `,"to":`...)
		dst = appendString(dst, t.To.Name(t.Proto))
		dst = append(dst, ',')
	}
	dst = append(dst, `"gained":`...)
	dst = appendStatusChange(dst, t.Gained, t.Lost)
	dst = append(dst, `,"lost":`...)
	dst = appendStatusChange(dst, t.Lost, t.Gained)
	if t.Changed != 0 {
		dst = append(dst, `,"changed":[`...)
		if t.Changed&flow.AttrMark != 0 {
			dst = appendString(dst, "mark")
		}
		if t.Changed&flow.AttrLabels != 0 {
			if t.Changed&flow.AttrMark != 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, "labels")
		}
		dst = append(dst, ']')
	}
	if t.AfterKnown {
		dst = appendSeconds(objKey(dst, "after_s"), t.After)
	}
	return append(dst, '}')
}

// appendLifecycle appends the flow object, as
// lifecycleJSON.MarshalZerologObject writes it.
func appendLifecycle(dst []byte, l *flow.Lifecycle) []byte {
	dst = append(dst, '{')
	if l.Proto.HasState() && l.Path.Len() > 0 {
		dst = append(dst, `"path":`...)
		dst = appendPath(dst, l.Path, l.Proto)
		if l.Path.Truncated() {
			dst = append(dst, `,"path_truncated":true`...)
		}
		dst = append(dst, ',')
	}
	if l.DurationKnown {
		dst = appendSeconds(append(dst, `"duration_s":`...), l.Duration)
		dst = append(dst, ',')
	}
	if l.HasReply {
		dst = appendSeconds(append(dst, `"reply_after_s":`...), l.ReplyAfter)
		dst = append(dst, ',')
	}
	if l.HasAssured {
		dst = appendSeconds(append(dst, `"assured_after_s":`...), l.AssuredAfter)
		dst = append(dst, ',')
	}
	dst = append(dst, `"outcome":"`...)
	dst = append(dst, l.Outcome.String()...)
	dst = append(dst, `","seen_from":"`...)
	dst = append(dst, l.SeenFrom.String()...)
	dst = append(dst, '"')
	if l.LowerBound {
		dst = append(dst, `,"lower_bound":true`...)
	}
	if l.Inferred {
		dst = append(dst, `,"inferred":true`...)
	}
	if l.HasCounters {
		dst = objUint(dst, "orig_packets", l.OrigPackets)
		dst = objUint(dst, "orig_bytes", l.OrigBytes)
		dst = objUint(dst, "reply_packets", l.ReplyPackets)
		dst = objUint(dst, "reply_bytes", l.ReplyBytes)
	}
	return append(dst, '}')
}

// appendTuple appends one direction's native keys as a JSON object, with
// its addresses already formatted.
func appendTuple(dst []byte, en *model.Entry, t *model.Tuple, src, dstAddr []byte, zone, counters model.Field) []byte {
	dst = append(dst, '{')
	dst = appendTupleKeys(dst, en.Proto, t, src, dstAddr)
	if en.Fields.Has(zone) {
		dst = objUint(dst, "zone", uint64(t.Zone))
	}
	if en.Fields.Has(counters) {
		dst = objUint(dst, "packets", t.Packets)
		dst = objUint(dst, "bytes", t.Bytes)
	}
	return append(dst, '}')
}

// appendMaster appends the master tuple's native keys as a JSON object, as
// entryJSON.masterDict writes them. Its addresses are formatted here: a
// master is rare, and entryBytes stays the size of the common entry.
func appendMaster(dst []byte, en *model.Entry) []byte {
	var src, dstAddr [48]byte
	dst = append(dst, '{')
	dst = appendTupleKeys(dst, en.MasterProto, &en.Master,
		appendAddr(src[:0], en.Family, en.Master.Src), appendAddr(dstAddr[:0], en.Family, en.Master.Dst))
	if en.MasterProto != en.Proto {
		dst = objStr(dst, "proto", en.MasterProto.JSONName())
	}
	return append(dst, '}')
}

// appendTupleKeys appends a tuple's formatted addresses and its protocol
// p's identifiers.
func appendTupleKeys(dst []byte, p model.Proto, t *model.Tuple, src, dstAddr []byte) []byte {
	dst = objRaw(dst, "src", src)
	dst = objRaw(dst, "dst", dstAddr)
	switch {
	case p.HasPorts():
		dst = objUint(dst, "sport", uint64(t.SrcPort))
		dst = objUint(dst, "dport", uint64(t.DstPort))
	case p.IsICMP():
		dst = objUint(dst, "type", uint64(t.ICMPType))
		dst = objUint(dst, "code", uint64(t.ICMPCode))
		dst = objUint(dst, "id", uint64(t.ICMPID))
	case p == model.ProtoGRE:
		dst = objUint(dst, "srckey", uint64(t.SrcPort))
		dst = objUint(dst, "dstkey", uint64(t.DstPort))
	}
	return dst
}
