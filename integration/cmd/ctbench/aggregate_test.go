//go:build integration

package main

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpFloat compares floats to within rounding, NaN equal to NaN.
var cmpFloat = cmp.Options{cmpopts.EquateApprox(0, 1e-9), cmpopts.EquateNaNs()}

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want stat
	}{
		{name: "odd", in: []float64{3, 1, 2}, want: stat{Med: 2, Min: 1, Max: 3, N: 3}},
		{name: "even: mean of the middle two", in: []float64{4, 1, 3, 2}, want: stat{Med: 2.5, Min: 1, Max: 4, N: 4}},
		{name: "one", in: []float64{7}, want: stat{Med: 7, Min: 7, Max: 7, N: 1}},
		{name: "NaNs left out", in: []float64{nan, 5, nan, 1}, want: stat{Med: 3, Min: 1, Max: 5, N: 2}},
		{name: "empty", want: stat{Med: nan, Min: nan, Max: nan}},
		{name: "only NaN", in: []float64{nan}, want: stat{Med: nan, Min: nan, Max: nan}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summarize(tt.in), cmpFloat); diff != "" {
				t.Errorf("summarize(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// sampleResults are two rates of the tcp load: ctwatch, conntrack -E and
// ulogd2 at 20k/s over two runs, a failure and a skipped monitor, and at
// full speed with conntrack -E losing events.
func sampleResults() []runResult {
	ok := func(mon string, rate float64, run int, received int, drops uint64, cpuMs int64, user, sys uint64) runResult {
		return runResult{
			Load: "tcp", Rate: rate, Monitor: mon, Run: run,
			Generated: eventCounts{New: 50000, Destroy: 50000}, GenSeconds: 5, Groups: 7, Expected: 100000,
			Counts: eventCounts{New: received / 2, Destroy: received - received/2, Other: 3}, KernelDrops: drops,
			CPUNanos: cpuMs * 1e6, UserTicks: user, SysTicks: sys, Writes: 100, WriteBytes: 100 << 16,
			PeakRSS: 20 << 20, Drained: true, OtherCPU: 0.01 * float64(run),
		}
	}
	full := func(r runResult) runResult {
		r.GenSeconds = 1
		return r
	}
	rs := []runResult{
		ok("ctwatch", 20000, 1, 100000, 0, 100, 60, 40),
		ok("ctwatch", 20000, 2, 100000, 0, 120, 60, 40),
		ok("conntrack", 20000, 1, 100000, 0, 400, 30, 70),
		ok("conntrack", 20000, 2, 100000, 0, 440, 30, 70),
		{Load: "tcp", Rate: 20000, Monitor: "ulogd", Run: 1, Err: "ulogd exited at start: no config"},
		full(ok("ctwatch", 0, 1, 100000, 0, 90, 50, 50)),
		full(ok("conntrack", 0, 1, 60000, 40000, 200, 50, 50)),
		{Load: "ctnetlink", Rate: 0, Monitor: "ctwatch", Run: 1, Expected: 3, Counts: eventCounts{New: 3}},
	}
	rs[0].Buffer = 64 << 20 // ctwatch's start record
	rs[1].Drained = false
	rs[1].Busy = true
	rs[1].Attempts = 3
	return rs
}

func TestAggregate(t *testing.T) {
	rows := aggregate(sampleResults(), "tcp", []float64{20000, 0}, []string{"ctwatch", "conntrack", "ulogd", "floor"},
		map[string]string{"floor": "not wanted"})
	type brief struct {
		Monitor             string
		Rate                float64
		Skipped, Err        string
		Failed, Undrained   int
		Received, Lost, CPU stat
		LossPct, SysShare   float64
		WritesPerEvent, RSS float64
		Achieved, Ratio     float64
		RefLossy            bool
	}
	var got []brief
	for _, r := range rows {
		got = append(got, brief{
			Monitor: r.Monitor, Rate: r.Rate, Skipped: r.Skipped, Err: r.Err, Failed: r.Failed, Undrained: r.Undrained,
			Received: r.Received, Lost: r.Lost, CPU: r.CPU, LossPct: r.LossPct.Med, SysShare: r.SysShare.Med,
			WritesPerEvent: r.WritesPerEvent.Med, RSS: r.RSSMiB.Max, Achieved: r.Achieved.Med, Ratio: r.Ratio, RefLossy: r.RefLossy,
		})
	}
	nan := math.NaN()
	none := stat{Med: nan, Min: nan, Max: nan}
	want := []brief{
		{Monitor: "ctwatch", Rate: 20000, Undrained: 1,
			Received: stat{Med: 100000, Min: 100000, Max: 100000, N: 2}, Lost: stat{N: 2},
			CPU: stat{Med: 1.1, Min: 1, Max: 1.2, N: 2}, SysShare: 40, WritesPerEvent: 0.001, RSS: 20, Achieved: 20000,
			Ratio: 1.1 / 4.2},
		{Monitor: "conntrack", Rate: 20000,
			Received: stat{Med: 100000, Min: 100000, Max: 100000, N: 2}, Lost: stat{N: 2},
			CPU: stat{Med: 4.2, Min: 4, Max: 4.4, N: 2}, SysShare: 70, WritesPerEvent: 0.001, RSS: 20, Achieved: 20000,
			Ratio: 1},
		{Monitor: "ulogd", Rate: 20000, Failed: 1, Err: "ulogd exited at start: no config",
			Received: none, Lost: none, CPU: none, LossPct: nan, SysShare: nan, WritesPerEvent: nan, RSS: nan, Achieved: nan, Ratio: nan},
		{Monitor: "floor", Rate: 20000, Skipped: "not wanted",
			Received: none, Lost: none, CPU: none, LossPct: nan, SysShare: nan, WritesPerEvent: nan, RSS: nan, Achieved: nan, Ratio: nan},
		{Monitor: "ctwatch", Rate: 0,
			Received: stat{Med: 100000, Min: 100000, Max: 100000, N: 1}, Lost: stat{N: 1},
			CPU: stat{Med: 0.9, Min: 0.9, Max: 0.9, N: 1}, SysShare: 50, WritesPerEvent: 0.001, RSS: 20, Achieved: 100000,
			Ratio: 0.45, RefLossy: true},
		{Monitor: "conntrack", Rate: 0,
			Received: stat{Med: 60000, Min: 60000, Max: 60000, N: 1}, Lost: stat{Med: 40000, Min: 40000, Max: 40000, N: 1},
			CPU: stat{Med: 2, Min: 2, Max: 2, N: 1}, LossPct: 40, SysShare: 50, WritesPerEvent: 0.001, RSS: 20, Achieved: 100000,
			Ratio: 1, RefLossy: true},
		{Monitor: "ulogd", Rate: 0,
			Received: none, Lost: none, CPU: none, LossPct: nan, SysShare: nan, WritesPerEvent: nan, RSS: nan, Achieved: nan, Ratio: nan},
		{Monitor: "floor", Rate: 0, Skipped: "not wanted",
			Received: none, Lost: none, CPU: none, LossPct: nan, SysShare: nan, WritesPerEvent: nan, RSS: nan, Achieved: nan, Ratio: nan},
	}
	if diff := cmp.Diff(want, got, cmpFloat); diff != "" {
		t.Errorf("aggregate (-want +got):\n%s", diff)
	}
}

func TestRunResultDerived(t *testing.T) {
	r := runResult{Expected: 200000, Counts: eventCounts{New: 99000, Destroy: 99000, Inferred: 2000, Other: 4},
		CPUNanos: 300e6, Generated: eventCounts{New: 100000, Destroy: 100000}, GenSeconds: 4}
	got := []float64{float64(r.Received()), float64(r.Lost()), r.CPUPerEvent(), r.Achieved()}
	if diff := cmp.Diff([]float64{198000, 2000, 1.5, 50000}, got, cmpFloat); diff != "" {
		t.Errorf("[received, lost, CPU µs/event, achieved] (-want +got):\n%s", diff)
	}
	var zero runResult
	if !math.IsNaN(zero.CPUPerEvent()) || !math.IsNaN(zero.Achieved()) {
		t.Errorf("zero result: CPU/event %v, achieved %v, want NaN", zero.CPUPerEvent(), zero.Achieved())
	}
}
