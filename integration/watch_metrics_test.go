//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestWatchMetrics scrapes `watch --metrics-addr` and checks its values
// against the events the test caused, and the metrics' types.
func TestWatchMetrics(t *testing.T) {
	ns := wtTrackedNS(t)
	const addr = "127.0.0.1:9671" // the namespace's own loopback
	// The scrapes must not count themselves: their connections bypass
	// conntrack, as a monitoring port on a busy gateway might.
	ns.NFT(`table inet metrics_notrack {
	chain prerouting { type filter hook prerouting priority raw; tcp dport 9671 notrack; tcp sport 9671 notrack; }
	chain output { type filter hook output priority raw; tcp dport 9671 notrack; tcp sport 9671 notrack; }
}
`)
	// The filter runs in userspace, so that the metrics count what it
	// filters (kernel filtering is kfilter_test.go's).
	w := wtStartIn(t, ns, "watch", "--metrics-addr", addr, "--stats-interval", "100ms",
		"--proto", "udp", "--updates", "all", "--kernel-filter=false")
	ct := ns.Conntrack()
	// 5 UDP flows (one updated twice, one deleted) and 2 TCP flows, which
	// the filter drops.
	udp := make([]func() error, 0)
	for i := range 5 {
		f := evFlow(17, "10.60.0.1", "10.60.0.2", uint16(100+i), 53, 100, 0)
		udp = append(udp, func() error { return ct.Create(f) })
	}
	for _, create := range udp {
		evWithin(t, evTimeout, "create", create)
	}
	for i := range 2 {
		f := evFlow(6, "10.60.0.1", "10.60.0.2", uint16(200+i), 80, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	upd := evFlow(17, "10.60.0.1", "10.60.0.2", 100, 53, 100, 1)
	evWithin(t, evTimeout, "update", func() error { return ct.Update(upd) })
	upd.Mark = 2
	evWithin(t, evTimeout, "update", func() error { return ct.Update(upd) })
	evDelete(t, ct, evFlow(17, "10.60.0.1", "10.60.0.2", 104, 53, 0, 0))
	w.waitRecord("the DESTROY", recordFor(t, model.ProtoUDP, "10.60.0.1", "10.60.0.2", 104, 53, "destroy"))

	client := nsHTTPClient(ns)
	want := map[string]metricSample{
		`ctwatch_events_total{type="new"}`:           {dto.MetricType_COUNTER, 7},
		`ctwatch_events_total{type="update"}`:        {dto.MetricType_COUNTER, 2},
		`ctwatch_events_total{type="destroy"}`:       {dto.MetricType_COUNTER, 1},
		`ctwatch_events_filtered_total`:              {dto.MetricType_COUNTER, 2},
		`ctwatch_events_lost_total{stage="kernel"}`:  {dto.MetricType_COUNTER, 0},
		`ctwatch_events_lost_total{stage="output"}`:  {dto.MetricType_COUNTER, 0},
		`ctwatch_decode_errors_total`:                {dto.MetricType_COUNTER, 0},
		`ctwatch_flows_tracked`:                      {dto.MetricType_GAUGE, 6},
		`ctwatch_conntrack_entries`:                  {dto.MetricType_GAUGE, 6},
		`ctwatch_conntrack_entries_limit`:            {dto.MetricType_GAUGE, -1}, // checked below
		`ctwatch_conntrack_stat_insert_failed_total`: {dto.MetricType_COUNTER, 0},
	}
	var got map[string]metricSample
	// The table gauges follow the next stats reading: poll until they do.
	wtPoll(t, "the metrics to show the events", func() bool {
		got = scrapeMetrics(t, client, "http://"+addr+"/metrics")
		return got[`ctwatch_conntrack_entries`].Value == 6 && got[`ctwatch_events_total{type="destroy"}`].Value == 1
	})
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s missing", k)
		case g.Type != w.Type:
			t.Errorf("%s is a %v, want a %v", k, g.Type, w.Type)
		case w.Value >= 0 && g.Value != w.Value:
			t.Errorf("%s = %v, want %v", k, g.Value, w.Value)
		}
	}
	if got[`ctwatch_conntrack_entries_limit`].Value <= 0 {
		t.Errorf("ctwatch_conntrack_entries_limit = %v", got[`ctwatch_conntrack_entries_limit`].Value)
	}
	for c := range ctstat.NumCounters {
		k := fmt.Sprintf("ctwatch_conntrack_stat_%s_total", c)
		if g, ok := got[k]; !ok || g.Type != dto.MetricType_COUNTER {
			t.Errorf("%s missing or not a counter: %+v", k, g)
		}
	}

	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s %q", resp.Status, body)
	}
}
