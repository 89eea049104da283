package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The namespaces of the tests of a watch of several: a pod's (named, with
// its sandbox container and pod UID), an unnamed one held by a process,
// and the watch's own.
var (
	podNS = nsdiscover.NS{Inode: 4026532451, NSID: 1, Name: "cni-5c1e", PID: 4242,
		Container: nsdiscover.Container{ID: "ac2ea168264a08f9aaca0dfc82ff3551418dfd22d02b713142a6843caa2f61bf",
			PodUID: "2f9b5a3e-1c4d-4e8f-9a6b-7c3d2e1f0a9b"}}
	unnamedNS = nsdiscover.NS{Inode: 4026532600, NSID: 2, PID: 999}
	selfNS    = nsdiscover.NS{Inode: 4026531840, NSID: nsdiscover.NoNSID, PID: 1, Self: true}
)

// testNetNS is the namespace hook of the tests: it knows nsid 1 and 2 and
// the local namespace; any other id is not known (yet).
func testNetNS(n model.NetNS) (nsdiscover.NS, bool) {
	switch {
	case !n.Peer:
		return selfNS, true
	case n.NSID == podNS.NSID:
		return podNS, true
	case n.NSID == unnamedNS.NSID:
		return unnamedNS, true
	}
	return nsdiscover.NS{}, false
}

// netnsCases are the records of a watch of several namespaces, in every
// schema: entries tagged with each kind of namespace, the inferred end of
// a vanished namespace's flow, an unreplied warning, table health, the
// records of namespaces added and removed, and the stop record's counts.
func netnsCases(t testing.TB) []faultCase {
	t.Helper()
	evs, res := trackedFlow(model.TCPSynSent, model.TCPEstablished, model.TCPTimeWait)
	with := func(i int, n model.NetNS) model.Event { ev := evs[i]; ev.NetNS = n; return ev }
	pod, unknown, self := with(0, model.PeerNetNS(1)), with(0, model.PeerNetNS(7)), with(0, model.NetNS{})
	snap := with(1, model.PeerNetNS(2))
	snap.Type, snap.Origin = model.EventSnapshot, model.Origin{}
	end := with(2, model.PeerNetNS(1))
	in := flow.Inferred{Entry: evs[1].Entry, Time: flowStart.Add(time.Minute), NetNS: model.PeerNetNS(2), Reason: flow.InferNetNSGone,
		Flow: flow.Lifecycle{Proto: model.ProtoTCP, Outcome: flow.OutcomeUnknown, Inferred: true, SeenFrom: flow.SeenFromNew,
			Duration: 30 * time.Second, DurationKnown: true}}
	u := flow.Unreplied{Entry: evs[0].Entry, Time: flowStart.Add(5 * time.Second), FirstSeen: flowStart, Age: 5 * time.Second,
		Repeats: 1, RepeatsSince: flowStart, SeenFrom: flow.SeenFromNew, NetNS: model.PeerNetNS(1)}
	var delta ctstat.CPUStats
	delta[ctstat.Drop], delta[ctstat.EarlyDrop] = 3, 2
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ns := func(write func(*record.Encoder)) func(*record.Encoder) {
		return func(e *record.Encoder) { record.SetNetNS(e, testNetNS); write(e) }
	}
	return []faultCase{
		{name: "netns_entry_pod", write: ns(func(e *record.Encoder) { e.Entry(&pod, &res[0]) })},
		{name: "netns_entry_unknown", write: ns(func(e *record.Encoder) { e.Entry(&unknown, nil) })},
		{name: "netns_entry_self", write: ns(func(e *record.Encoder) { e.Entry(&self, &res[0]) })},
		{name: "netns_entry_destroy_pod", write: ns(func(e *record.Encoder) { e.Entry(&end, &res[2]) })},
		{name: "netns_snapshot_unnamed", write: ns(func(e *record.Encoder) { e.Entry(&snap, nil) })},
		{name: "netns_inferred", write: ns(func(e *record.Encoder) { e.Inferred(&in) })},
		{name: "netns_unreplied", write: ns(func(e *record.Encoder) { e.Unreplied(&u) })},
		{name: "netns_unreplied_summary", write: ns(func(e *record.Encoder) {
			sum := scanSummary(flowStart.Add(time.Hour))
			sum.Top[0].NetNS, sum.Top[1].NetNS, sum.Top[2].NetNS = model.PeerNetNS(1), model.PeerNetNS(2), model.PeerNetNS(7)
			e.UnrepliedSummary(&sum)
		})},
		{name: "netns_health_stats", write: ns(func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindStats, Time: at, NetNS: model.PeerNetNS(1), Count: 10, Max: 1000, Buckets: 1024, Fill: 1})
		})},
		{name: "netns_health_drops", write: ns(func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindDrops, Time: at, NetNS: model.PeerNetNS(2), Count: 10, Max: 1000, Fill: 1,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true, Hint: "early_drop grew: the table is full"})
		})},
		{name: "netns_reconcile", write: ns(func(e *record.Encoder) {
			e.Reconcile(&record.Reconcile{Reason: "periodic", Entries: 40, Inferred: 2, Took: 3 * time.Millisecond,
				Err: errors.New("dump: interrupted"), NetNS: model.PeerNetNS(1)})
		})},
		{name: "netns_added", write: func(e *record.Encoder) {
			e.NetnsAdded(&record.NetnsAdded{NS: podNS, Dumped: true, Entries: 12})
		}},
		{name: "netns_added_not_dumped", write: func(e *record.Encoder) { e.NetnsAdded(&record.NetnsAdded{NS: unnamedNS}) }},
		{name: "netns_added_dump_failed", write: func(e *record.Encoder) {
			e.NetnsAdded(&record.NetnsAdded{NS: unnamedNS, Dumped: true, Entries: 3, Err: errors.New("dump: interrupted")})
		}},
		{name: "netns_removed", write: func(e *record.Encoder) {
			e.NetnsRemoved(&record.NetnsRemoved{NS: podNS, Ended: 4, Events: 1500})
		}},
		{name: "stop_netns", write: func(e *record.Encoder) {
			e.Stop(&record.Totals{New: 3, Written: 3, NetNS: []record.NetNSTotal{
				{NS: selfNS, Events: 1, Records: 1}, {NS: podNS, Events: 2, Records: 1}, {NS: unnamedNS}},
				NetNSMore: 2, OtherNetNS: 5, UnknownNetNS: 1})
		}},
	}
}

// TestNetNSNativeGolden pins the native records of a watch of several
// namespaces in testdata/native-golden (rewritten with -update).
func TestNetNSNativeGolden(t *testing.T) {
	for _, c := range netnsCases(t) {
		t.Run(c.name, func(t *testing.T) {
			checkNativeGolden(t, c.name, c.write)
		})
	}
}

func netnsECSCases(t testing.TB) []ecsCase {
	var cases []ecsCase
	for _, c := range netnsCases(t) {
		cases = append(cases, ecsCase{name: c.name, debug: c.debug, write: c.write, entry: strings.Contains(c.name, "entry") ||
			strings.Contains(c.name, "snapshot") || c.name == "netns_inferred" || c.name == "netns_unreplied"})
	}
	return cases
}

func netnsOCSFCases(t testing.TB) []ocsfCase {
	var cases []ocsfCase
	for _, c := range netnsCases(t) {
		cases = append(cases, ocsfCase{name: strings.ReplaceAll(c.name, "_", " "), debug: c.debug, write: c.write})
	}
	return cases
}

// TestNetNSAllocs checks that the hot-path records cost no allocation in
// every schema, without namespaces and naming them, with records of several namespaces
// interleaved (each renders its identity once) and one whose identity
// changes between records (rendered again into the same buffer).
func TestNetNSAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("zerolog's event pool drops items at random under the race detector")
	}
	evs, res := trackedFlow(model.TCPSynSent, model.TCPEstablished, model.TCPTimeWait)
	var tagged []model.Event
	var tres []flow.Result
	for i := range evs {
		for _, n := range []model.NetNS{model.PeerNetNS(1), model.PeerNetNS(2), model.PeerNetNS(7), {}} {
			ev := evs[i]
			ev.NetNS = n
			tagged, tres = append(tagged, ev), append(tres, res[i])
		}
	}
	in := flow.Inferred{Entry: evs[1].Entry, Time: flowStart, NetNS: model.PeerNetNS(1),
		Flow: flow.Lifecycle{Proto: model.ProtoTCP, Inferred: true}}
	u := flow.Unreplied{Entry: evs[0].Entry, FirstSeen: flowStart, RepeatsSince: flowStart, NetNS: model.PeerNetNS(2)}
	h := health.Record{Kind: health.KindStats, Time: flowStart, NetNS: model.PeerNetNS(1), Count: 1, Max: 10}
	// renamed alternates the pod's identity between two names.
	renamed, flip := podNS, false
	changing := func(n model.NetNS) (nsdiscover.NS, bool) {
		if n.Peer && n.NSID == 1 {
			flip = !flip
			renamed.Name = "a"
			if flip {
				renamed.Name = "bb"
			}
			return renamed, true
		}
		return testNetNS(n)
	}
	for _, s := range []record.Schema{record.Native, record.ECS, record.OCSF} {
		for _, hook := range []struct {
			name string
			f    func(model.NetNS) (nsdiscover.NS, bool)
		}{{"no", nil}, {"stable", testNetNS}, {"changing", changing}} {
			e := record.New(record.Config{Schema: s, Log: zerolog.New(io.Discard), Run: "run-1", Host: "node1", Version: "v1",
				Clock: func() time.Time { return flowStart }, NetNS: hook.f})
			got := testing.AllocsPerRun(200, func() {
				for i := range tagged {
					e.Entry(&tagged[i], &tres[i])
				}
				e.Inferred(&in)
				e.Unreplied(&u)
				e.Health(&h)
			})
			if got != 0 {
				t.Errorf("%s, %s identities: %v allocations per run, want 0", s, hook.name, got)
			}
		}
	}
}

// BenchmarkEncodeEntryNetNS compares, per schema, a tracked DESTROY's
// record of a watch of one namespace with that of a watch of several (the
// record names its pod's namespace). Its cpu-ns/op metric is the one to
// compare (reportCPU).
func BenchmarkEncodeEntryNetNS(b *testing.B) {
	evs, res := trackedFlow(model.TCPSynSent, model.TCPEstablished, model.TCPTimeWait)
	ev := evs[2]
	ev.NetNS = model.PeerNetNS(1)
	for _, s := range []record.Schema{record.Native, record.ECS, record.OCSF} {
		for _, hook := range []struct {
			name string
			f    func(model.NetNS) (nsdiscover.NS, bool)
		}{{"one_netns", nil}, {"pod_netns", testNetNS}} {
			b.Run(s.String()+"/"+hook.name, func(b *testing.B) {
				e := record.New(record.Config{Schema: s, Log: zerolog.New(io.Discard), Run: "run-1", Host: "node1", Version: "v1.2.3",
					NetNS: hook.f})
				b.ReportAllocs()
				reportCPU(b, func() { e.Entry(&ev, &res[2]) })
			})
		}
	}
}

// TestStopNetNSBound checks that a stop record lists at most MaxStopNetNS
// namespaces and counts the rest, with those the caller left out, in
// netns_more.
func TestStopNetNSBound(t *testing.T) {
	tests := []struct {
		name       string
		n, more    int
		wantListed int
		wantMore   int
	}{
		{"under the bound", 3, 0, 3, 0},
		{"at the bound", record.MaxStopNetNS, 0, record.MaxStopNetNS, 0},
		{"over the bound", record.MaxStopNetNS + 5, 0, record.MaxStopNetNS, 5},
		{"over the bound, caller left some out", record.MaxStopNetNS + 1, 7, record.MaxStopNetNS, 8},
		{"none listed", 0, 4, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			totals := record.Totals{NetNSMore: tt.more}
			for i := range tt.n {
				totals.NetNS = append(totals.NetNS, record.NetNSTotal{NS: nsdiscover.NS{Inode: uint64(i + 1), NSID: int32(i)}, Events: 1})
			}
			var buf bytes.Buffer
			record.New(record.Config{Log: zerolog.New(&buf), Run: testRun, Host: testHost}).Stop(&totals)
			var got struct {
				NetNS     []decodedNS `json:"netns"`
				NetNSMore int         `json:"netns_more"`
			}
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.NetNS) != tt.wantListed || got.NetNSMore != tt.wantMore {
				t.Errorf("listed %d, netns_more %d; want %d, %d", len(got.NetNS), got.NetNSMore, tt.wantListed, tt.wantMore)
			}
			if tt.wantListed > 0 && got.NetNS[tt.wantListed-1].Inode != uint64(tt.wantListed) {
				t.Errorf("last listed inode %d, want %d (the first ones, in order)", got.NetNS[tt.wantListed-1].Inode, tt.wantListed)
			}
		})
	}
}

// TestParseJSONNetNS checks that `ctwatch parse` and other readers of
// native entry records take a record naming its namespace as the entry it
// is: the identity is the writer's view and no part of the entry.
func TestParseJSONNetNS(t *testing.T) {
	evs, res := trackedFlow(model.TCPSynSent)
	ev := evs[0]
	ev.NetNS = model.PeerNetNS(1)
	var plain, tagged bytes.Buffer
	record.New(record.Config{Log: zerolog.New(&plain)}).Entry(&evs[0], &res[0])
	record.New(record.Config{Log: zerolog.New(&tagged), NetNS: testNetNS}).Entry(&ev, &res[0])
	if bytes.Equal(plain.Bytes(), tagged.Bytes()) {
		t.Fatal("the tagged record has no netns")
	}
	want, err := record.ParseJSON(plain.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := record.ParseJSON(tagged.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
