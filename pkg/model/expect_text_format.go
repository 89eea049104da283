package model

import "strconv"

// AppendExpectText appends ev as one line of conntrack -E expect (or,
// for an EventSnapshot, of conntrack -L expect), without a trailing
// newline, and returns the extended buffer: libnetfilter_conntrack's
// nfexp_snprintf, byte for byte. Of o, only Timestamp applies (conntrack
// prints every other -o option's expectation lines alike); nil is the
// default form.
//
// The line holds the timeout, the protocol number, the expected tuple, its
// mask, the master's tuple, the zone, flags, class and helper; the
// expectation's id, NAT and function are not part of it.
func AppendExpectText(dst []byte, ev *ExpectEvent, o *TextOptions) []byte {
	x := &ev.Expect
	if o != nil && o.Timestamp && !ev.Time.IsZero() {
		dst = appendExpectTimestamp(dst, ev)
	}
	dst = appendEventTag(dst, ev.Type)
	// libnetfilter_conntrack prints the timeout whether or not it was
	// set, as 0 when not.
	dst = strconv.AppendUint(dst, uint64(x.Timeout), 10)
	dst = append(dst, " proto="...)
	dst = strconv.AppendUint(dst, uint64(x.Proto), 10)
	dst = append(dst, ' ')
	dst = appendExpectTuple(dst, "src=", "dst=", x.Family, x.Proto, &x.Tuple)
	dst = appendExpectTuple(dst, "mask-src=", "mask-dst=", x.Family, x.Proto, &x.Mask)
	dst = appendExpectTuple(dst, "master-src=", "master-dst=", x.Family, x.MasterProto, &x.Master)
	if x.Fields.Has(ExpectFieldZone) {
		dst = appendUintKey(dst, "zone=", uint64(x.Zone))
	}
	if x.Flags != 0 {
		n := len(dst)
		for i, name := range expectFlagNames {
			if x.Flags&(1<<i) == 0 {
				continue
			}
			if len(dst) > n {
				dst = append(dst, ',')
			}
			dst = append(dst, name...)
		}
		if len(dst) > n {
			dst = append(dst, ' ')
		}
	}
	if x.Fields.Has(ExpectFieldClass) {
		dst = appendUintKey(dst, "class=", uint64(x.Class))
	}
	if x.Fields.Has(ExpectFieldHelper) {
		dst = append(dst, "helper="...)
		dst = append(dst, x.Helper...)
	}
	if n := len(dst); n > 0 && dst[n-1] == ' ' {
		dst = dst[:n-1]
	}
	return dst
}

// appendExpectTimestamp writes conntrack's "[%-8ld.%-6ld]\t" prefix of an
// expectation event: unlike a connection event's, its microseconds are
// left-aligned and padded with spaces, not zeros.
func appendExpectTimestamp(dst []byte, ev *ExpectEvent) []byte {
	var buf [20]byte
	dst = append(dst, '[')
	dst = appendPadded(dst, string(strconv.AppendInt(buf[:0], ev.Time.Unix(), 10)), 8)
	dst = append(dst, '.')
	dst = appendPadded(dst, string(strconv.AppendInt(buf[:0], int64(ev.Time.Nanosecond()/1000), 10)), 6)
	return append(dst, "]\t"...)
}

// appendExpectTuple writes one tuple of an expectation line with the given
// address keys, and the protocol keys of proto as for an entry's tuple.
func appendExpectTuple(dst []byte, srcKey, dstKey string, f Family, proto Proto, t *Tuple) []byte {
	dst = append(dst, srcKey...)
	dst = appendAddr(dst, f, t.Src, false)
	dst = append(dst, ' ')
	dst = append(dst, dstKey...)
	dst = appendAddr(dst, f, t.Dst, false)
	dst = append(dst, ' ')
	return appendTupleProtoKeys(dst, proto, t)
}
