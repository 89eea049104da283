package watch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// These tests drive the real Run of a watch of every namespace: fake
// discovery (nsset_test.go) reports the namespaces, and each namespace's
// table is faked by the descriptor the watch dumps it through.

// nsLoopTest is a loopTest watching every namespace.
type nsLoopTest struct {
	*loopTest
	d *fakeDiscovery
	// mu guards what the dumps read and record: the health monitor dumps
	// beside the loop.
	mu      sync.Mutex
	inode   map[*netns.Handle]uint64 // the namespace each descriptor is of
	entries map[uint64][]model.Event // each namespace's table
	dumped  []uint64                 // the namespaces dumped, in order
}

// newNSLoopTest builds a watch of every namespace; atStart are the inodes
// of the namespaces present at the start.
func newNSLoopTest(t *testing.T, cfg Config, atStart map[uint64]bool, reads ...read) *nsLoopTest {
	t.Helper()
	nt := &nsLoopTest{d: newFakeDiscovery(), inode: map[*netns.Handle]uint64{}, entries: map[uint64][]model.Event{}}
	cfg.AllNetNS, cfg.Discovery = true, nt.d
	cfg.AtStart = func() (map[uint64]bool, error) { return atStart, nil }
	cfg.DumpNetNS = nt.dump
	nt.loopTest = newLoopTest(t, cfg, reads...)
	return nt
}

// dump lists the table of the namespace h is of, stamped as fakeTable's.
func (nt *nsLoopTest) dump(_ context.Context, h *netns.Handle, _ events.DumpFilter, fn func(*model.Event) bool) error {
	nt.mu.Lock()
	ino, ok := nt.inode[h]
	if !ok {
		// A duplicate (the health monitor's): the same namespace.
		for o, i := range nt.inode {
			if o.ID() == h.ID() {
				ino = i
			}
		}
	}
	entries := nt.entries[ino]
	nt.dumped = append(nt.dumped, ino)
	nt.mu.Unlock()
	dumpEntries(entries, nt.clock.Now(), fn)
	return nil
}

// add makes namespace n known to discovery, with its table, and queues its
// Added event. Before Run or on the loop goroutine (a read's before).
func (nt *nsLoopTest) add(n nsdiscover.NS, entries ...model.Event) {
	nt.t.Helper()
	h, err := netns.Open("")
	if err != nil {
		nt.t.Fatal(err)
	}
	nt.mu.Lock()
	nt.inode[h], nt.entries[n.Inode] = n.Inode, entries
	nt.mu.Unlock()
	nt.d.byID[n.NSID], nt.d.byIno[n.Inode] = n, n
	nt.d.ch <- nsdiscover.Event{Kind: nsdiscover.Added, NS: n, Handle: h}
}

// remove forgets namespace n and queues its Removed event, as discovery
// does once it is gone. On the loop goroutine.
func (nt *nsLoopTest) remove(n nsdiscover.NS) {
	delete(nt.d.byID, n.NSID)
	delete(nt.d.byIno, n.Inode)
	nt.d.ch <- nsdiscover.Event{Kind: nsdiscover.Removed, NS: n}
}

// setTable replaces namespace n's table.
func (nt *nsLoopTest) setTable(n nsdiscover.NS, entries ...model.Event) {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	nt.entries[n.Inode] = entries
}

// dumps returns the inodes of the namespaces dumped so far, in order.
func (nt *nsLoopTest) dumps() []uint64 {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return append([]uint64(nil), nt.dumped...)
}

// inNetNS returns evs as if they came from the namespace of id nsid.
func inNetNS(nsid int32, evs ...model.Event) []model.Event {
	for i := range evs {
		evs[i].NetNS = model.PeerNetNS(nsid)
	}
	return evs
}

// TestRunNetNSRemoved: a namespace discovery reports gone has its flows
// ended as inferred (reason netns_gone) and a netns_removed record saying
// how many; its slot and metrics label are freed, its late events count as
// unknown_netns, the other namespaces are watched on, and the stop record
// still lists it with its totals.
func TestRunNetNSRemoved(t *testing.T) {
	a := nsdiscover.NS{Inode: 4026531001, NSID: 1, Name: "a"}
	b := nsdiscover.NS{Inode: 4026531002, NSID: 2, Name: "b"}
	var nt *nsLoopTest
	nt = newNSLoopTest(t, Config{}, map[uint64]bool{a.Inode: true},
		read{events: inNetNS(b.NSID, udpNew(t, 10))},
		read{before: func() { nt.remove(a) }},
		read{events: inNetNS(a.NSID, udpNew(t, 11))},
		// Past nsCountEvery: the per-namespace counts are refreshed.
		read{before: func() { nt.clock.Advance(nsCountEvery) }},
	)
	nt.add(a, udpEntry(t, 1), udpEntry(t, 2))
	nt.add(b)
	sum, err := nt.run()
	if err != nil {
		t.Fatal(err)
	}
	aID := map[string]any{"inode": float64(a.Inode), "nsid": 1.0, "name": "a"}
	bID := map[string]any{"inode": float64(b.Inode), "nsid": 2.0, "name": "b"}
	// Once gone, discovery no longer knows it: only its id is written.
	aGone := map[string]any{"nsid": 1.0}
	self := map[string]any{"inode": float64(nt.w.ns.selfIno), "pid": float64(os.Getpid()), "self": true, "events": 0.0, "records": 0.0}
	want := []map[string]any{
		{"event": "start", "netns": "all", "events": "new,update,destroy"},
		{"event": "netns_added", "netns": aID, "dumped": true, "entries": 2.0},
		{"event": "netns_added", "netns": bID, "dumped": false},
		{"event": "new", "netns": bID, "orig.sport": 10.0},
		{"event": "destroy", "netns": aGone, "orig.sport": 1.0, "inferred_reason": "netns_gone"},
		{"event": "destroy", "netns": aGone, "orig.sport": 2.0, "inferred_reason": "netns_gone"},
		{"event": "netns_removed", "netns": aID, "flows_ended": 2.0, "events": 0.0},
		{"event": "new", "netns": aGone, "orig.sport": 11.0},
		{"event": "stop", "entries": 2.0, "unknown_netns": 1.0, "inferred_destroys": 2.0, "netns": []any{
			self,
			map[string]any{"inode": float64(a.Inode), "nsid": 1.0, "name": "a", "events": 0.0, "records": 2.0},
			map[string]any{"inode": float64(b.Inode), "nsid": 2.0, "name": "b", "events": 1.0, "records": 1.0},
		}},
	}
	got := fields(nt.records(), "netns", "dumped", "entries", "orig.sport", "inferred_reason", "flows_ended", "events", "unknown_netns", "inferred_destroys")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if sum.Inferred != 2 {
		t.Errorf("summary: %d inferred, want 2", sum.Inferred)
	}
	if sl := nt.w.ns.slot(model.PeerNetNS(a.NSID)); sl != nil {
		t.Errorf("the removed namespace still has a slot: %+v", sl.ns)
	}
	if n := nt.w.ns.labels; n != 2 {
		t.Errorf("%d metrics labels given, want 2 (own, b): a's is freed", n)
	}
	// /metrics: the namespaces present, with their live flows as last
	// counted (b's unreplied flow; a's are ended).
	var gotMetrics []metrics.NetNS
	gotMetrics = append(gotMetrics, nt.w.metricsSnapshot().NetNS...)
	wantMetrics := []metrics.NetNS{{Label: labelOf(nt.w.ns.selfIno)}, {Label: "b", Events: 1, Tracked: 1}}
	if diff := cmp.Diff(wantMetrics, gotMetrics); diff != "" {
		t.Errorf("per-namespace metrics (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{a.Inode}, nt.dumps()); diff != "" {
		t.Errorf("namespaces dumped (-want +got):\n%s", diff)
	}
}

// TestRunNetNSReconcile: a watch of every namespace reconciles one
// namespace at a time, each dump at least reconcileSpacing after the last:
// after a loss every namespace with tracked flows (a lost event's
// namespace is unknown), under nf_conntrack_events=2 periodically only
// those dumped at the start that still hold flows seeded from it. A
// namespace without flows is never dumped, and each sweep ends only its
// own namespace's flows.
func TestRunNetNSReconcile(t *testing.T) {
	a := nsdiscover.NS{Inode: 4026531001, NSID: 1, Name: "a"} // at the start: flows 1, 2 seeded
	b := nsdiscover.NS{Inode: 4026531002, NSID: 2, Name: "b"} // found later: live flow 10
	c := nsdiscover.NS{Inode: 4026531003, NSID: 3, Name: "c"} // found later, no flows
	aID := map[string]any{"inode": float64(a.Inode), "nsid": 1.0, "name": "a"}
	bID := map[string]any{"inode": float64(b.Inode), "nsid": 2.0, "name": "b"}
	// When, on the fake clock: the first read, after a pause, has no
	// coalescing pause.
	at := func(d time.Duration) string {
		return newFakeClock().Now().Add(d).Format("2006-01-02T15:04:05.000000000Z07:00")
	}
	tests := []struct {
		name   string
		sysctl int64
		reads  func(nt *nsLoopTest) []read
		want   []map[string]any
		dumps  []uint64
	}{
		{"gap", 1, func(nt *nsLoopTest) []read {
			return []read{
				{before: func() {
					nt.clock.Advance(time.Second)
					nt.src.stats.KernelDrops = 5
					// Flow 2 ended unseen.
					nt.setTable(a, udpEntry(t, 1))
					nt.setTable(b, udpEntry(t, 10))
				}},
				{}, // a's reconciliation's drain
				// Within the spacing of a's dump: b waits...
				{before: func() { nt.clock.Advance(500 * time.Millisecond) }},
				// ...until a second after it.
				{before: func() { nt.clock.Advance(500 * time.Millisecond) }},
				{}, // b's reconciliation's drain
			}
		}, []map[string]any{
			{"event": "gap", "lost": 5.0, "time": at(time.Second)},
			{"event": "destroy", "netns": aID, "orig.sport": 2.0, "inferred": true, "time": at(time.Second)},
			{"event": "reconcile", "reason": "gap", "netns": aID, "entries": 1.0, "inferred": 1.0, "time": at(time.Second)},
			{"event": "reconcile", "reason": "gap", "netns": bID, "entries": 1.0, "inferred": 0.0, "time": at(2 * time.Second)},
		}, []uint64{a.Inode, a.Inode, b.Inode}},
		{"periodic", 2, func(nt *nsLoopTest) []read {
			return []read{
				{before: func() {
					nt.clock.Advance(30 * time.Second)
					nt.setTable(a, udpEntry(t, 1))
				}},
				{}, // a is queued at this turn, dumped at the next
				{}, // a's reconciliation's drain
			}
		}, []map[string]any{
			{"event": "destroy", "netns": aID, "orig.sport": 2.0, "inferred": true, "time": at(30 * time.Second)},
			{"event": "reconcile", "reason": "periodic", "netns": aID, "entries": 1.0, "inferred": 1.0, "time": at(30 * time.Second)},
		}, []uint64{a.Inode, a.Inode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nt *nsLoopTest
			reads := []read{{events: inNetNS(b.NSID, udpNew(t, 10))}}
			reads = append(reads, read{before: func() {
				nt.src.reads = append(nt.src.reads, tt.reads(nt)...)
			}})
			nt = newNSLoopTest(t, Config{ReadSysctl: func(string) (int64, error) { return tt.sysctl, nil }},
				map[uint64]bool{a.Inode: true}, reads...)
			nt.add(a, udpEntry(t, 1), udpEntry(t, 2))
			nt.add(b)
			nt.add(c)
			if _, err := nt.run(); err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			for _, r := range fields(nt.records(), "netns", "orig.sport", "inferred", "reason", "entries", "lost", "time") {
				switch r["event"] {
				case "gap", "destroy", "reconcile":
					got = append(got, r)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dumps, nt.dumps()); diff != "" {
				t.Errorf("namespaces dumped (-want +got):\n%s", diff)
			}
			if n := len(nt.w.ns.reconcileQueue); n != 0 {
				t.Errorf("%d namespaces still queued, want 0", n)
			}
		})
	}
}

// TestRunNetNSHealth: with the health monitor on, each namespace a watch
// of every namespace finds is read on its own (Config.ReadStatsNetNS,
// through a descriptor of the monitor's), its stats and table_pressure
// records name it, and /metrics shows the own namespace's table.
func TestRunNetNSHealth(t *testing.T) {
	a := nsdiscover.NS{Inode: 4026531001, NSID: 1, Name: "a"}
	b := nsdiscover.NS{Inode: 4026531002, NSID: 2, Name: "b"}
	hc := health.DefaultConfig()
	// The ticker is real: a short interval, so that each namespace is
	// read again soon after the loop found it.
	hc.Interval, hc.Thresholds = time.Millisecond, []float64{90}
	var (
		mu    sync.Mutex
		reads = map[*netns.Handle]int{}
		twice = make(chan struct{})
	)
	var nt *nsLoopTest
	nt = newNSLoopTest(t, Config{
		Health: hc,
		ReadStatsNetNS: func(_ context.Context, h *netns.Handle) (ctstat.Reading, error) {
			mu.Lock()
			defer mu.Unlock()
			reads[h]++
			// A second reading of each of the three namespaces: the
			// first check of each is written.
			n := 0
			for _, c := range reads {
				if c >= 2 {
					n++
				}
			}
			if n == 3 && reads[h] == 2 {
				close(twice)
			}
			return ctstat.Reading{Count: 95, Max: 100, Time: nt.clock.Now()}, nil
		},
	}, map[uint64]bool{}, read{before: func() { <-twice }})
	self := nsdiscover.NS{Inode: nt.w.ns.selfIno, NSID: nsdiscover.NoNSID, PID: os.Getpid(), Self: true}
	nt.add(self)
	nt.add(a, udpEntry(t, 1))
	nt.add(b, udpEntry(t, 2))
	if _, err := nt.run(); err != nil {
		t.Fatal(err)
	}
	// Each namespace's first check: its stats, and its pressure.
	type healthRec struct{ event, netns string }
	got := map[healthRec]int{}
	for _, r := range fields(nt.records(), "netns", "count", "max") {
		switch r["event"] {
		case "stats", "table_pressure", "stats_error":
			if r["count"] != 95.0 || r["max"] != 100.0 {
				t.Errorf("%v: want count 95 of max 100", r)
			}
			ns, _ := r["netns"].(map[string]any)
			name, _ := ns["name"].(string)
			if ns["self"] == true {
				name = "self"
			}
			got[healthRec{r["event"].(string), name}]++
		}
	}
	for _, rec := range []healthRec{{"stats", "self"}, {"stats", "a"}, {"stats", "b"},
		{"table_pressure", "self"}, {"table_pressure", "a"}, {"table_pressure", "b"}} {
		if got[rec] == 0 {
			t.Errorf("no %s record of namespace %s; got %v", rec.event, rec.netns, got)
		}
		delete(got, rec)
	}
	if len(got) != 0 {
		t.Errorf("health records of no watched namespace: %v", got)
	}
	mu.Lock()
	handles := len(reads)
	mu.Unlock()
	if handles != 3 {
		t.Errorf("statistics read through %d descriptors, want 3: one of the monitor's per namespace", handles)
	}
	snap := nt.w.metricsSnapshot()
	if !snap.HaveTable || snap.Table.Entries != 95 || snap.Table.Limit != 100 {
		t.Errorf("metrics: have table %v, %d of %d entries; want 95 of 100 (own namespace's)", snap.HaveTable, snap.Table.Entries, snap.Table.Limit)
	}
	// The monitor closed its descriptors when it stopped.
	for _, sl := range nt.w.ns.all {
		if sl.health != nil {
			t.Errorf("namespace %d: the monitor's descriptor is still held", sl.ns.Inode)
		}
	}
}

// TestRunNetNSSet: a watch of a fixed set gives each namespace an id
// (Config.AssignNSID) and dumps each at the start; events of namespaces
// outside the set are dropped (other_netns); a namespace of the set found
// gone (Config.OrphanedNetNS) is removed as discovery would remove one,
// its descriptor left to the caller; once every one is gone, the policy
// applies: exit with ErrNetnsGone, or watch on, unhealthy.
func TestRunNetNSSet(t *testing.T) {
	tests := []struct {
		name    string
		policy  NetnsGonePolicy
		wantErr error
	}{
		{"exit", NetnsGoneExit, ErrNetnsGone},
		{"wait", NetnsGoneWait, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Both are the test's own namespace, opened under two specs
			// (a path, a process id); the watch is told below that its
			// own is another, so that each is a peer given an id.
			byPath, err := netns.Open("/proc/self/ns/net")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { byPath.Close() })
			pid := strconv.Itoa(os.Getpid())
			byPID, err := netns.Open(pid)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { byPID.Close() })
			ids := map[*netns.Handle]int32{byPath: 1, byPID: 2}
			gone := map[*netns.Handle]bool{}
			nt := &nsLoopTest{inode: map[*netns.Handle]uint64{byPath: 1001, byPID: 1002},
				entries: map[uint64][]model.Event{1001: {udpEntry(t, 1)}, 1002: {udpEntry(t, 2)}}}
			nt.loopTest = newLoopTest(t, Config{
				NetNSSet:    []*netns.Handle{byPath, byPID},
				OnNetnsGone: tt.policy,
				DumpNetNS:   nt.dump,
				AssignNSID:  func(h *netns.Handle) (int32, error) { return ids[h], nil },
				OrphanedNetNS: func(h *netns.Handle) (bool, error) {
					return gone[h], nil
				},
			},
				read{events: append(inNetNS(1, udpNew(t, 10)), append(inNetNS(7, udpNew(t, 11)), udpNew(t, 12))...)},
				read{before: func() {
					gone[byPath] = true
					nt.clock.Advance(defaultNetnsCheck)
				}},
				read{before: func() {
					gone[byPID] = true
					nt.clock.Advance(defaultNetnsCheck)
				}},
				read{},
			)
			nt.w.ns.selfIno = 1
			sum, err := nt.run()
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Run: %v, want %v", err, tt.wantErr)
			}
			ino := float64(byPath.ID())
			pathID := map[string]any{"inode": ino, "nsid": 1.0}
			pidID := map[string]any{"inode": ino, "nsid": 2.0, "pid": float64(os.Getpid())}
			want := []map[string]any{
				{"event": "start", "netns": "/proc/self/ns/net," + pid, "events": "new,update,destroy"},
				{"event": "netns_added", "netns": pathID, "dumped": true, "entries": 1.0},
				{"event": "netns_added", "netns": pidID, "dumped": true, "entries": 1.0},
				{"event": "new", "netns": pathID, "orig.sport": 10.0},
				{"event": "destroy", "netns": pathID, "orig.sport": 1.0, "inferred_reason": "netns_gone"},
				{"event": "destroy", "netns": pathID, "orig.sport": 10.0, "inferred_reason": "netns_gone"},
				{"event": "netns_removed", "netns": pathID, "flows_ended": 2.0, "events": 1.0},
				{"event": "destroy", "netns": pidID, "orig.sport": 2.0, "inferred_reason": "netns_gone"},
				{"event": "netns_removed", "netns": pidID, "flows_ended": 1.0, "events": 0.0},
				{"event": "stop", "entries": 1.0, "other_netns": 2.0, "netns": []any{
					map[string]any{"inode": ino, "nsid": 1.0, "events": 1.0, "records": 3.0},
					map[string]any{"inode": ino, "nsid": 2.0, "pid": float64(os.Getpid()), "events": 0.0, "records": 1.0},
				}},
			}
			got := fields(nt.records(), "netns", "dumped", "entries", "orig.sport", "inferred_reason", "flows_ended", "events", "other_netns")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if sum.Inferred != 3 {
				t.Errorf("summary: %d inferred, want 3", sum.Inferred)
			}
			// The descriptors are the caller's: still open.
			for _, h := range []*netns.Handle{byPath, byPID} {
				d, err := h.Dup()
				if err != nil {
					t.Errorf("%s: %v, want it left open", h, err)
				}
				d.Close()
			}
			if err := nt.w.healthz(); err == nil {
				t.Error("healthz: healthy, want every namespace gone")
			}
		})
	}
}

// TestRunNetNSSetStartError: a namespace of a fixed set that cannot be
// given an id stops the watch before it begins: a *StartError naming the
// namespace, and no record.
func TestRunNetNSSetStartError(t *testing.T) {
	h, err := netns.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	errAssign := errors.New("netlink receive: operation not permitted")
	lt := newLoopTest(t, Config{
		NetNSSet:   []*netns.Handle{h, h},
		AssignNSID: func(*netns.Handle) (int32, error) { return 0, errAssign },
	})
	lt.w.ns.selfIno = 1 // h is not the own namespace: it needs an id
	_, err = lt.run()
	var se *StartError
	if !errors.As(err, &se) || !errors.Is(err, errAssign) {
		t.Fatalf("Run: %v, want a StartError wrapping the id's", err)
	}
	if want := "namespace /proc/self/ns/net: " + errAssign.Error(); se.Error() != want {
		t.Errorf("error %q, want %q", se.Error(), want)
	}
	if recs := lt.records(); len(recs) != 0 {
		t.Errorf("records %v, want none", kinds(recs))
	}
}

// TestNamespacesAtStart: the namespaces present at the start include
// those processes live in, ctwatch's own excepted (netns.Census): a child
// of the test, readable without privilege, puts the own namespace among
// them.
func TestNamespacesAtStart(t *testing.T) {
	ino := selfInode()
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatalf("a child to live in the namespace: %v", err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	present, err := namespacesAtStart()
	if err != nil {
		t.Fatal(err)
	}
	if !present[ino] {
		t.Errorf("own namespace %d not among the %d present with a child living in it", ino, len(present))
	}
}
