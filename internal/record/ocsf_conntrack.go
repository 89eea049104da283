package record

import (
	"strconv"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The unmapped.conntrack object of the OCSF entry records, appended as
// bytes rather than through zerolog's per-key calls: it carries every
// native key of the entry, its origin, transition and lifecycle, and
// written key by key it would cost OCSF more than the 1.5x of native CPU
// it is allowed (issue 11). The keys, names and values are the native
// schema's (docs/schema.md), but for family and protonum, which
// connection_info carries (protocol_ver_id, protocol_num).

// appendOCSFConntrack appends the unmapped object of an entry record:
// {"conntrack":{sequence, run, event, the entry's keys, origin,
// transition, flow, inferred}}. origin, tr and lc may be nil.
func (e *Encoder) appendOCSFConntrack(dst []byte, seq uint64, typ string, en *model.Entry, origin *model.Origin,
	tr *flow.Transition, lc *flow.Lifecycle, inferred bool) []byte {
	dst = append(dst, `{"conntrack":{"sequence":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	if e.run != "" {
		dst = append(dst, `,"run":`...)
		dst = appendJSONString(dst, e.run)
	}
	dst = append(dst, `,"event":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	dst = appendOCSFEntryKeys(dst, en)
	if origin != nil && !origin.IsZero() {
		dst = append(dst, `,"origin":{"portid":`...)
		dst = strconv.AppendUint(dst, uint64(origin.PortID), 10)
		if origin.PID != 0 {
			dst = append(dst, `,"pid":`...)
			dst = strconv.AppendInt(dst, int64(origin.PID), 10)
		}
		if origin.Program != "" {
			dst = append(dst, `,"program":`...)
			dst = appendJSONString(dst, origin.Program)
		}
		dst = append(dst, '}')
	}
	if tr != nil {
		dst = appendOCSFTransition(append(dst, `,"transition":`...), tr)
	}
	if lc != nil {
		dst = appendOCSFLifecycle(append(dst, `,"flow":`...), lc)
	}
	if inferred {
		dst = append(dst, `,"inferred":true`...)
	}
	return append(dst, "}}"...)
}

// appendKeyUint appends ,"key":v.
func appendKeyUint(dst []byte, key string, v uint64) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendUint(dst, v, 10)
}

// appendKey appends ,"key": and returns the slice to append the value
// to.
func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// appendOCSFEntryKeys appends the entry's native keys (as
// entryJSON.MarshalZerologObject writes them, without family and
// protonum), each after a comma.
func appendOCSFEntryKeys(dst []byte, en *model.Entry) []byte {
	dst = append(dst, `,"proto":"`...)
	dst = append(dst, en.Proto.JSONName()...)
	dst = append(dst, '"')
	if en.Fields.Has(model.FieldTimeout) {
		dst = appendKeyUint(dst, "timeout", uint64(en.Timeout))
	}
	if en.Fields.Has(model.FieldState) {
		dst = appendString(appendKey(dst, "state"), en.State.Name(en.Proto))
	}
	dst = appendOCSFTuple(appendKey(dst, "orig"), en, &en.Orig, model.FieldOrigZone, model.FieldOrigCounters)
	dst = appendOCSFTuple(appendKey(dst, "reply"), en, &en.Reply, model.FieldReplyZone, model.FieldReplyCounters)
	dst = strconv.AppendBool(appendKey(dst, "unreplied"), en.Status.Unreplied())
	dst = strconv.AppendBool(appendKey(dst, "assured"), en.Status.Assured())
	dst = appendStatus(appendKey(dst, "status"), en.Status)
	if en.Fields.Has(model.FieldMark) {
		dst = appendKeyUint(dst, "mark", uint64(en.Mark))
	}
	if en.Fields.Has(model.FieldSecmark) {
		dst = appendKeyUint(dst, "secmark", uint64(en.Secmark))
	}
	if en.Fields.Has(model.FieldSecctx) {
		dst = appendJSONString(appendKey(dst, "secctx"), en.Secctx)
	}
	if en.Fields.Has(model.FieldZone) {
		dst = appendKeyUint(dst, "zone", uint64(en.Zone))
	}
	if en.Fields.Has(model.FieldUse) {
		dst = appendKeyUint(dst, "use", uint64(en.Use))
	}
	if en.Fields.Has(model.FieldID) {
		dst = appendKeyUint(dst, "id", uint64(en.ID))
	}
	if en.Fields.Has(model.FieldHelper) {
		dst = appendJSONString(appendKey(dst, "helper"), en.Helper)
	}
	if en.Fields.Has(model.FieldLabels) {
		dst = append(appendKey(dst, "labels"), '[')
		for i, l := range en.Labels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, l)
		}
		dst = append(dst, ']')
	}
	if en.Fields.Has(model.FieldStart) {
		dst = AppendTime(appendKey(dst, "start"), en.Start)
	}
	if en.Fields.Has(model.FieldStop) {
		dst = AppendTime(appendKey(dst, "stop"), en.Stop)
	}
	if en.Fields.Has(model.FieldDeltaTime) {
		dst = appendKeyUint(dst, "delta_time", en.DeltaTime)
	}
	if en.Fields.Has(model.FieldGRETimeouts) {
		dst = appendKeyUint(dst, "gre_timeout", uint64(en.GRETimeout))
		dst = appendKeyUint(dst, "gre_stream_timeout", uint64(en.GREStreamTimeout))
	}
	return dst
}

// appendOCSFTuple appends one direction's object, as entryJSON.tupleDict
// writes it.
func appendOCSFTuple(dst []byte, en *model.Entry, t *model.Tuple, zone, counters model.Field) []byte {
	dst = append(dst, `{"src":`...)
	dst = appendAddr(dst, en.Family, t.Src)
	dst = append(dst, `,"dst":`...)
	dst = appendAddr(dst, en.Family, t.Dst)
	switch {
	case en.Proto.HasPorts():
		dst = appendKeyUint(dst, "sport", uint64(t.SrcPort))
		dst = appendKeyUint(dst, "dport", uint64(t.DstPort))
	case en.Proto.IsICMP():
		dst = appendKeyUint(dst, "type", uint64(t.ICMPType))
		dst = appendKeyUint(dst, "code", uint64(t.ICMPCode))
		dst = appendKeyUint(dst, "id", uint64(t.ICMPID))
	case en.Proto == model.ProtoGRE:
		dst = appendKeyUint(dst, "srckey", uint64(t.SrcPort))
		dst = appendKeyUint(dst, "dstkey", uint64(t.DstPort))
	}
	if en.Fields.Has(zone) {
		dst = appendKeyUint(dst, "zone", uint64(t.Zone))
	}
	if en.Fields.Has(counters) {
		dst = appendKeyUint(dst, "packets", t.Packets)
		dst = appendKeyUint(dst, "bytes", t.Bytes)
	}
	return append(dst, '}')
}

// appendOCSFTransition appends the transition object, as
// transitionJSON.MarshalZerologObject writes it.
func appendOCSFTransition(dst []byte, t *flow.Transition) []byte {
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
		dst = appendSeconds(appendKey(dst, "after_s"), t.After)
	}
	return append(dst, '}')
}

// appendOCSFLifecycle appends the flow object, as
// lifecycleJSON.MarshalZerologObject writes it.
func appendOCSFLifecycle(dst []byte, l *flow.Lifecycle) []byte {
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
		dst = appendKeyUint(dst, "orig_packets", l.OrigPackets)
		dst = appendKeyUint(dst, "orig_bytes", l.OrigBytes)
		dst = appendKeyUint(dst, "reply_packets", l.ReplyPackets)
		dst = appendKeyUint(dst, "reply_bytes", l.ReplyBytes)
	}
	return append(dst, '}')
}
