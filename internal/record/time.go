package record

import "time"

// TimeLayout is the layout of every time the native schema carries: RFC
// 3339 in UTC with exactly nine fractional digits, so that records sort as
// strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendTime appends t in TimeLayout, in UTC, quoted. Every record carries
// at least one time, so it is written digit by digit rather than through
// time.Time.AppendFormat's layout interpreter, which costs four times as
// much; FuzzAppendTime checks that the two agree.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, TimeLayout)
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
