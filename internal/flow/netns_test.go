package flow

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
	gocmp "github.com/google/go-cmp/cmp"
)

var (
	nsA = model.PeerNetNS(0)
	nsB = model.PeerNetNS(1)
	// nsFar has an nsid beyond nsDense, counted in the map.
	nsFar = model.PeerNetNS(70000)
)

// nsName names a namespace in test results.
func nsName(n model.NetNS) string {
	if n.Local() {
		return "local"
	}
	return fmt.Sprintf("nsid%d", n.NSID)
}

// in parses lines as events of namespace ns.
func in(tb testing.TB, ns model.NetNS, lines ...string) []model.Event {
	tb.Helper()
	evs := parseLines(tb, lines...)
	for i := range evs {
		evs[i].NetNS = ns
	}
	return evs
}

// nsCountsOf returns NetNSCounts as "ns tracked/seeded" strings, sorted.
func nsCountsOf(tr *Tracker) []string {
	var got []string
	tr.NetNSCounts(func(ns model.NetNS, tracked, seeded int) {
		got = append(got, fmt.Sprintf("%s %d/%d", nsName(ns), tracked, seeded))
	})
	slices.Sort(got)
	return got
}

// inferredOf describes an inferred end for comparison.
func inferredOf(in Inferred) string {
	return fmt.Sprintf("%s %d %s %s", nsName(in.NetNS), in.Entry.Orig.SrcPort, in.Reason, jsonOf(&in.Flow))
}

func slicePresent(evs []model.Event) func(func(*model.Entry) bool) {
	return func(yield func(*model.Entry) bool) {
		for i := range evs {
			if !yield(&evs[i].Entry) {
				return
			}
		}
	}
}

// TestNetNSFlows: the same tuple (and id) in two namespaces is two flows,
// each with its own lifecycle.
func TestNetNSFlows(t *testing.T) {
	type step struct {
		ns   model.NetNS
		line string
	}
	tests := []struct {
		name  string
		steps []step
		// want describes each result: "known" or "new", then the
		// lifecycle of a DESTROY and an inferred end, if any.
		want   []string
		counts []string
	}{{
		name: "a NEW in each",
		steps: []step{
			{model.NetNS{}, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsA, udpLine(1, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
		},
		// The second NEW is no re-creation of the first flow.
		want:   []string{"new", "new"},
		counts: []string{"local 1/0", "nsid0 1/0"},
	}, {
		name: "a DESTROY ends its namespace's flow only",
		steps: []step{
			{model.NetNS{}, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsA, udpLine(1, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsA, udpLine(1.5, "[UPDATE]", 1, "10.0.0.9", "30", false, "", "")},
			{nsA, udpLine(3, "[DESTROY]", 1, "10.0.0.9", "", false, "", "")},
			{model.NetNS{}, udpLine(4, "[DESTROY]", 1, "10.0.0.9", "", true, "", "")},
		},
		want: []string{"new", "new", "known",
			`known {"duration_s":2,"reply_after_s":0.5,"outcome":"timeout","seen_from":"new"}`,
			`known {"duration_s":4,"outcome":"unreplied","seen_from":"new"}`},
	}, {
		name: "an UPDATE from another namespace is adopted, not matched",
		steps: []step{
			{model.NetNS{}, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsB, udpLine(1, "[UPDATE]", 1, "10.0.0.9", "30", false, "", "")},
			{model.NetNS{}, udpLine(2, "[DESTROY]", 1, "10.0.0.9", "", true, "", "")},
		},
		want:   []string{"new", "new", `known {"duration_s":2,"outcome":"unreplied","seen_from":"new"}`},
		counts: []string{"nsid1 1/0"},
	}, {
		name: "a re-created flow is inferred in its namespace",
		steps: []step{
			{nsA, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsB, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsA, udpLine(5, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
		},
		want: []string{"new", "new",
			`new ended nsid0 1 reused {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`},
		counts: []string{"nsid0 1/0", "nsid1 1/0"},
	}, {
		name: "a far nsid",
		steps: []step{
			{nsFar, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{model.NetNS{}, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
			{nsFar, udpLine(1, "[DESTROY]", 1, "10.0.0.9", "", true, "", "")},
		},
		want:   []string{"new", "new", `known {"duration_s":1,"outcome":"unreplied","seen_from":"new"}`},
		counts: []string{"local 1/0"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(testConfig())
			var got []string
			for _, s := range tt.steps {
				res := observe(t, tr, in(t, s.ns, s.line))[0]
				d := "new"
				if res.Known {
					d = "known"
				}
				if res.Flow != (Lifecycle{}) {
					d += " " + jsonOf(&res.Flow)
				}
				if res.Ended != nil {
					d += " ended " + inferredOf(*res.Ended)
				}
				got = append(got, d)
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.counts, nsCountsOf(tr)); diff != "" {
				t.Errorf("NetNSCounts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEndNetNS: a namespace's end ends exactly its flows, as inferred ends
// with reason netns_gone, and forgets its tombstones.
func TestEndNetNS(t *testing.T) {
	setup := func(t *testing.T) *Tracker {
		tr := New(testConfig())
		for _, ns := range []model.NetNS{{}, nsA, nsB, nsFar} {
			observe(t, tr, in(t, ns,
				udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
				udpLine(1, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
				udpLine(2, "[UPDATE]", 2, "10.0.0.9", "30", false, "", ""),
				udpLine(3, "[NEW]", 3, "10.0.0.9", "30", true, "", ""),
				udpLine(4, "[DESTROY]", 3, "10.0.0.9", "", true, "", ""), // a tombstone
			))
			tr.Seed(&in(t, ns, udpLine(5, "", 4, "10.0.0.9", "30", true, "", ""))[0])
		}
		return tr
	}
	gone := base.Add(10 * time.Second)
	tests := []struct {
		ns     model.NetNS
		want   []string
		counts []string
	}{{
		ns: model.NetNS{},
		want: []string{
			`local 1 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
			`local 2 netns_gone {"duration_s":1,"reply_after_s":1,"outcome":"unknown","seen_from":"new","inferred":true}`,
			`local 4 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"snapshot","lower_bound":true,"inferred":true}`,
		},
		counts: []string{"nsid0 3/1", "nsid1 3/1", "nsid70000 3/1"},
	}, {
		ns: nsB,
		want: []string{
			`nsid1 1 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
			`nsid1 2 netns_gone {"duration_s":1,"reply_after_s":1,"outcome":"unknown","seen_from":"new","inferred":true}`,
			`nsid1 4 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"snapshot","lower_bound":true,"inferred":true}`,
		},
		counts: []string{"local 3/1", "nsid0 3/1", "nsid70000 3/1"},
	}, {
		ns: nsFar,
		want: []string{
			`nsid70000 1 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
			`nsid70000 2 netns_gone {"duration_s":1,"reply_after_s":1,"outcome":"unknown","seen_from":"new","inferred":true}`,
			`nsid70000 4 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"snapshot","lower_bound":true,"inferred":true}`,
		},
		counts: []string{"local 3/1", "nsid0 3/1", "nsid1 3/1"},
	}, {
		ns:     model.PeerNetNS(7), // no flows
		counts: []string{"local 3/1", "nsid0 3/1", "nsid1 3/1", "nsid70000 3/1"},
	}}
	for _, tt := range tests {
		t.Run(nsName(tt.ns), func(t *testing.T) {
			tr := setup(t)
			before := tr.Stats()
			var got []string
			n := tr.EndNetNS(tt.ns, gone, func(in Inferred) {
				if !in.Time.Equal(gone) {
					t.Errorf("inferred at %v, want %v", in.Time, gone)
				}
				got = append(got, inferredOf(in))
			})
			if err := tr.check(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("inferred ends (-want +got):\n%s", diff)
			}
			if n != len(tt.want) {
				t.Errorf("EndNetNS returned %d, want %d", n, len(tt.want))
			}
			if diff := gocmp.Diff(tt.counts, nsCountsOf(tr)); diff != "" {
				t.Errorf("NetNSCounts (-want +got):\n%s", diff)
			}
			st := tr.Stats()
			if st.Inferred-before.Inferred != uint64(n) {
				t.Errorf("Stats.Inferred grew by %d, want %d", st.Inferred-before.Inferred, n)
			}
			wantTombs := before.Tombstones
			if n > 0 {
				wantTombs-- // the namespace's tombstone of flow 3
			}
			if st.Tombstones != wantTombs {
				t.Errorf("%d tombstones, want %d", st.Tombstones, wantTombs)
			}
			if n > 0 {
				// Without its tombstone, a dump of a namespace that got
				// the nsid again tracks the tuple of flow 3.
				tr.Seed(&in(t, tt.ns, udpLine(3.5, "", 3, "10.0.0.9", "30", true, "", ""))[0])
				if diff := gocmp.Diff([]string{nsName(tt.ns) + " 1/1"}, slices.DeleteFunc(nsCountsOf(tr),
					func(s string) bool { return !strings.HasPrefix(s, nsName(tt.ns)+" ") })); diff != "" {
					t.Errorf("NetNSCounts of the namespace after a dump (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestReconcileNetNS: a namespace's dump can only end that namespace's
// flows, and the entries it lists are seeded in it.
func TestReconcileNetNS(t *testing.T) {
	setup := func(t *testing.T) *Tracker {
		tr := New(testConfig())
		for _, ns := range []model.NetNS{{}, nsA, nsB} {
			observe(t, tr, in(t, ns,
				udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
				udpLine(0, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
			))
		}
		return tr
	}
	dump := func(t *testing.T, ns model.NetNS) []model.Event {
		// Flow 2 is listed, flow 5 is unknown to the tracker; flow 1 is
		// gone.
		return in(t, ns,
			udpLine(0, "", 2, "10.0.0.9", "20", true, "", ""),
			udpLine(0, "", 5, "10.0.0.9", "20", true, "", ""))
	}
	start := base.Add(10 * time.Second)
	inferredLine := func(ns model.NetNS) string {
		return nsName(ns) + ` 1 reconcile {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`
	}
	tests := []struct {
		name   string
		run    func(t *testing.T, tr *Tracker, emit func(Inferred))
		want   []string
		counts []string
	}{{
		name: "Reconcile is the local namespace's",
		run: func(t *testing.T, tr *Tracker, emit func(Inferred)) {
			tr.Reconcile(slicePresent(dump(t, model.NetNS{})), start, emit)
		},
		want:   []string{inferredLine(model.NetNS{})},
		counts: []string{"local 2/1", "nsid0 2/0", "nsid1 2/0"},
	}, {
		name: "ReconcileNetNS",
		run: func(t *testing.T, tr *Tracker, emit func(Inferred)) {
			tr.ReconcileNetNS(nsA, slicePresent(dump(t, nsA)), start, emit)
		},
		want:   []string{inferredLine(nsA)},
		counts: []string{"local 2/0", "nsid0 2/1", "nsid1 2/0"},
	}, {
		name: "an empty dump ends all of its namespace, none of another",
		run: func(t *testing.T, tr *Tracker, emit func(Inferred)) {
			tr.ReconcileNetNS(nsB, func(func(*model.Entry) bool) {}, start, emit)
		},
		want: []string{
			inferredLine(nsB),
			`nsid1 2 reconcile {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
		},
		counts: []string{"local 2/0", "nsid0 2/0"},
	}, {
		name: "events of other namespaces between the halves",
		run: func(t *testing.T, tr *Tracker, emit func(Inferred)) {
			tr.BeginReconcileNetNS(nsA, slicePresent(dump(t, nsA)), start)
			// A DESTROY of B's flow 1 and of A's flow 1 come in while
			// A's dump runs: A's flow 1 is then ended as reported.
			observe(t, tr, in(t, nsB, udpLine(9, "[DESTROY]", 1, "10.0.0.9", "", true, "", "")))
			observe(t, tr, in(t, nsA, udpLine(9, "[DESTROY]", 1, "10.0.0.9", "", true, "", "")))
			tr.EndReconcile(emit)
		},
		counts: []string{"local 2/0", "nsid0 2/1", "nsid1 1/0"},
	}, {
		name: "a second BeginReconcileNetNS abandons the first",
		run: func(t *testing.T, tr *Tracker, emit func(Inferred)) {
			// A's dump lists flow 1 too, and is abandoned: its marks
			// must not spare flow 1 from A's next, empty, dump.
			tr.BeginReconcileNetNS(nsA, slicePresent(in(t, nsA, udpLine(0, "", 1, "10.0.0.9", "20", true, "", ""))), start)
			tr.BeginReconcileNetNS(nsB, slicePresent(dump(t, nsB)), start)
			tr.EndReconcile(emit)
			tr.ReconcileNetNS(nsA, func(func(*model.Entry) bool) {}, start.Add(time.Second), emit)
		},
		want: []string{
			`nsid0 1 reconcile {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
			`nsid0 2 reconcile {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
			inferredLine(nsB),
		},
		counts: []string{"local 2/0", "nsid1 2/1"},
	}, {
		name: "EndNetNS abandons the namespace's reconciliation",
		run: func(t *testing.T, tr *Tracker, emit func(Inferred)) {
			tr.BeginReconcileNetNS(nsA, slicePresent(dump(t, nsA)), start)
			tr.EndNetNS(nsA, start, func(Inferred) {})
			tr.EndReconcile(emit)
		},
		counts: []string{"local 2/0", "nsid1 2/0"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := setup(t)
			var got []string
			tt.run(t, tr, func(in Inferred) { got = append(got, inferredOf(in)) })
			if err := tr.check(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("inferred ends (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.counts, nsCountsOf(tr)); diff != "" {
				t.Errorf("NetNSCounts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNetNSCountsSeeded: a dump-seeded flow stops counting as seeded at its
// first live event, and a flow's end stops it counting at all.
func TestNetNSCountsSeeded(t *testing.T) {
	tests := []struct {
		name   string
		ns     model.NetNS
		lines  []string // after the dump of flows 1, 2 and 3 at 0 s
		counts []string
	}{{
		name:   "the dump",
		ns:     nsA,
		counts: []string{"nsid0 3/3"},
	}, {
		name:   "a NEW merged into a dumped flow",
		ns:     nsA,
		lines:  []string{udpLine(1, "[NEW]", 1, "10.0.0.9", "30", true, "", "")},
		counts: []string{"nsid0 3/2"},
	}, {
		name:   "an UPDATE",
		ns:     nsFar,
		lines:  []string{udpLine(1, "[UPDATE]", 2, "10.0.0.9", "30", false, "", "")},
		counts: []string{"nsid70000 3/2"},
	}, {
		name: "a DESTROY, an UPDATE, and an UPDATE again",
		ns:   model.NetNS{},
		lines: []string{
			udpLine(1, "[DESTROY]", 1, "10.0.0.9", "", true, "", ""),
			udpLine(1, "[UPDATE]", 2, "10.0.0.9", "30", false, "", ""),
			udpLine(2, "[UPDATE]", 2, "10.0.0.9", "30", false, "", ""),
		},
		counts: []string{"local 2/1"},
	}, {
		name: "every flow ended",
		ns:   nsB,
		lines: []string{
			udpLine(1, "[DESTROY]", 1, "10.0.0.9", "", true, "", ""),
			udpLine(1, "[DESTROY]", 2, "10.0.0.9", "", true, "", ""),
			udpLine(1, "[DESTROY]", 3, "10.0.0.9", "", true, "", ""),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(testConfig())
			// Another namespace's flow is live, not seeded.
			observe(t, tr, in(t, model.PeerNetNS(9), udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")))
			for _, ev := range in(t, tt.ns,
				udpLine(0, "", 1, "10.0.0.9", "30", true, "", ""),
				udpLine(0, "", 2, "10.0.0.9", "30", true, "", ""),
				udpLine(0, "", 3, "10.0.0.9", "30", true, "", "")) {
				tr.Seed(&ev)
			}
			observe(t, tr, in(t, tt.ns, tt.lines...))
			want := append([]string{"nsid9 1/0"}, tt.counts...)
			slices.Sort(want)
			if diff := gocmp.Diff(want, nsCountsOf(tr)); diff != "" {
				t.Errorf("NetNSCounts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNetNSUnreplied: the unreplied detector reports a flow's namespace
// and counts repeats and summarises destinations per namespace.
func TestNetNSUnreplied(t *testing.T) {
	cfg := testConfig()
	cfg.UnrepliedBurst = 3
	tr := New(cfg)
	observe(t, tr, in(t, nsA,
		udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(1, "[NEW]", 2, "10.0.0.9", "30", true, "", "")))
	observe(t, tr, in(t, model.NetNS{}, udpLine(2, "[NEW]", 3, "10.0.0.9", "30", true, "", "")))
	// Beyond the burst: summarised.
	observe(t, tr, in(t, nsB, udpLine(3, "[NEW]", 4, "10.0.0.9", "30", true, "", "")))
	observe(t, tr, in(t, model.NetNS{}, udpLine(3, "[NEW]", 5, "10.0.0.9", "30", true, "", "")))
	var got []string
	tr.Expire(base.Add(time.Minute), func(u Unreplied) {
		got = append(got, fmt.Sprintf("%s %d repeats=%d", nsName(u.NetNS), u.Entry.Orig.SrcPort, u.Repeats))
	})
	want := []string{"nsid0 1 repeats=1", "nsid0 2 repeats=2", "local 3 repeats=1"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	var top []DestinationCount
	tr.FlushSummary(base.Add(time.Minute), func(s *UnrepliedSummary) { top = s.Top })
	dst := netip.MustParseAddr("10.0.0.9")
	wantTop := []DestinationCount{
		{NetNS: model.NetNS{}, Proto: model.ProtoUDP, Addr: dst, Port: 53, Flows: 1},
		{NetNS: nsB, Proto: model.ProtoUDP, Addr: dst, Port: 53, Flows: 1},
	}
	if diff := gocmp.Diff(wantTop, top, gocmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("summary's destinations (-want +got):\n%s", diff)
	}
	// The namespace's end forgets its destinations: a new namespace with
	// its nsid starts counting afresh.
	tr.EndNetNS(nsA, base.Add(time.Minute), func(Inferred) {})
	if st := tr.Stats(); st.Destinations != 2 {
		t.Errorf("%d destinations after nsid0's end, want 2 (local's and nsid1's)", st.Destinations)
	}
}

// TestInferReason: every way of inferring an end says which it is.
func TestInferReason(t *testing.T) {
	tests := []struct {
		reason InferReason
		want   string
	}{
		{0, "unknown"},
		{InferReconcile, "reconcile"},
		{InferReused, "reused"},
		{InferNetNSGone, "netns_gone"},
		{numInferReasons, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.reason.String(); got != tt.want {
			t.Errorf("InferReason(%d).String() = %q, want %q", tt.reason, got, tt.want)
		}
	}
	// The paths: a re-created key, a dump without the flow, the
	// namespace's end.
	tr := New(testConfig())
	var got []string
	res := observe(t, tr, in(t, nsA,
		udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(1, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(1, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
	))
	got = append(got, inferredOf(*res[1].Ended))
	emit := func(in Inferred) { got = append(got, inferredOf(in)) }
	tr.ReconcileNetNS(nsA, slicePresent(in(t, nsA, udpLine(1, "", 2, "10.0.0.9", "30", true, "", ""))),
		base.Add(5*time.Second), emit)
	tr.EndNetNS(nsA, base.Add(6*time.Second), emit)
	want := []string{
		`nsid0 1 reused {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
		`nsid0 1 reconcile {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
		`nsid0 2 netns_gone {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("inferred ends (-want +got):\n%s", diff)
	}
	if ev := res[1].Ended.Event(); ev.NetNS != nsA {
		t.Errorf("Event().NetNS = %+v, want %+v", ev.NetNS, nsA)
	}
}

// TestObserveAllocsNetNS: following flows of several namespaces, the local
// one, small nsids and one beyond nsDense, costs no allocation once each
// namespace has been seen, and neither does NetNSCounts.
func TestObserveAllocsNetNS(t *testing.T) {
	tr := New(testConfig())
	spaces := []model.NetNS{{}, nsA, nsB, nsFar}
	i := uint32(1000)
	var ev model.Event
	cycle := func() {
		ns := spaces[i%uint32(len(spaces))]
		for _, s := range []struct {
			typ    model.EventType
			offset time.Duration
			state  model.State
		}{
			{model.EventNew, 0, model.TCPSynSent},
			{model.EventUpdate, time.Millisecond, model.TCPSynRecv},
			{model.EventUpdate, 2 * time.Millisecond, model.TCPEstablished},
			{model.EventDestroy, time.Second, model.TCPTimeWait},
		} {
			synth(&ev, s.typ, i, s.offset, s.state, i%2 == 0)
			ev.NetNS = ns
			tr.Observe(&ev)
		}
		tr.NetNSCounts(func(model.NetNS, int, int) {})
		i++
	}
	checkCycleAllocs(t, cycle)
	if err := tr.check(); err != nil {
		t.Fatal(err)
	}
}

func TestNSKey(t *testing.T) {
	for _, ns := range []model.NetNS{{}, nsA, nsB, nsFar, model.PeerNetNS(1<<31 - 1)} {
		if got := netnsOf(nsKey(ns)); got != ns {
			t.Errorf("netnsOf(nsKey(%+v)) = %+v", ns, got)
		}
	}
	if nsKey(model.NetNS{}) != 0 || nsKey(nsA) == 0 {
		t.Errorf("nsKey: local %d, nsid 0 %d; want 0 and not 0", nsKey(model.NetNS{}), nsKey(nsA))
	}
}
