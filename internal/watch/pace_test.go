package watch

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestReconcilePace: under nf_conntrack_events=2 the periodic
// reconciliation is due ReconcileInterval after the last dump, or later
// when the dump's CPU time would take more than ReconcileBudget of a CPU
// (1 % here; the default is half that);
// it dumps only while flows seeded from a dump remain (those alone can
// miss their DESTROY), and never under nf_conntrack_events=1.
func TestReconcilePace(t *testing.T) {
	const step = 10 * time.Second
	tests := []struct {
		name   string
		events int64
		cost   time.Duration // CPU time of each dump
		table  int           // entries in the table at the start
		goneAt int           // the table empties before this dump (0: never)
		turns  int           // loop turns, step apart
		want   []time.Duration
	}{
		{"cheap dumps: every interval", 2, 10 * time.Millisecond, 1, 0, 10,
			[]time.Duration{0, 30 * time.Second, 60 * time.Second, 90 * time.Second}},
		{"dearer dumps: one CPU-share apart", 2, time.Second, 1, 0, 35,
			[]time.Duration{0, 100 * time.Second, 200 * time.Second, 300 * time.Second}},
		{"2 s a dump (a million entries): 200 s apart", 2, 2 * time.Second, 1, 0, 45,
			[]time.Duration{0, 200 * time.Second, 400 * time.Second}},
		{"nothing seeded: no dump after the first", 2, time.Second, 0, 0, 40,
			[]time.Duration{0}},
		{"seeded flows gone: no dump after the one that found it", 2, 10 * time.Millisecond, 1, 2, 20,
			[]time.Duration{0, 30 * time.Second}},
		{"events=1: no periodic dump", 1, 10 * time.Millisecond, 1, 0, 10,
			[]time.Duration{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lt *loopTest
			var reads []read
			for range tt.turns {
				reads = append(reads, read{before: func() { lt.clock.Advance(step) }})
			}
			lt = newLoopTest(t, Config{
				Heartbeat:       -1,
				Coalesce:        -1, // its sleeps would move the clock between turns
				ReconcileBudget: 0.01,
				ReadSysctl:      func(string) (int64, error) { return tt.events, nil },
			}, reads...)
			var table []model.Event
			for i := range tt.table {
				table = append(table, udpEntry(t, 2000+i))
			}
			lt.table.set(table...)
			var cpu time.Duration
			var at []time.Duration
			start := lt.clock.Now()
			lt.w.cfg.ThreadCPU = func() (time.Duration, bool) { return cpu, true }
			lt.w.cfg.Dump = func(ctx context.Context, f events.DumpFilter, fn func(*model.Event) bool) error {
				at = append(at, lt.clock.Now().Sub(start))
				if len(at) == tt.goneAt {
					lt.table.set()
				}
				cpu += tt.cost
				return lt.table.dump(ctx, f, fn)
			}
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, at); diff != "" {
				t.Errorf("dumps at (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReconcileEvery: the interval a dump's cost buys within the budget.
func TestReconcileEvery(t *testing.T) {
	tests := []struct {
		cost, interval time.Duration
		budget         float64
		want           time.Duration
	}{
		{0, 30 * time.Second, 0.01, 30 * time.Second},
		{300 * time.Millisecond, 30 * time.Second, 0.01, 30 * time.Second},
		{2 * time.Second, 30 * time.Second, 0.01, 200 * time.Second},
		{2 * time.Second, 30 * time.Second, 0.05, 40 * time.Second},
		{2 * time.Second, 5 * time.Minute, 0.01, 5 * time.Minute},
	}
	for _, tt := range tests {
		w := &Watch{cfg: Config{ReconcileInterval: tt.interval, ReconcileBudget: tt.budget}}
		if got := w.reconcileEvery(tt.cost); got != tt.want {
			t.Errorf("reconcileEvery(%v) with interval %v, budget %v = %v, want %v", tt.cost, tt.interval, tt.budget, got, tt.want)
		}
	}
}

// TestMeasureThreadCPU: measure takes the thread's CPU time, and the wall
// time when the thread's cannot be read.
func TestMeasureThreadCPU(t *testing.T) {
	clock := newFakeClock()
	var cpu time.Duration
	ok := true
	w := &Watch{cfg: Config{Clock: clock.Now, ThreadCPU: func() (time.Duration, bool) { return cpu, ok }}}
	work := func() { cpu += 3 * time.Millisecond; clock.Advance(time.Second) }
	if got := w.measure(work); got != 3*time.Millisecond {
		t.Errorf("measure with the thread's CPU time = %v, want 3ms", got)
	}
	ok = false
	if got := w.measure(work); got != time.Second {
		t.Errorf("measure without it = %v, want the wall time, 1s", got)
	}
	if c, ok := threadCPU(); !ok || c <= 0 {
		t.Errorf("threadCPU() = %v, %v; want the thread's CPU time so far", c, ok)
	}
}

// TestReconcileFailedDumpInfersNothing: a reconciliation whose dump
// failed part way infers no end: the entries it did not list may still
// be in the table.
func TestReconcileFailedDumpInfersNothing(t *testing.T) {
	var lt *loopTest
	lt = newLoopTest(t, Config{
		Heartbeat:  -1,
		ReadSysctl: func(string) (int64, error) { return 2, nil },
	}, read{before: func() {
		lt.clock.Advance(30 * time.Second)
		lt.table.set()
		lt.table.err = errors.New("dump conntrack table: receive: no buffer space")
	}})
	lt.table.set(udpEntry(t, 1))
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"event": "start"},
		{"event": "events_on_demand"},
		{"event": "dump"},
		{"event": "reconcile", "inferred": 0.0, "error": "dump conntrack table: receive: no buffer space"},
		{"event": "stop"},
	}
	if diff := cmp.Diff(want, fields(lt.records(), "inferred", "error")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestReconcilePaceNetNS: in a watch of every namespace each namespace
// has its own pace: one whose dumps cost a second of CPU is reconciled at
// least 100 s apart (1 % of a core), one without seeded flows never after its
// first dump, and a namespace found later without flows never at all.
func TestReconcilePaceNetNS(t *testing.T) {
	a := nsdiscover.NS{Inode: 4026531001, NSID: 1, Name: "a"} // at the start, one seeded flow that stays
	b := nsdiscover.NS{Inode: 4026531002, NSID: 2, Name: "b"} // at the start, empty
	c := nsdiscover.NS{Inode: 4026531003, NSID: 3, Name: "c"} // found later, no flows
	var nt *nsLoopTest
	var reads []read
	for range 35 {
		reads = append(reads, read{before: func() { nt.clock.Advance(10 * time.Second) }})
	}
	nt = newNSLoopTest(t, Config{
		Heartbeat:       -1,
		Coalesce:        -1,
		ReconcileBudget: 0.01,
		ReadSysctl:      func(string) (int64, error) { return 2, nil },
	}, map[uint64]bool{a.Inode: true, b.Inode: true}, reads...)
	var cpu time.Duration
	nt.w.cfg.ThreadCPU = func() (time.Duration, bool) { return cpu, true }
	start := nt.clock.Now()
	var at []time.Duration
	dump := nt.w.cfg.DumpNetNS
	nt.w.cfg.DumpNetNS = func(ctx context.Context, h *netns.Handle, f events.DumpFilter, fn func(*model.Event) bool) error {
		cpu += time.Second
		if nt.inode[h] == a.Inode {
			at = append(at, nt.clock.Now().Sub(start))
		}
		return dump(ctx, h, f, fn)
	}
	nt.add(a, udpEntry(t, 1))
	nt.add(b)
	nt.add(c)
	if _, err := nt.run(); err != nil {
		t.Fatal(err)
	}
	// Due 100 s after the last began, queued at that turn and dumped at
	// the next, 10 s on.
	want := []time.Duration{0, 110 * time.Second, 220 * time.Second, 330 * time.Second}
	if diff := cmp.Diff(want, at); diff != "" {
		t.Errorf("dumps of a at (-want +got):\n%s", diff)
	}
	count := map[uint64]int{}
	for _, ino := range nt.dumps() {
		count[ino]++
	}
	if diff := cmp.Diff(map[uint64]int{a.Inode: 4, b.Inode: 1}, count); diff != "" {
		t.Errorf("dumps per namespace (-want +got):\n%s", diff)
	}
}
