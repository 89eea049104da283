package ctstat

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCPUStatsSub(t *testing.T) {
	tests := []struct {
		name      string
		cur, prev CPUStats
		want      CPUStats
	}{
		{name: "growth", cur: CPUStats{Found: 10, Drop: 3}, prev: CPUStats{Found: 4, Drop: 3}, want: CPUStats{Found: 6}},
		{
			name: "a CPU's 32-bit counter wrapped",
			cur:  CPUStats{Insert: 5}, prev: CPUStats{Insert: 0xfffffffe},
			want: CPUStats{Insert: 7},
		},
		{
			// Two CPUs at 3e9 each sum past 32 bits; one wraps.
			name: "sum over CPUs past 32 bits, with a wrap",
			cur:  CPUStats{Found: 3_000_000_100 + (3_000_000_000+1_300_000_000)%(1<<32)},
			prev: CPUStats{Found: 3_000_000_000 + 3_000_000_000},
			want: CPUStats{Found: 100 + 1_300_000_000},
		},
		{name: "no change", cur: CPUStats{Found: 1 << 40}, prev: CPUStats{Found: 1 << 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cur.Sub(tt.prev)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCounterString(t *testing.T) {
	var got []string
	for c := range NumCounters + 1 {
		got = append(got, c.String())
	}
	want := []string{"found", "invalid", "ignore", "insert", "insert_failed", "drop", "early_drop", "error", "search_restart", "clash_resolve", "chaintoolong", "unknown"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFillPercent(t *testing.T) {
	tests := []struct {
		count, max uint32
		want       float64
	}{
		{0, 0, 0},
		{5, 0, 0},
		{0, 100, 0},
		{80, 100, 80},
		{262144, 262144, 100},
		{1, 3, 33.33},
	}
	for _, tt := range tests {
		if got := RoundFill(FillPercent(tt.count, tt.max)); got != tt.want {
			t.Errorf("FillPercent(%d, %d) = %v, want %v", tt.count, tt.max, got, tt.want)
		}
	}
}
