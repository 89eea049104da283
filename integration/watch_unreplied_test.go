//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestWatchUnrepliedScan: 500 unanswered UDP flows to as many addresses,
// inserted into a namespace's table (no packet leaves it), are at most a
// handful of unreplied records, warnings and one summary, whose flows
// count all 500; /metrics and the stop record count them by report, and
// the start record names the metrics address.
func TestWatchUnrepliedScan(t *testing.T) {
	const n, burst = 500, 5
	ns := wtTrackedNS(t)
	const addr = "127.0.0.1:9672" // the namespace's own loopback
	// The scrapes must not be flows of their own.
	ns.NFT(`table inet metrics_notrack {
	chain prerouting { type filter hook prerouting priority raw; tcp dport 9672 notrack; tcp sport 9672 notrack; }
	chain output { type filter hook output priority raw; tcp dport 9672 notrack; tcp sport 9672 notrack; }
}
`)
	w := wtStartIn(t, ns, "watch", "--metrics-addr", addr, "--unreplied-after", "300ms")
	ct := ns.Conntrack()
	for i := range n {
		f := evFlow(17, "10.62.0.1", fmt.Sprintf("10.63.%d.%d", i/250, 1+i%250), 40000, 161, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	client := nsHTTPClient(ns)
	var got map[string]metricSample
	// Every flow is reported once the detector has found it due: poll
	// the counters until they hold all of them.
	wtPoll(t, "the metrics to count every unreplied flow", func() bool {
		got = scrapeMetrics(t, client, "http://"+addr+"/metrics")
		return got[`ctwatch_unreplied_warnings_total{report="single"}`].Value+
			got[`ctwatch_unreplied_warnings_total{report="summarised"}`].Value >= n
	})
	if s, m := got[`ctwatch_unreplied_warnings_total{report="single"}`].Value, got[`ctwatch_unreplied_warnings_total{report="summarised"}`].Value; s != burst || m != n-burst {
		t.Errorf("metrics: %v single, %v summarised; want %d, %d", s, m, burst, n-burst)
	}
	if v := got[`ctwatch_records_written_total{output="stdout"}`].Value; v < n {
		t.Errorf("ctwatch_records_written_total = %v, want at least the %d NEW records", v, n)
	}

	_, code, _ := w.stop()
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	var recs []map[string]any
	// Every line read, by the wait for the dump and by the stop.
	for _, l := range w.seen {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		recs = append(recs, r)
	}
	var flows float64
	var unreplied, summaries int
	for _, r := range recs {
		switch r["event"] {
		case "start":
			if r["metrics"] != addr {
				t.Errorf("start record: metrics %v, want %s", r["metrics"], addr)
			}
		case "unreplied":
			unreplied++
			flows += r["flows"].(float64)
			if r["summary"] == true {
				summaries++
			}
		case "stop":
			if r["unreplied_warnings"] != float64(burst) || r["unreplied_summarised"] != float64(n-burst) {
				t.Errorf("stop record: %v warnings, %v summarised; want %d, %d", r["unreplied_warnings"], r["unreplied_summarised"], burst, n-burst)
			}
		}
	}
	if unreplied != burst+1 || summaries != 1 || flows != n {
		t.Errorf("%d unreplied records (%d summaries) counting %v flows; want %d (1) counting %d", unreplied, summaries, flows, burst+1, n)
	}
}
