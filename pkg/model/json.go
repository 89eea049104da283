package model

import (
	"net/netip"
	"time"

	"github.com/rs/zerolog"
)

// JSONTimeLayout is the layout of every time the JSON contract carries:
// RFC 3339 in UTC with exactly nine fractional digits, so that records sort
// as strings.
const JSONTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendJSONTime appends t in JSONTimeLayout, in UTC, quoted. Every record
// carries at least one time, so it is written digit by digit rather than
// through time.Time.AppendFormat's layout interpreter, which costs four
// times as much; FuzzAppendJSONTime checks that the two agree.
func AppendJSONTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, JSONTimeLayout)
		return append(dst, '"')
	}
	hour, min, sec := t.Clock()
	dst = append(dst, '"')
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, min, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond(), 9)
	return append(dst, 'Z', '"')
}

// appendDigits appends v, which has at most width digits, zero-padded to
// width.
func appendDigits(dst []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

// MarshalZerologObject writes the event's keys of the JSON contract: time
// (when known), event, the entry's keys, and origin (for events a userspace
// program caused). It neither reflects nor allocates.
func (ev *Event) MarshalZerologObject(z *zerolog.Event) {
	if !ev.Time.IsZero() {
		var buf [40]byte
		z.RawJSON("time", AppendJSONTime(buf[:0], ev.Time))
	}
	z.Str("event", ev.Type.String())
	ev.Entry.MarshalZerologObject(z)
	if !ev.Origin.IsZero() {
		z.Object("origin", &ev.Origin)
	}
}

// MarshalZerologObject writes the origin's portid, and pid and program when
// known.
func (o *Origin) MarshalZerologObject(z *zerolog.Event) {
	z.Uint32("portid", o.PortID)
	if o.PID != 0 {
		z.Int32("pid", o.PID)
	}
	if o.Program != "" {
		z.Str("program", o.Program)
	}
}

// MarshalZerologObject writes the entry's keys of the JSON contract; keys
// for values the entry does not carry are omitted.
func (e *Entry) MarshalZerologObject(z *zerolog.Event) {
	z.Str("family", e.Family.String())
	z.Str("proto", e.Proto.JSONName())
	z.Uint8("protonum", uint8(e.Proto))
	if e.Fields.Has(FieldTimeout) {
		z.Uint32("timeout", e.Timeout)
	}
	if e.Fields.Has(FieldState) {
		z.Str("state", e.State.Name(e.Proto))
	}
	// zerolog's pooled Dict costs no allocation once warm, where a
	// marshaler value carrying the entry would be boxed into an interface.
	z.Dict("orig", e.tupleDict(&e.Orig, FieldOrigZone, FieldOrigCounters))
	z.Dict("reply", e.tupleDict(&e.Reply, FieldReplyZone, FieldReplyCounters))
	z.Bool("unreplied", e.Status.Unreplied())
	z.Bool("assured", e.Status.Assured())
	var buf [256]byte
	z.RawJSON("status", appendStatusJSON(buf[:0], e.Status))
	if e.Fields.Has(FieldMark) {
		z.Uint32("mark", e.Mark)
	}
	if e.Fields.Has(FieldSecmark) {
		z.Uint32("secmark", e.Secmark)
	}
	if e.Fields.Has(FieldSecctx) {
		z.Str("secctx", e.Secctx)
	}
	if e.Fields.Has(FieldZone) {
		z.Uint16("zone", e.Zone)
	}
	if e.Fields.Has(FieldUse) {
		z.Uint32("use", e.Use)
	}
	if e.Fields.Has(FieldID) {
		z.Uint32("id", e.ID)
	}
	if e.Fields.Has(FieldHelper) {
		z.Str("helper", e.Helper)
	}
	if e.Fields.Has(FieldLabels) {
		z.Strs("labels", e.Labels)
	}
	if e.Fields.Has(FieldStart) {
		z.RawJSON("start", AppendJSONTime(buf[:0], e.Start))
	}
	if e.Fields.Has(FieldStop) {
		z.RawJSON("stop", AppendJSONTime(buf[:0], e.Stop))
	}
	if e.Fields.Has(FieldDeltaTime) {
		z.Uint64("delta_time", e.DeltaTime)
	}
	if e.Fields.Has(FieldGRETimeouts) {
		z.Uint32("gre_timeout", e.GRETimeout)
		z.Uint32("gre_stream_timeout", e.GREStreamTimeout)
	}
}

// tupleDict writes one direction's keys into a pooled dictionary.
func (e *Entry) tupleDict(t *Tuple, zone, counters Field) *zerolog.Event {
	z := zerolog.Dict()
	var buf [64]byte
	z.RawJSON("src", appendAddrJSON(buf[:0], e.Family, t.Src))
	z.RawJSON("dst", appendAddrJSON(buf[:0], e.Family, t.Dst))
	switch {
	case e.Proto.HasPorts():
		z.Uint16("sport", t.SrcPort)
		z.Uint16("dport", t.DstPort)
	case e.Proto.IsICMP():
		z.Uint8("type", t.ICMPType)
		z.Uint8("code", t.ICMPCode)
		z.Uint16("id", t.ICMPID)
	case e.Proto == ProtoGRE:
		z.Uint16("srckey", t.SrcPort)
		z.Uint16("dstkey", t.DstPort)
	}
	if e.Fields.Has(zone) {
		z.Uint16("zone", t.Zone)
	}
	if e.Fields.Has(counters) {
		z.Uint64("packets", t.Packets)
		z.Uint64("bytes", t.Bytes)
	}
	return z
}

// appendAddrJSON appends a quoted in its canonical (RFC 5952) form.
func appendAddrJSON(dst []byte, f Family, a netip.Addr) []byte {
	if !a.IsValid() {
		if f == FamilyIPv6 {
			a = netip.IPv6Unspecified()
		} else {
			a = netip.IPv4Unspecified()
		}
	}
	dst = append(dst, '"')
	dst = a.AppendTo(dst)
	return append(dst, '"')
}

// appendStatusJSON appends the names of s's bits as a JSON array.
func appendStatusJSON(dst []byte, s Status) []byte {
	var names [32]string
	dst = append(dst, '[')
	for i, n := range s.AppendNames(names[:0]) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, n...)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}
