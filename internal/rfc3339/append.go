package rfc3339

import "time"

// layouts are time.Time layouts of the same text, by fraction digits, for
// the years Append does not write by hand.
var layouts = [...]string{
	0: "2006-01-02T15:04:05Z07:00",
	3: "2006-01-02T15:04:05.000Z07:00",
	6: "2006-01-02T15:04:05.000000Z07:00",
	9: "2006-01-02T15:04:05.000000000Z07:00",
}

// Append appends t in UTC as RFC 3339 with digits fraction digits (0, 3,
// 6 or 9; others are taken as 9), truncated, and a Z: for digits 9
// exactly what t.UTC().AppendFormat of "2006-01-02T15:04:05.000000000Z07:00"
// appends (FuzzAppend checks it).
func Append(dst []byte, t time.Time, digits int) []byte {
	if digits != 0 && digits != 3 && digits != 6 {
		digits = 9
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, layouts[digits])
	}
	hour, min, sec := t.Clock()
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
	if digits > 0 {
		frac := t.Nanosecond()
		for range 9 - digits {
			frac /= 10
		}
		dst = appendDigits(append(dst, '.'), frac, digits)
	}
	return append(dst, 'Z')
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
