package watch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// scanFlows returns the NEW events of n unanswered flows from one host to
// n distinct addresses, from the first'th on: even ones TCP SYNs to port
// 22, odd ones UDP datagrams to port 161.
func scanFlows(t testing.TB, first, n int) []model.Event {
	t.Helper()
	ls := make([]string, n)
	for i := range ls {
		j := first + i
		dst := fmt.Sprintf("10.%d.%d.%d", 1+j>>16, j>>8&0xff, j&0xff)
		if j%2 == 0 {
			ls[i] = fmt.Sprintf("    [NEW] tcp      6 120 SYN_SENT src=192.0.2.1 dst=%s sport=40000 dport=22 [UNREPLIED] src=%s dst=192.0.2.1 sport=22 dport=40000 id=%d", dst, dst, j+1)
		} else {
			ls[i] = fmt.Sprintf("    [NEW] udp      17 30 src=192.0.2.1 dst=%s sport=40000 dport=161 [UNREPLIED] src=%s dst=192.0.2.1 sport=161 dport=40000 id=%d", dst, dst, j+1)
		}
	}
	return parse(t, ls...)
}

// unrepliedRecords returns the unreplied records among recs.
func unrepliedRecords(recs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["event"] == "unreplied" {
			out = append(out, r)
		}
	}
	return out
}

// TestRunUnrepliedScan: a scan of 2000 destinations, all unanswered,
// becomes UnrepliedBurst warnings and one summary, not 2000 warnings, and
// their flows count every one of the 2000; the summary comes when its
// interval closes, not only at the stop.
func TestRunUnrepliedScan(t *testing.T) {
	const n = 2000
	var lt *loopTest
	reads := []read{
		// The scan, in four reads half a second apart.
		{events: scanFlows(t, 0, n/4)},
		{before: func() { lt.clock.Advance(500 * time.Millisecond) }, events: scanFlows(t, n/4, n/4)},
		{before: func() { lt.clock.Advance(500 * time.Millisecond) }, events: scanFlows(t, n/2, n/4)},
		{before: func() { lt.clock.Advance(500 * time.Millisecond) }, events: scanFlows(t, 3*n/4, n/4)},
	}
	// Then 20 s of quiet, a read a second: the flows come due, and the
	// interval of their warnings closes.
	for range 20 {
		reads = append(reads, read{before: func() { lt.clock.Advance(time.Second) }})
	}
	lt = newLoopTest(t, Config{}, reads...)
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	recs := lt.records()
	un := unrepliedRecords(recs)
	if len(un) > 10 {
		t.Fatalf("%d unreplied records for a scan of %d, want a handful", len(un), n)
	}
	var flows float64
	var singles, summaries int
	for _, r := range un {
		flows += r["flows"].(float64)
		if r["summary"] == true {
			summaries++
		} else {
			singles++
		}
	}
	if flows != n {
		t.Errorf("unreplied records' flows sum to %v, want %d", flows, n)
	}
	burst := flow.DefaultConfig().UnrepliedBurst
	if singles != burst || summaries != 1 {
		t.Errorf("%d warnings and %d summaries, want %d and 1", singles, summaries, burst)
	}
	if sum.UnrepliedWarnings != uint64(burst) || sum.UnrepliedSummarised != n-uint64(burst) {
		t.Errorf("summary counts %d warnings, %d summarised; want %d, %d", sum.UnrepliedWarnings, sum.UnrepliedSummarised, burst, n-burst)
	}
	stop := recs[len(recs)-1]
	if got := fields([]map[string]any{stop}, "unreplied_warnings", "unreplied_summarised")[0]; !cmp.Equal(got,
		map[string]any{"event": "stop", "unreplied_warnings": float64(burst), "unreplied_summarised": float64(n - burst)}) {
		t.Errorf("stop record's unreplied counts %v, want %d warnings and %d summarised", got, burst, n-burst)
	}
	if got, want := sum.String(), "; 5 unreplied warnings (1995 more unreplied flows summarised), 0 flows evicted"; !strings.Contains(got, want) {
		t.Errorf("summary line %q lacks %q", got, want)
	}
	// The summary: closed by the detector's run 10 s after its interval
	// began (the first read's flows came due at 5 s, found at the turn of
	// 5.5 s), well before the stop at 21.5 s.
	var s map[string]any
	for _, r := range un {
		if r["summary"] == true {
			s = r
		}
	}
	want := map[string]any{
		"event": "unreplied", "since": "2026-11-22T05:00:05.500000000Z", "time": "2026-11-22T05:00:15.500000000Z",
		"destinations": float64(n - burst), "destinations_capped": false, "ntop": 5.0,
		"top_ports": []any{
			// The warnings took flows 0 to 4: three TCP, two UDP.
			map[string]any{"proto": "udp", "dport": 161.0, "flows": float64(n/2 - 2)},
			map[string]any{"proto": "tcp", "dport": 22.0, "flows": float64(n/2 - 3)},
		},
	}
	if s != nil {
		s["ntop"] = float64(len(s["top"].([]any)))
	}
	if diff := cmp.Diff(want, fields([]map[string]any{s}, "since", "time", "destinations", "destinations_capped", "ntop", "top_ports")[0]); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// TestRunUnrepliedFlush: flows summarised in an interval that has not
// closed when the watch stops are reported in a summary before the stop
// record.
func TestRunUnrepliedFlush(t *testing.T) {
	var lt *loopTest
	lt = newLoopTest(t, Config{},
		read{events: scanFlows(t, 0, 50)},
		read{before: func() { lt.clock.Advance(6 * time.Second) }},
	)
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	recs := lt.records()
	got := fields(unrepliedRecords(recs), "flows", "summary")
	want := []map[string]any{
		{"event": "unreplied", "flows": 1.0}, {"event": "unreplied", "flows": 1.0}, {"event": "unreplied", "flows": 1.0},
		{"event": "unreplied", "flows": 1.0}, {"event": "unreplied", "flows": 1.0},
		{"event": "unreplied", "flows": 45.0, "summary": true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unreplied records (-want +got):\n%s", diff)
	}
	if k := kinds(recs[len(recs)-2:]); k[0] != "unreplied" || k[1] != "stop" {
		t.Errorf("records end %v, want the summary, then stop", k)
	}
}

// TestRunUnrepliedHeartbeat: a heartbeat to a peer that never answers,
// one datagram every 3 s, stays within the burst: every one is warned
// about on its own, its repeats growing, as before summaries.
func TestRunUnrepliedHeartbeat(t *testing.T) {
	var lt *loopTest
	var reads []read
	for i := range 8 {
		reads = append(reads, read{before: func() { lt.clock.Advance(time.Second) }, events: newFlows(t, 100+i, 1)})
		reads = append(reads, read{before: func() { lt.clock.Advance(time.Second) }}, read{before: func() { lt.clock.Advance(time.Second) }})
	}
	for range 6 {
		reads = append(reads, read{before: func() { lt.clock.Advance(time.Second) }})
	}
	lt = newLoopTest(t, Config{}, reads...)
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	for i := 1; i <= 8; i++ {
		want = append(want, map[string]any{"event": "unreplied", "flows": 1.0, "repeats": float64(i)})
	}
	if diff := cmp.Diff(want, fields(unrepliedRecords(lt.records()), "flows", "repeats", "summary")); diff != "" {
		t.Errorf("unreplied records (-want +got):\n%s", diff)
	}
	if sum.UnrepliedSummarised != 0 {
		t.Errorf("%d flows summarised, want none", sum.UnrepliedSummarised)
	}
}

// scrapeHandler serves GET /metrics with h, in memory, and returns the
// ctwatch_* samples by name and labels ("ctwatch_events_total{type=new}").
func scrapeHandler(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ctwatch_") {
			continue
		}
		for _, m := range f.GetMetric() {
			key := name
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestRunMetricsCounters: /metrics counts what the watch did: the records
// it wrote, its unreplied flows by report, the flow ends it inferred, the
// flows it evicted, and the table's fill from the health monitor's
// reading.
func TestRunMetricsCounters(t *testing.T) {
	statsRead := make(chan struct{})
	hc := health.DefaultConfig()
	hc.Interval, hc.Thresholds = time.Hour, []float64{90}
	fc := flow.DefaultConfig()
	fc.MaxFlows = 100
	var lt *loopTest
	// A NEW for a flow still tracked (the last, the most recently seen):
	// the earlier flow's end is inferred.
	again := scanFlows(t, 119, 1)
	lt = newLoopTest(t, Config{Health: hc, Flow: fc,
		ReadStats: func(context.Context) (ctstat.Reading, error) {
			defer close(statsRead)
			return ctstat.Reading{Time: lt.clock.Now(), Count: 50, Max: 200}, nil
		}},
		// 120 flows into 100: 20 evicted.
		read{before: func() { <-statsRead }, events: scanFlows(t, 0, 120)},
		read{before: func() { lt.clock.Advance(6 * time.Second) }},
		read{before: func() { lt.clock.Advance(time.Second) }, events: again},
	)
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	written := float64(len(lt.records()))
	got := scrapeHandler(t, metrics.Handler(metrics.NewRegistry(lt.w.metricsSnapshot), nil))
	want := map[string]float64{
		"ctwatch_records_written_total{output=stdout}":        written,
		"ctwatch_unreplied_warnings_total{report=single}":     5,
		"ctwatch_unreplied_warnings_total{report=summarised}": 95,
		"ctwatch_inferred_destroys_total":                     1,
		"ctwatch_flows_evicted_total":                         20,
		"ctwatch_conntrack_fill_ratio":                        0.25,
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			delete(got, k)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if sum.Inferred != 1 || sum.FlowsEvicted != 20 {
		t.Errorf("summary: %d inferred, %d evicted; want 1, 20", sum.Inferred, sum.FlowsEvicted)
	}
}

// TestRunStartMetricsAddr: the start record names the address /metrics is
// served on, and has no metrics key when it is not served.
func TestRunStartMetricsAddr(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:0"} {
		lt := newLoopTest(t, Config{MetricsAddr: addr})
		if _, err := lt.run(); err != nil {
			t.Fatal(err)
		}
		start := lt.records()[0]
		got, ok := start["metrics"].(string)
		switch {
		case addr == "" && ok:
			t.Errorf("metrics off: start record has metrics %q", got)
		case addr != "" && (!strings.HasPrefix(got, "127.0.0.1:") || got == "127.0.0.1:0"):
			t.Errorf("metrics on %s: start record has metrics %q, want the address listened on", addr, got)
		}
	}
}
