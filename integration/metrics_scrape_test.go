//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/internal/nstest"
)

// metricSample is one scraped sample with its family's type.
type metricSample struct {
	Type  dto.MetricType
	Value float64
}

// nsHTTPClient returns an HTTP client whose connections are made from inside
// ns, so that a test talks to a server listening on the namespace's
// loopback (such as `ip netns exec NS ctwatch watch --metrics-addr
// 127.0.0.1:PORT`) without traffic on the host's.
func nsHTTPClient(ns *nstest.NS) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := ns.Do(func() error {
					var err error
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
			DisableKeepAlives: true,
		},
	}
}

// scrapeMetrics GETs a Prometheus text endpoint and returns its samples by
// name and sorted labels, e.g. `ctwatch_events_total{type="new"}`. Only
// counters and gauges are returned; families with other types fail the test
// if their name starts with "ctwatch_".
func scrapeMetrics(t testing.TB, client *http.Client, url string) map[string]metricSample {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	out := map[string]metricSample{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = metricSample{f.GetType(), m.GetCounter().GetValue()}
			case dto.MetricType_GAUGE:
				out[key] = metricSample{f.GetType(), m.GetGauge().GetValue()}
			default:
				if strings.HasPrefix(name, "ctwatch_") {
					t.Fatalf("%s: unexpected type %v", key, f.GetType())
				}
			}
		}
	}
	return out
}

// TestMetricsConntrackFromNamespace serves internal/metrics inside a namespace,
// fed by a health.Monitor reading that namespace's real table, and checks
// the conntrack gauges and counters a scrape returns.
func TestMetricsConntrackFromNamespace(t *testing.T) {
	ns := nstest.New(t)
	const n = 40
	var flows []bulkFlow
	for i := range n {
		flows = append(flows, bulkFlow{src: netip.MustParseAddr("10.3.0.1"), dst: netip.AddrFrom4([4]byte{10, 4, 0, byte(i)}), sport: 1000, dport: 53})
	}
	if created, _ := createBulk(t, ns, flows); created != n {
		t.Fatalf("created %d of %d entries", created, n)
	}

	h := ns.Handle()
	m := health.NewMonitor(health.DefaultConfig(), func(ctx context.Context) (ctstat.Reading, error) {
		return ctstat.Read(ctx, h)
	}, nil)
	if err := m.Check(context.Background(), func(health.Record) {}); err != nil {
		t.Fatal(err)
	}
	snapshot := func() metrics.Snapshot {
		s := metrics.Snapshot{Events: metrics.EventCounts{New: 3}, Lost: metrics.LostCounts{Output: 2}}
		if r, totals, ok := m.Last(); ok {
			s.HaveTable = true
			s.Table = metrics.Table{Entries: r.Count, Limit: r.Max, Stats: totals}
		}
		return s
	}

	var ln net.Listener
	if err := ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.ServeListener(ctx, ln, metrics.NewRegistry(snapshot), nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics server: %v", err)
		}
	})

	r, _, _ := m.Last()
	got := scrapeMetrics(t, nsHTTPClient(ns), "http://"+ln.Addr().String()+"/metrics")
	want := map[string]metricSample{
		"ctwatch_conntrack_entries":                 {dto.MetricType_GAUGE, n},
		"ctwatch_conntrack_entries_limit":           {dto.MetricType_GAUGE, float64(r.Max)},
		`ctwatch_events_total{type="new"}`:          {dto.MetricType_COUNTER, 3},
		`ctwatch_events_lost_total{stage="output"}`: {dto.MetricType_COUNTER, 2},
		`ctwatch_events_lost_total{stage="kernel"}`: {dto.MetricType_COUNTER, 0},
	}
	for i := range ctstat.NumCounters {
		want["ctwatch_conntrack_stat_"+i.String()+"_total"] = metricSample{dto.MetricType_COUNTER, float64(r.Sum[i])}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %+v (present %v), want %+v", k, g, ok, w)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	resp, err := nsHTTPClient(ns).Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
}
