package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// TextOptions selects a text form. Its switches mirror conntrack's -o
// options and the differences of /proc/net/nf_conntrack; which values
// appear is otherwise decided by the entry's presence bits, so that one
// formatter prints every form.
type TextOptions struct {
	// Layer3 prefixes the family name and number ("ipv4     2 "), as
	// /proc and conntrack -o extended do.
	Layer3 bool
	// ExpandIPv6 prints IPv6 addresses with all eight groups zero-padded, as
	// /proc does, rather than in the compressed form of conntrack-tools.
	ExpandIPv6 bool
	// Timestamp prefixes an event's time as "[sec.usec]" and a tab, as
	// conntrack -o timestamp does. Events without a time get no prefix.
	Timestamp bool
	// ID prints the conntrack id (conntrack -o id).
	ID bool
	// KTimestamp prints the kernel's start and stop timestamps as
	// "[start=Sun Nov 22 03:36:39 2026]" (conntrack -o ktimestamp).
	KTimestamp bool
	// Labels prints the connlabels as "labels=name,name" (conntrack -o
	// labels). conntrack -E prints none without it, so the default form
	// stays conntrack's on labelled entries too.
	Labels bool
	// LabelNames, with Labels, is the table the labels were named from:
	// as conntrack, which prints only the bits its connlabel.conf names,
	// the line leaves out labels that are not names in it (the numbers of
	// unnamed bits), and leaves out "labels" altogether when the table
	// names nothing (conntrack without a connlabel.conf). Nil prints every
	// label the entry holds, as text read back from conntrack holds names
	// only.
	LabelNames *LabelNames
	// Location is the time zone of the ctime-style start and stop
	// timestamps, which conntrack prints in local time. Nil means UTC.
	Location *time.Location
}

// ctimeLayout is C's ctime(3) format without its trailing newline.
const ctimeLayout = "Mon Jan _2 15:04:05 2006"

// AppendText appends ev as one line in the text form o selects, without a
// trailing newline, and returns the extended buffer. The line is the one
// conntrack-tools (or, with Layer3 and ExpandIPv6, the kernel's /proc file)
// prints for the same entry, byte for byte.
func AppendText(dst []byte, ev *Event, o *TextOptions) []byte {
	if o == nil {
		o = &TextOptions{}
	}
	e := &ev.Entry
	if o.Timestamp && !ev.Time.IsZero() {
		dst = appendEventTimestamp(dst, ev.Time)
	}
	dst = appendEventTag(dst, ev.Type)
	if o.Layer3 {
		dst = appendPadded(dst, e.Family.String(), 8)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(e.Family), 10)
		dst = append(dst, ' ')
	}
	dst = appendPadded(dst, e.Proto.String(), 8)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(e.Proto), 10)
	dst = append(dst, ' ')
	if e.Fields.Has(FieldTimeout) {
		dst = strconv.AppendUint(dst, uint64(e.Timeout), 10)
		dst = append(dst, ' ')
	}
	if e.Fields.Has(FieldState) {
		dst = append(dst, e.State.Name(e.Proto)...)
		dst = append(dst, ' ')
	}
	if e.Fields.Has(FieldGRETimeouts) {
		dst = appendUintKey(dst, "timeout=", uint64(e.GRETimeout))
		dst[len(dst)-1] = ','
		dst = append(dst, ' ')
		dst = appendUintKey(dst, "stream_timeout=", uint64(e.GREStreamTimeout))
	}

	dst = appendTuple(dst, e, &e.Orig, o)
	if e.Fields.Has(FieldOrigZone) {
		dst = appendUintKey(dst, "zone-orig=", uint64(e.Orig.Zone))
	}
	if e.Fields.Has(FieldOrigCounters) {
		dst = appendCounters(dst, &e.Orig)
	}
	if e.Status.Unreplied() {
		dst = append(dst, "[UNREPLIED] "...)
	}
	dst = appendTuple(dst, e, &e.Reply, o)
	if e.Fields.Has(FieldReplyZone) {
		dst = appendUintKey(dst, "zone-reply=", uint64(e.Reply.Zone))
	}
	if e.Fields.Has(FieldReplyCounters) {
		dst = appendCounters(dst, &e.Reply)
	}

	// Both the kernel and libnetfilter_conntrack show only the strongest of
	// the three.
	switch {
	case e.Status&StatusHWOffload != 0:
		dst = append(dst, "[HW_OFFLOAD] "...)
	case e.Status&StatusOffload != 0:
		dst = append(dst, "[OFFLOAD] "...)
	case e.Status&StatusAssured != 0:
		dst = append(dst, "[ASSURED] "...)
	}

	if e.Fields.Has(FieldMark) {
		dst = appendUintKey(dst, "mark=", uint64(e.Mark))
	}
	if e.Fields.Has(FieldSecmark) {
		dst = appendUintKey(dst, "secmark=", uint64(e.Secmark))
	}
	if e.Fields.Has(FieldSecctx) {
		dst = append(dst, "secctx="...)
		dst = append(dst, e.Secctx...)
		dst = append(dst, ' ')
	}
	if e.Fields.Has(FieldZone) {
		dst = appendUintKey(dst, "zone=", uint64(e.Zone))
	}
	if e.Fields.Has(FieldDeltaTime) {
		dst = appendUintKey(dst, "delta-time=", e.DeltaTime)
	}
	if o.KTimestamp {
		if e.Fields.Has(FieldStart) {
			dst = appendCtime(dst, "[start=", e.Start, o.Location)
		}
		if e.Fields.Has(FieldStop) {
			dst = appendCtime(dst, "[stop=", e.Stop, o.Location)
		}
	}
	if e.Fields.Has(FieldHelper) {
		dst = append(dst, "helper="...)
		dst = append(dst, e.Helper...)
		dst = append(dst, ' ')
	}
	if e.Fields.Has(FieldUse) {
		dst = appendUintKey(dst, "use=", uint64(e.Use))
	}
	if o.ID && e.Fields.Has(FieldID) {
		dst = appendUintKey(dst, "id=", uint64(e.ID))
	}
	if o.Labels && e.Fields.Has(FieldLabels) && (o.LabelNames == nil || o.LabelNames.Len() > 0) {
		dst = appendLabels(dst, e.Labels, o.LabelNames)
	}
	// Every field above ends with a space; conntrack strips the last one.
	if n := len(dst); n > 0 && dst[n-1] == ' ' {
		dst = dst[:n-1]
	}
	if !ev.Origin.IsZero() {
		dst = append(dst, " [USERSPACE] portid="...)
		dst = strconv.AppendUint(dst, uint64(ev.Origin.PortID), 10)
		if ev.Origin.Program != "" {
			dst = append(dst, " progname="...)
			dst = append(dst, ev.Origin.Program...)
		}
	}
	return dst
}

// appendLabels writes libnetfilter_conntrack's "labels=a,b " with the
// labels names prints (all of them when names is nil). Like
// __snprintf_clabels it drops the last byte written before the space,
// the trailing comma, or the "=" when no label has a name: "labels ".
func appendLabels(dst []byte, labels []string, names *LabelNames) []byte {
	dst = append(dst, "labels="...)
	for _, l := range labels {
		if names != nil {
			if _, ok := names.Bit(l); !ok {
				continue
			}
		}
		dst = append(dst, l...)
		dst = append(dst, ',')
	}
	dst = dst[:len(dst)-1]
	return append(dst, ' ')
}

// appendEventTimestamp writes conntrack's "[%-.8ld.%-.6ld]\t" prefix.
// appendEventTag appends the tag of an event of type t, right-aligned to
// the width of "[DESTROY]" and followed by a space, as conntrack -E prints
// it before an entry or an expectation; a snapshot (a line of a table
// listing) has none.
func appendEventTag(dst []byte, t EventType) []byte {
	switch t {
	case EventNew:
		dst = append(dst, "    [NEW] "...)
	case EventUpdate:
		dst = append(dst, " [UPDATE] "...)
	case EventDestroy:
		dst = append(dst, "[DESTROY] "...)
	}
	return dst
}

func appendEventTimestamp(dst []byte, t time.Time) []byte {
	dst = append(dst, '[')
	dst = appendZeroPadded(dst, uint64(t.Unix()), 8)
	dst = append(dst, '.')
	dst = appendZeroPadded(dst, uint64(t.Nanosecond()/1000), 6)
	return append(dst, "]\t"...)
}

func appendZeroPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	b := strconv.AppendUint(buf[:0], v, 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendPadded writes s left-aligned in a field of width bytes (C's "%-8s").
func appendPadded(dst []byte, s string, width int) []byte {
	dst = append(dst, s...)
	for i := len(s); i < width; i++ {
		dst = append(dst, ' ')
	}
	return dst
}

func appendUintKey(dst []byte, key string, v uint64) []byte {
	dst = append(dst, key...)
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, ' ')
}

func appendCounters(dst []byte, t *Tuple) []byte {
	dst = appendUintKey(dst, "packets=", t.Packets)
	return appendUintKey(dst, "bytes=", t.Bytes)
}

func appendCtime(dst []byte, key string, t time.Time, loc *time.Location) []byte {
	if loc == nil {
		loc = time.UTC
	}
	dst = append(dst, key...)
	dst = t.In(loc).AppendFormat(dst, ctimeLayout)
	return append(dst, "] "...)
}

func appendTuple(dst []byte, e *Entry, t *Tuple, o *TextOptions) []byte {
	dst = append(dst, "src="...)
	dst = appendAddr(dst, e.Family, t.Src, o.ExpandIPv6)
	dst = append(dst, " dst="...)
	dst = appendAddr(dst, e.Family, t.Dst, o.ExpandIPv6)
	dst = append(dst, ' ')
	return appendTupleProtoKeys(dst, e.Proto, t)
}

// appendTupleProtoKeys writes the keys of t that protocol p defines
// (ports, ICMP type, code and id, or GRE keys), each followed by a space:
// the tail of an entry's tuple and of each tuple of an expectation.
func appendTupleProtoKeys(dst []byte, p Proto, t *Tuple) []byte {
	switch {
	case p.HasPorts():
		dst = appendUintKey(dst, "sport=", uint64(t.SrcPort))
		dst = appendUintKey(dst, "dport=", uint64(t.DstPort))
	case p.IsICMP():
		dst = appendUintKey(dst, "type=", uint64(t.ICMPType))
		dst = appendUintKey(dst, "code=", uint64(t.ICMPCode))
		dst = appendUintKey(dst, "id=", uint64(t.ICMPID))
	case p == ProtoGRE:
		dst = append(dst, "srckey=0x"...)
		dst = strconv.AppendUint(dst, uint64(t.SrcPort), 16)
		dst = append(dst, " dstkey=0x"...)
		dst = strconv.AppendUint(dst, uint64(t.DstPort), 16)
		dst = append(dst, ' ')
	}
	return dst
}

// appendAddr writes a, or the family's unspecified address when a is not
// valid, so that a line always parses back.
func appendAddr(dst []byte, f Family, a netip.Addr, expand bool) []byte {
	if !a.IsValid() {
		if f == FamilyIPv6 {
			a = netip.IPv6Unspecified()
		} else {
			a = netip.IPv4Unspecified()
		}
	}
	if !a.Is6() {
		return a.AppendTo(dst)
	}
	b := a.As16()
	if !expand {
		// glibc's inet_ntop, which conntrack-tools uses, writes the
		// deprecated IPv4-compatible form ::a.b.c.d where Go writes
		// ::xxxx:xxxx; everything else the two write alike.
		if isIPv4Compatible(b) {
			dst = append(dst, "::"...)
			return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).AppendTo(dst)
		}
		return a.AppendTo(dst)
	}
	const hex = "0123456789abcdef"
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hex[b[i]>>4], hex[b[i]&0xf], hex[b[i+1]>>4], hex[b[i+1]&0xf])
	}
	return dst
}

// isIPv4Compatible reports whether b is ::w6:w7 with w6 non-zero, the case in
// which glibc's inet_ntop embeds a dotted quad.
func isIPv4Compatible(b [16]byte) bool {
	for _, x := range b[:12] {
		if x != 0 {
			return false
		}
	}
	return b[12] != 0 || b[13] != 0
}

// ParseTextOptions parses a comma-separated list of conntrack -o option
// names: "extended", "timestamp", "id", "ktimestamp", "labels", and "proc"
// (the /proc/net/nf_conntrack form: extended with zero-padded IPv6
// addresses).
// The empty string selects conntrack's default form.
func ParseTextOptions(s string) (TextOptions, error) {
	var o TextOptions
	if s == "" {
		return o, nil
	}
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "extended":
			o.Layer3 = true
		case "timestamp":
			o.Timestamp = true
		case "id":
			o.ID = true
		case "ktimestamp":
			o.KTimestamp = true
		case "labels":
			o.Labels = true
		case "proc":
			o.Layer3, o.ExpandIPv6 = true, true
		default:
			return o, fmt.Errorf("unknown text option %q (want extended, timestamp, id, ktimestamp, labels or proc)", name)
		}
	}
	return o, nil
}
