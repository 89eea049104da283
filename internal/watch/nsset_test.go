package watch

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// fakeDiscovery is a Discovery the test fills: its Events are sent by the
// test, its lookups answer what the test put in.
type fakeDiscovery struct {
	ch    chan nsdiscover.Event
	byID  map[int32]nsdiscover.NS
	byIno map[uint64]nsdiscover.NS
}

func newFakeDiscovery() *fakeDiscovery {
	return &fakeDiscovery{ch: make(chan nsdiscover.Event, 16), byID: map[int32]nsdiscover.NS{}, byIno: map[uint64]nsdiscover.NS{}}
}

func (f *fakeDiscovery) Run(ctx context.Context) error {
	<-ctx.Done()
	close(f.ch)
	return nil
}
func (f *fakeDiscovery) Events() <-chan nsdiscover.Event { return f.ch }
func (f *fakeDiscovery) Lookup(id int32) (nsdiscover.NS, bool) {
	n, ok := f.byID[id]
	return n, ok
}
func (f *fakeDiscovery) Inode(ino uint64) (nsdiscover.NS, bool) {
	n, ok := f.byIno[ino]
	return n, ok
}

// add makes namespace n known and queues its Added event, with a handle
// on the test's own namespace (any namespace will do: dumps are faked).
func (f *fakeDiscovery) add(t testing.TB, n nsdiscover.NS) {
	t.Helper()
	h, err := netns.Open("")
	if err != nil {
		t.Fatal(err)
	}
	f.byID[n.NSID], f.byIno[n.Inode] = n, n
	f.ch <- nsdiscover.Event{Kind: nsdiscover.Added, NS: n, Handle: h}
}

// allNetNSWatch is a watch of every namespace on fake discovery, its
// dumps returning dumped (by namespace inode... all handles are the test's
// own namespace, so each dump returns the same entries).
func allNetNSWatch(t testing.TB, cfg Config, atStart map[uint64]bool, dumped []model.Event) (*Watch, *fakeDiscovery, func() []map[string]any) {
	t.Helper()
	d := newFakeDiscovery()
	cfg.AllNetNS, cfg.Discovery = true, d
	cfg.AtStart = func() (map[uint64]bool, error) { return atStart, nil }
	cfg.DumpNetNS = func(_ context.Context, _ *netns.Handle, _ events.DumpFilter, fn func(*model.Event) bool) error {
		for i := range dumped {
			ev := dumped[i]
			if !fn(&ev) {
				break
			}
		}
		return nil
	}
	w, out, buf := testWatch(t, cfg)
	if err := w.startNetNS(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(d.ch); w.closeNetNS() })
	w.discovery = d.ch
	return w, d, func() []map[string]any { return lines(t, out, buf) }
}

func TestAllNetNSIdentityAndCounts(t *testing.T) {
	pod := nsdiscover.NS{Inode: 4026530001, NSID: 3, PID: 42, Container: nsdiscover.Container{ID: "c1", PodUID: "p1"}}
	named := nsdiscover.NS{Inode: 4026530002, NSID: 5, Name: "blue"}
	w, d, records := allNetNSWatch(t, Config{Updates: UpdatesAll}, map[uint64]bool{pod.Inode: true}, nil)
	d.add(t, pod)
	d.add(t, named)
	w.takeDiscovery(context.Background())

	evs := parse(t, tcpFlow[0], tcpFlow[1])
	b := &events.Batch{}
	for _, ns := range []model.NetNS{model.PeerNetNS(3), model.PeerNetNS(5), model.PeerNetNS(9), {}} {
		for _, ev := range evs {
			ev.NetNS = ns
			b.Events = append(b.Events, ev)
		}
	}
	w.batch(b)

	type nsRec struct {
		Event string
		NetNS map[string]any
	}
	var got []nsRec
	for _, r := range records() {
		n, _ := r["netns"].(map[string]any)
		got = append(got, nsRec{r["event"].(string), n})
	}
	podID := map[string]any{"inode": float64(pod.Inode), "nsid": float64(3), "pid": float64(42), "container_id": "c1", "pod_uid": "p1"}
	blueID := map[string]any{"inode": float64(named.Inode), "nsid": float64(5), "name": "blue"}
	unknown := map[string]any{"nsid": float64(9)}
	// Without an id in itself, the own namespace is written without one.
	self := map[string]any{"inode": float64(w.ns.selfIno), "pid": float64(os.Getpid()), "self": true}
	want := []nsRec{
		{"netns_added", podID}, {"netns_added", blueID},
		{"new", podID}, {"update", podID},
		{"new", blueID}, {"update", blueID},
		{"new", unknown}, {"update", unknown},
		{"new", self}, {"update", self},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	counts := map[string][2]uint64{}
	for _, sl := range w.ns.all {
		counts[sl.label] = [2]uint64{sl.events.Load(), sl.records.Load()}
	}
	wantCounts := map[string][2]uint64{
		"4026530001": {2, 2}, "blue": {2, 2}, labelOf(w.ns.selfIno): {2, 2},
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("per-namespace events and records (-want +got):\n%s", diff)
	}
	if n := w.counters.UnknownNetNS.Load(); n != 2 {
		t.Errorf("unknown_netns %d, want 2", n)
	}
}

func labelOf(ino uint64) string {
	return (&nsSlot{ns: nsdiscover.NS{Inode: ino}}).labelFor()
}

func TestAllNetNSDumps(t *testing.T) {
	dumped := parse(t, "[1795320000.000100]\t    [NEW] udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=53 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1000 id=9")
	for i := range dumped {
		dumped[i].Type = model.EventSnapshot
	}
	early := nsdiscover.NS{Inode: 11, NSID: 1}
	late := nsdiscover.NS{Inode: 12, NSID: 2}
	for _, snapshot := range []bool{false, true} {
		w, d, records := allNetNSWatch(t, Config{Snapshot: snapshot}, map[uint64]bool{early.Inode: true}, dumped)
		d.add(t, early)
		d.add(t, late)
		w.takeDiscovery(context.Background())
		var got []string
		for _, r := range records() {
			s := r["event"].(string)
			if s == "netns_added" {
				s += "/dumped=" + map[bool]string{true: "yes", false: "no"}[r["dumped"] == true]
			}
			got = append(got, s)
		}
		want := []string{"netns_added/dumped=yes", "netns_added/dumped=no"}
		if snapshot {
			// Found later, dumped all the same: --snapshot lists every
			// namespace's table.
			want = []string{"snapshot", "netns_added/dumped=yes", "snapshot", "netns_added/dumped=yes"}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("snapshot %v: records (-want +got):\n%s", snapshot, diff)
		}
		// The early namespace's flow is tracked, under its namespace.
		if n := w.tracker.Len(); n < 1 {
			t.Errorf("snapshot %v: %d flows tracked, want the dumped one", snapshot, n)
		}
	}
}

func TestNetNSMetricsCap(t *testing.T) {
	w, d, _ := allNetNSWatch(t, Config{NetNSMetricsMax: 2}, nil, nil)
	for i := range 4 {
		d.add(t, nsdiscover.NS{Inode: uint64(100 + i), NSID: int32(i)})
	}
	w.takeDiscovery(context.Background())
	b := &events.Batch{}
	for i := range 4 {
		ev := parse(t, tcpFlow[0])[0]
		ev.NetNS = model.PeerNetNS(int32(i))
		b.Events = append(b.Events, ev)
	}
	w.batch(b)
	got := w.netnsMetrics()
	// Own namespace first (labelled at the start), then the first namespace
	// found; the other three under "other".
	want := []string{labelOf(w.ns.selfIno), "100", "other"}
	var labels []string
	var events uint64
	for _, m := range got {
		labels = append(labels, m.Label)
		events += m.Events
	}
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if events != 4 {
		t.Errorf("%d events over the labels, want 4", events)
	}
}

// pipelineNetNS is pipeline for a watch of every namespace: each event
// comes from a known peer namespace and is accounted for on its slot.
func pipelineNetNS(tb testing.TB) func() {
	tb.Helper()
	msgs := capturedMessages(tb, "tcp")
	out := output.Single(sink.New(io.Discard, sink.Config{}))
	tb.Cleanup(func() { out.Close() })
	d := newFakeDiscovery()
	w := New(Config{Out: out, Log: zerolog.New(out), Updates: UpdatesAll, Run: testRun, Host: testHost,
		AllNetNS: true, Discovery: d, AtStart: func() (map[uint64]bool, error) { return nil, nil }})
	if err := w.startNetNS(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { close(d.ch); w.closeNetNS() })
	w.discovery = d.ch
	d.add(tb, nsdiscover.NS{Inode: 7, NSID: 4, Name: "pod"})
	w.takeDiscovery(context.Background())
	var ev model.Event
	i := 0
	return func() {
		if err := events.DecodeFast(msgs[i%len(msgs)], &ev); err != nil {
			tb.Fatal(err)
		}
		ev.NetNS = model.PeerNetNS(4)
		if w.nsEvent(&ev) {
			w.event(&ev)
		}
		i++
	}
}

// TestPipelineNetNSAllocs: a watch of every namespace keeps an event's
// path free of allocations, its namespace's counting and identity
// included.
func TestPipelineNetNSAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("zerolog's event pool drops items at random under the race detector")
	}
	next := pipelineNetNS(t)
	for range 100 {
		next()
	}
	if allocs := testing.AllocsPerRun(1000, next); allocs != 0 {
		t.Errorf("%v allocations per event, want 0", allocs)
	}
}

// BenchmarkPipelineAllNetNS is BenchmarkPipeline/native for a watch of
// every namespace.
func BenchmarkPipelineAllNetNS(b *testing.B) {
	next := pipelineNetNS(b)
	b.ReportAllocs()
	for b.Loop() {
		next()
	}
}

// TestAllNetNSAdopt: a namespace discovery found without an id, and gave
// one later (it knows it by id, never reported it with one), is watched
// from its first event: netns_added, and its events counted on its own.
func TestAllNetNSAdopt(t *testing.T) {
	w, d, records := allNetNSWatch(t, Config{Updates: UpdatesAll}, nil, nil)
	late := nsdiscover.NS{Inode: 77, NSID: 6, Name: "late-id"}
	d.byID[late.NSID], d.byIno[late.Inode] = late, late
	b := &events.Batch{}
	for _, ev := range parse(t, tcpFlow[0], tcpFlow[1]) {
		ev.NetNS = model.PeerNetNS(6)
		b.Events = append(b.Events, ev)
	}
	w.batch(b)
	var got []string
	for _, r := range records() {
		got = append(got, r["event"].(string))
	}
	if diff := cmp.Diff([]string{"netns_added", "new", "update"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	sl := w.ns.slot(model.PeerNetNS(6))
	if sl == nil || sl.events.Load() != 2 || sl.records.Load() != 2 {
		t.Fatalf("slot of the adopted namespace %+v, want 2 events and 2 records", sl)
	}
	if n := w.counters.UnknownNetNS.Load(); n != 0 {
		t.Errorf("unknown_netns %d, want 0", n)
	}
}
