package rfc3339

import (
	"testing"
	"time"
)

func TestAppend(t *testing.T) {
	at := time.Date(2026, 12, 7, 6, 0, 0, 654321987, time.FixedZone("x", 3600))
	tests := []struct {
		digits int
		want   string
	}{
		{0, "2026-12-07T05:00:00Z"},
		{3, "2026-12-07T05:00:00.654Z"},
		{6, "2026-12-07T05:00:00.654321Z"},
		{9, "2026-12-07T05:00:00.654321987Z"},
		{7, "2026-12-07T05:00:00.654321987Z"},
	}
	for _, tt := range tests {
		if got := string(Append(nil, at, tt.digits)); got != tt.want {
			t.Errorf("Append(%d) = %q, want %q", tt.digits, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Append(make([]byte, 0, 64)[:0], at, 9) }); n > 1 {
		t.Errorf("%v allocations, want at most the buffer's", n)
	}
}

// FuzzAppend holds that Append writes what time.Time.AppendFormat writes,
// for every time and every precision.
func FuzzAppend(f *testing.F) {
	f.Add(int64(0), int64(0), 9)
	f.Add(int64(1796623200), int64(654321987), 6)
	f.Add(int64(-62135596801), int64(1), 3)
	f.Add(int64(253402300800), int64(999999999), 0)
	f.Fuzz(func(t *testing.T, sec, nsec int64, digits int) {
		at := time.Unix(sec, nsec)
		d := digits
		if d != 0 && d != 3 && d != 6 {
			d = 9
		}
		want := at.UTC().AppendFormat(nil, layouts[d])
		if got := Append(nil, at, digits); string(got) != string(want) {
			t.Fatalf("Append(%v, %d) = %q, want %q", at, digits, got, want)
		}
	})
}
