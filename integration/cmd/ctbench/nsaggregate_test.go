//go:build integration

package main

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sampleNSResults are two runs of each netns monitor over 4 namespaces:
// all-netns exact in one run and one event short in the other; a failed
// conntrack-each run.
func sampleNSResults() []nsResult {
	gen := eventCounts{New: 1200, Update: 1200, Destroy: 1200}
	ok := func(mon string, run, nns, procs int, cpuNs int64, rss uint64) nsResult {
		return nsResult{Monitor: mon, Run: run, Namespaces: nns, Processes: procs, Generated: gen, GenSeconds: 0.18,
			Expected: 3600, Counts: gen, ExactNS: nns, CPUNanos: cpuNs, PeakRSS: rss, Drained: true, OtherCPU: 0.02, Attempts: 1}
	}
	short := ok(nsMonAll, 2, 4, 1, 4_000_000, 24<<20)
	short.Counts.Destroy--
	short.ExactNS = 3
	return []nsResult{
		ok(nsMonAll, 1, 4, 1, 3_600_000, 20<<20),
		ok(nsMonSingle, 1, 1, 1, 3_600_000, 16<<20),
		ok(nsMonEach, 1, 4, 4, 36_000_000, 16<<20),
		short,
		ok(nsMonSingle, 2, 1, 1, 4_320_000, 16<<20),
		{Monitor: nsMonEach, Run: 2, Err: "conntrack exited at start: boom", Attempts: 1},
	}
}

func TestAggregateNetNS(t *testing.T) {
	rows := aggregateNetNS(sampleNSResults())
	type brief struct {
		Monitor           string
		Processes, Failed int
		CPU, Ratio, RSS   float64
		Lost, ExactMin    float64
	}
	var got []brief
	for _, r := range rows {
		got = append(got, brief{r.Monitor, r.Processes, r.Failed, r.CPU.Med, r.Ratio, r.RSSMiB.Med, r.Lost.Max, r.ExactNS.Min})
	}
	want := []brief{
		// (1.0 + 1.111) / 2 µs against (1.0 + 1.2) / 2.
		{nsMonAll, 1, 0, (1.0 + 4.0/3.6) / 2, (1.0 + 4.0/3.6) / 2 / 1.1, 22, 1, 3},
		{nsMonSingle, 1, 0, 1.1, 1, 16, 0, 1},
		{nsMonEach, 4, 1, 10, 10 / 1.1, 16, 0, 4},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("aggregateNetNS (-want +got):\n%s", diff)
	}
	if rows[2].Err != "conntrack exited at start: boom" {
		t.Errorf("conntrack-each error %q", rows[2].Err)
	}
	if r := aggregateNetNS(nil); len(r) != 3 || !math.IsNaN(r[0].Ratio) || r[0].CPU.N != 0 {
		t.Errorf("no results: %+v", r)
	}
}

func TestNSTargets(t *testing.T) {
	rep := &report{Config: benchConfig{NetNSCount: 4}, NetNS: sampleNSResults()}
	want := []target{{
		Name:     "4 namespaces: ctwatch --all-netns CPU/event ≤ 1.1 × the single-namespace watch (the same load in one namespace)",
		Measured: "0.96× (1.06 against 1.10 µs/event)",
		Verdict:  verdictMet,
	}, {
		Name:     "4 namespaces: ctwatch --all-netns CPU/event ≤ 0.5 × the sum of 4 conntrack -E",
		Measured: "0.11× (1.06 against 10.00 µs/event)",
		Verdict:  verdictMet,
	}, {
		Name:     "4 namespaces: ctwatch --all-netns peak RSS ≤ 1.5 × the single-namespace watch",
		Measured: "1.38× (22.00 against 16.00 MiB)",
		Verdict:  verdictMet,
	}, {
		Name:     "4 namespaces: ctwatch --all-netns receives every event of every namespace, each record naming its namespace",
		Measured: "worst run lost 1 (0.028 %) of 3,600; namespaces exact: at least 3 of 4; records without the namespace's name: up to 0",
		Verdict:  verdictNotMet,
	}}
	if diff := cmp.Diff(want, nsTargets(rep)); diff != "" {
		t.Errorf("nsTargets (-want +got):\n%s", diff)
	}

	// Over the limits, and a lossy conntrack -E: its ratio is not judged.
	rep.NetNS[0].CPUNanos, rep.NetNS[3].CPUNanos = 9_000_000, 9_000_000
	rep.NetNS[0].PeakRSS, rep.NetNS[3].PeakRSS = 30<<20, 30<<20
	rep.NetNS[2].Counts.New -= 100
	got := nsTargets(rep)
	for i, v := range []string{verdictNotMet, verdictNotMeasured, verdictNotMet} {
		if got[i].Verdict != v {
			t.Errorf("target %d: verdict %q, want %q (%s)", i, got[i].Verdict, v, got[i].Measured)
		}
	}
	if want := "0.25× (2.50 against 10.00 µs/event) † (not judged: conntrack -E lost 2.8 %)"; got[1].Measured != want {
		t.Errorf("lossy conntrack -E: measured %q, want %q", got[1].Measured, want)
	}

	// The stand-in's numbers are shown, never judged.
	rep.Config.AllNetNSStandIn = true
	for _, tg := range nsTargets(rep) {
		if tg.Verdict != verdictNotMeasured || !strings.HasPrefix(tg.Measured, "stand-in, not ctwatch: ") {
			t.Errorf("stand-in: %+v", tg)
		}
	}
	rep.Config.AllNetNSStandIn = false

	// Without an all-netns result, nothing is judged, and the error says why.
	rep.NetNS = []nsResult{{Monitor: nsMonAll, Run: 1, Err: "ctwatch --all-netns exited at start: unknown flag"}, sampleNSResults()[1]}
	for _, tg := range nsTargets(rep) {
		if tg.Verdict != verdictNotMeasured || tg.Measured != "ctwatch watch --all-netns (4 namespaces) failed: ctwatch --all-netns exited at start: unknown flag" {
			t.Errorf("all-netns failed: %+v", tg)
		}
	}
}

func TestNSShare(t *testing.T) {
	got := nsShare(eventCounts{New: 300, Update: 300, Destroy: 300}, 100)
	if diff := cmp.Diff(eventCounts{New: 3, Update: 3, Destroy: 3}, got); diff != "" {
		t.Errorf("nsShare (-want +got):\n%s", diff)
	}
	if !sameEvents(got, eventCounts{New: 3, Update: 3, Destroy: 3, Other: 9}) || sameEvents(got, eventCounts{New: 3, Update: 3, Destroy: 2}) {
		t.Error("sameEvents compares the entry events only")
	}
}
