//go:build integration

package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sampleLowResults is a lowrate part: ctwatch within the ratio at 100/s of
// tcp and over it at 1k/s, idle under the target with events=1 and over
// it with events=2; ctnetlink measured at 20k/s only (no judged rate).
func sampleLowResults() []lowResult {
	return []lowResult{
		{Monitor: "ctwatch", CTEvents: 1, Seconds: 20, CPUNanos: 400e3},
		{Monitor: "ctwatch", CTEvents: 1, Load: "tcp", Rate: 100, Events: 400, Seconds: 4, CPUNanos: 400 * 20e3},
		{Monitor: "ctwatch", CTEvents: 1, Load: "tcp", Rate: 1000, Events: 4000, Seconds: 4, CPUNanos: 4000 * 15e3},
		{Monitor: "ctwatch", CTEvents: 1, Load: "ctnetlink", Rate: 20000, Events: 80001, Seconds: 4, CPUNanos: 80001 * 4e3},
		{Monitor: "conntrack", CTEvents: 1, Seconds: 20, CPUNanos: 0},
		{Monitor: "conntrack", CTEvents: 1, Load: "tcp", Rate: 100, Events: 400, Seconds: 4, CPUNanos: 400 * 25e3},
		{Monitor: "conntrack", CTEvents: 1, Load: "tcp", Rate: 1000, Events: 4000, Seconds: 4, CPUNanos: 4000 * 10e3},
		{Monitor: "conntrack", CTEvents: 1, Load: "ctnetlink", Rate: 20000, Events: 80001, Seconds: 4, CPUNanos: 80001 * 3e3},
		{Monitor: "ctwatch", CTEvents: 2, Seconds: 20, CPUNanos: 2e6},
		{Monitor: "conntrack", CTEvents: 2, Seconds: 20, CPUNanos: 0},
	}
}

// TestLowTargets judges the sample: each judged rate's ratio and each
// idle reading against its target; a load without judged rates adds none.
func TestLowTargets(t *testing.T) {
	got := lowTargets(&report{LowRate: sampleLowResults()})
	want := []target{
		{Name: "lowrate: CPU/event at 100/s (tcp) ≤ 1.0× conntrack -E", Measured: "0.80× (20.0 vs 25.0 µs)", Verdict: verdictMet},
		{Name: "lowrate: CPU/event at 1k/s (tcp) ≤ 1.0× conntrack -E", Measured: "1.50× (15.0 vs 10.0 µs)", Verdict: verdictNotMet},
		{Name: "lowrate: idle CPU, empty namespace, nf_conntrack_events=1 ≤ 0.05 ms/s", Measured: "0.020 ms/s (1.2 ms/min)", Verdict: verdictMet},
		{Name: "lowrate: idle CPU, empty namespace, nf_conntrack_events=2 ≤ 0.05 ms/s", Measured: "0.100 ms/s (6.0 ms/min)", Verdict: verdictNotMet},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}
