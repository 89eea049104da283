package record

import (
	"time"

	"github.com/ctwatch/ctwatch/internal/rfc3339"
)

// TimeLayout is the layout of every time the native schema carries: RFC
// 3339 in UTC with exactly nine fractional digits, so that records sort as
// strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendTime appends t in TimeLayout, in UTC, quoted, digit by digit
// (package rfc3339); FuzzAppendTime checks that it agrees with
// time.Time.AppendFormat.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = rfc3339.Append(dst, t, 9)
	return append(dst, '"')
}
