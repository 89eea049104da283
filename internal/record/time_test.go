package record_test

import (
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/internal/record"
)

// FuzzAppendTime checks the hand-written formatter against the
// standard library's.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1795318599), int64(872460000))
	f.Add(int64(0), int64(0))
	f.Add(int64(-62135596800), int64(1))         // year 1
	f.Add(int64(253402300799), int64(999999999)) // 9999-12-31T23:59:59
	f.Add(int64(253402300800), int64(0))         // year 10000: the fallback
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec%1e9)
		want := `"` + tm.UTC().Format(record.TimeLayout) + `"`
		if got := string(record.AppendTime(nil, tm)); got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 22, 3, 36, 39, 123456789, time.UTC)
	var buf [40]byte
	for b.Loop() {
		record.AppendTime(buf[:0], tm)
	}
}
