package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ctwatch/ctwatch/internal/ctstat"
)

// sample is one scraped sample: its family's type and its value.
type sample struct {
	Type  dto.MetricType
	Value float64
}

// scrape serves GET /metrics with h, in memory (tests send no traffic on
// the host), and returns the ctwatch_* samples by name and labels
// ("ctwatch_events_total{type=new}").
func scrape(t *testing.T, h http.Handler) map[string]sample {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return parseScrape(t, rec.Result())
}

// parseScrape parses a /metrics response.
func parseScrape(t *testing.T, resp *http.Response) map[string]sample {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]sample{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ctwatch_") {
			continue
		}
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
				key += "{" + strings.Join(ls, ",") + "}"
			}
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			default:
				t.Fatalf("%s: unexpected type %v", key, f.GetType())
			}
			out[key] = sample{Type: f.GetType(), Value: v}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	c := func(v float64) sample { return sample{dto.MetricType_COUNTER, v} }
	g := func(v float64) sample { return sample{dto.MetricType_GAUGE, v} }
	base := map[string]sample{
		"ctwatch_events_total{type=new}":                                                        c(10),
		"ctwatch_events_total{type=update}":                                                     c(20),
		"ctwatch_events_total{type=destroy}":                                                    c(9),
		"ctwatch_events_lost_total{stage=kernel}":                                               c(3),
		"ctwatch_events_lost_total{stage=output}":                                               c(1),
		"ctwatch_events_filtered_total":                                                         c(5),
		"ctwatch_decode_errors_total":                                                           c(2),
		"ctwatch_flows_tracked":                                                                 g(7),
		"ctwatch_records_written_total{output=stdout}":                                          c(40),
		"ctwatch_output_dropped_records_total{output=stdout,reason=overflow}":                   c(0),
		"ctwatch_output_dropped_records_total{output=stdout,reason=refused}":                    c(0),
		"ctwatch_output_dropped_records_total{output=stdout,reason=failed}":                     c(0),
		"ctwatch_output_queued_records{output=stdout}":                                          g(0),
		"ctwatch_output_queue_bytes{output=stdout}":                                             g(0),
		"ctwatch_output_lag_seconds{output=stdout}":                                             g(0),
		"ctwatch_output_retries_total{output=stdout}":                                           c(0),
		"ctwatch_output_reconnects_total{output=stdout}":                                        c(0),
		"ctwatch_output_up{output=stdout}":                                                      g(1),
		"ctwatch_records_written_total{output=nats://127.0.0.1:4222/ct}":                        c(30),
		"ctwatch_output_dropped_records_total{output=nats://127.0.0.1:4222/ct,reason=overflow}": c(3),
		"ctwatch_output_dropped_records_total{output=nats://127.0.0.1:4222/ct,reason=refused}":  c(1),
		"ctwatch_output_dropped_records_total{output=nats://127.0.0.1:4222/ct,reason=failed}":   c(0),
		"ctwatch_output_queued_records{output=nats://127.0.0.1:4222/ct}":                        g(12),
		"ctwatch_output_queue_bytes{output=nats://127.0.0.1:4222/ct}":                           g(3600),
		"ctwatch_output_lag_seconds{output=nats://127.0.0.1:4222/ct}":                           g(1.5),
		"ctwatch_output_retries_total{output=nats://127.0.0.1:4222/ct}":                         c(4),
		"ctwatch_output_reconnects_total{output=nats://127.0.0.1:4222/ct}":                      c(1),
		"ctwatch_output_up{output=nats://127.0.0.1:4222/ct}":                                    g(0),
		"ctwatch_unreplied_warnings_total{report=single}":                                       c(4),
		"ctwatch_unreplied_warnings_total{report=summarised}":                                   c(1995),
		"ctwatch_inferred_destroys_total":                                                       c(6),
		"ctwatch_flows_evicted_total":                                                           c(8),
	}
	withTable := map[string]sample{
		"ctwatch_conntrack_entries":       g(1000),
		"ctwatch_conntrack_entries_limit": g(262144),
		"ctwatch_conntrack_fill_ratio":    g(1000.0 / 262144),
	}
	for k, v := range base {
		withTable[k] = v
	}
	for i := range ctstat.NumCounters {
		withTable["ctwatch_conntrack_stat_"+i.String()+"_total"] = c(float64(100 + i))
	}
	// Past 2^53 a float64 counts in steps; 2^40 is exact.
	withTable["ctwatch_conntrack_stat_found_total"] = c(1 << 40)

	snap := Snapshot{
		Events: EventCounts{New: 10, Update: 20, Destroy: 9}, Lost: LostCounts{Kernel: 3, Output: 1},
		Filtered: 5, DecodeErrors: 2, FlowsTracked: 7,
		Outputs: []Output{
			{Name: "stdout", Written: 40},
			{Name: "nats://127.0.0.1:4222/ct", Written: 30, Overflow: 3, Refused: 1, Queued: 12, QueueBytes: 3600,
				Lag: 1.5, Retries: 4, Reconnects: 1, Failing: true},
		},
		UnrepliedWarnings: 4, UnrepliedSummarised: 1995, InferredDestroys: 6, FlowsEvicted: 8,
	}
	tableSnap := snap
	tableSnap.HaveTable = true
	tableSnap.Table = Table{Entries: 1000, Limit: 262144}
	for i := range ctstat.NumCounters {
		tableSnap.Table.Stats[i] = uint64(100 + i)
	}
	tableSnap.Table.Stats[ctstat.Found] = 1 << 40

	// A table without a limit has no fill.
	unlimitedSnap := tableSnap
	unlimitedSnap.Table.Limit = 0
	unlimited := map[string]sample{}
	for k, v := range withTable {
		unlimited[k] = v
	}
	delete(unlimited, "ctwatch_conntrack_fill_ratio")
	unlimited["ctwatch_conntrack_entries_limit"] = g(0)

	// A watch of several namespaces: a series per labelled namespace,
	// "other" for the rest, and the unattributed events.
	nsSnap := snap
	nsSnap.NetNS = []NetNS{{Label: "blue", Events: 11, Tracked: 2}, {Label: "4026532001", Events: 5}, {Label: "other", Events: 30, Tracked: 9}}
	nsSnap.OtherNetNS, nsSnap.UnknownNetNS = 4, 1
	withNS := map[string]sample{
		"ctwatch_netns_events_total{netns=blue}":                        c(11),
		"ctwatch_netns_tracked_flows{netns=blue}":                       g(2),
		"ctwatch_netns_events_total{netns=4026532001}":                  c(5),
		"ctwatch_netns_tracked_flows{netns=4026532001}":                 g(0),
		"ctwatch_netns_events_total{netns=other}":                       c(30),
		"ctwatch_netns_tracked_flows{netns=other}":                      g(9),
		"ctwatch_netns_unattributed_events_total{reason=other_netns}":   c(4),
		"ctwatch_netns_unattributed_events_total{reason=unknown_netns}": c(1),
	}
	for k, v := range base {
		withNS[k] = v
	}

	// A watch of expectations: their two series beside the events'.
	expSnap := snap
	expSnap.Events.Expects, expSnap.Events.ExpectNew, expSnap.Events.ExpectDestroy = true, 3, 2
	withExpect := map[string]sample{
		"ctwatch_events_total{type=expect_new}":     c(3),
		"ctwatch_events_total{type=expect_destroy}": c(2),
	}
	for k, v := range base {
		withExpect[k] = v
	}

	tests := []struct {
		name string
		snap Snapshot
		want map[string]sample
	}{
		{name: "before the first table reading", snap: snap, want: base},
		{name: "expectations", snap: expSnap, want: withExpect},
		{name: "several namespaces", snap: nsSnap, want: withNS},
		{name: "with a table reading", snap: tableSnap, want: withTable},
		{name: "with a table without a limit", snap: unlimitedSnap, want: unlimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Handler(NewRegistry(func() Snapshot { return tt.snap }), nil)
			if diff := cmp.Diff(tt.want, scrape(t, h)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetricsReadAtScrape checks that each scrape calls the snapshot
// function anew.
func TestMetricsReadAtScrape(t *testing.T) {
	var n atomic.Uint64
	h := Handler(NewRegistry(func() Snapshot {
		return Snapshot{Events: EventCounts{New: n.Add(1)}}
	}), nil)
	for want := 1.0; want <= 3; want++ {
		if got := scrape(t, h)["ctwatch_events_total{type=new}"].Value; got != want {
			t.Errorf("scrape %v: ctwatch_events_total{type=new} = %v", want, got)
		}
	}
}

func TestHealthz(t *testing.T) {
	errStuck := errors.New("watch loop stuck for 30s")
	tests := []struct {
		name       string
		health     func() error
		wantStatus int
		wantBody   string
	}{
		{name: "no health function", wantStatus: 200, wantBody: "ok\n"},
		{name: "healthy", health: func() error { return nil }, wantStatus: 200, wantBody: "ok\n"},
		{name: "unhealthy", health: func() error { return errStuck }, wantStatus: 503, wantBody: "watch loop stuck for 30s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(NewRegistry(func() Snapshot { return Snapshot{} }), tt.health).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			resp := rec.Result()
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// pipeListener is a net.Listener of in-memory connections, so that the
// server's tests send no traffic on the host.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

// dial connects to the listener.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestServeShutsDown(t *testing.T) {
	ln := newPipeListener()
	client := &http.Client{Transport: &http.Transport{DialContext: ln.dial}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, NewRegistry(func() Snapshot { return Snapshot{} }), nil) }()
	resp, err := client.Get("http://pipe/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if got := parseScrape(t, resp); len(got) == 0 {
		t.Fatal("no ctwatch metrics served")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	client.CloseIdleConnections()
	if _, err := client.Get("http://pipe/metrics"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestServeBadAddress(t *testing.T) {
	err := Serve(context.Background(), "127.0.0.1:99999", NewRegistry(func() Snapshot { return Snapshot{} }), nil)
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("error %v, want a *net.OpError", err)
	}
}

func TestDescribeMatchesCollect(t *testing.T) {
	c := NewCollector(func() Snapshot { return Snapshot{HaveTable: true} })
	described := map[string]bool{}
	for _, d := range describe(c) {
		described[d] = true
	}
	for _, m := range collect(c) {
		if !described[m] {
			t.Errorf("collected %s, which Describe does not describe", m)
		}
	}
}
