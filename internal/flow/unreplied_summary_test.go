package flow

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestUnrepliedSummary: a scan of 2000 destinations and a DNS storm of
// 1000 queries to one resolver each become a handful of records that
// still count every flow; a quiet interval gives the budget back.
func TestUnrepliedSummary(t *testing.T) {
	type result struct {
		Warnings  int
		Summaries []UnrepliedSummary
	}
	run := func(t *testing.T, n int, dst func(i int) string) (result, Stats) {
		t.Helper()
		cfg := testConfig()
		cfg.MaxFlows = 4096
		tr := New(cfg)
		var lines []string
		for i := range n {
			// All begin within the first second.
			lines = append(lines, udpLine(float64(i)/float64(n), "[NEW]", 1000+i%60000, dst(i), "30", true, "", ""))
		}
		observe(t, tr, parseLines(t, lines...))
		var res result
		for ms := 250; ms <= 30_000; ms += 250 {
			now := base.Add(time.Duration(ms) * time.Millisecond)
			tr.ExpireSummary(now, func(s *UnrepliedSummary) { res.Summaries = append(res.Summaries, *s) })
			tr.Expire(now, func(Unreplied) { res.Warnings++ })
		}
		tr.FlushSummary(base.Add(time.Minute), func(s *UnrepliedSummary) { res.Summaries = append(res.Summaries, *s) })
		return res, tr.Stats()
	}
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }

	t.Run("scan", func(t *testing.T) {
		got, st := run(t, 2000, func(i int) string { return fmt.Sprintf("10.1.%d.%d", i/250, i%250+1) })
		// The flows come due at 5 to 6 s: the first 5 warn at once, the
		// rest wait for the interval (begun at the first, 5 s) to end.
		due := base.Add(5 * time.Second)
		want := result{Warnings: 5, Summaries: []UnrepliedSummary{{
			Time: base.Add(15 * time.Second), Since: due,
			Flows: 1995, Destinations: 1995,
			Top: []DestinationCount{
				{Proto: model.ProtoUDP, Addr: ip("10.1.0.6"), Port: 53, Flows: 1},
				{Proto: model.ProtoUDP, Addr: ip("10.1.0.7"), Port: 53, Flows: 1},
				{Proto: model.ProtoUDP, Addr: ip("10.1.0.8"), Port: 53, Flows: 1},
				{Proto: model.ProtoUDP, Addr: ip("10.1.0.9"), Port: 53, Flows: 1},
				{Proto: model.ProtoUDP, Addr: ip("10.1.0.10"), Port: 53, Flows: 1},
			},
			TopPorts: []PortCount{{Proto: model.ProtoUDP, Port: 53, Flows: 1995}},
		}}}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if st.UnrepliedWarnings+st.UnrepliedSummarised != 2000 || st.UnrepliedSummaries != 1 {
			t.Errorf("stats: %d warned + %d summarised in %d summaries; want 2000 flows in 1", st.UnrepliedWarnings, st.UnrepliedSummarised, st.UnrepliedSummaries)
		}
	})
	t.Run("storm", func(t *testing.T) {
		got, _ := run(t, 1000, func(int) string { return "10.0.0.53" })
		if got.Warnings != 5 || len(got.Summaries) != 1 {
			t.Fatalf("%d warnings, %d summaries; want 5 and 1", got.Warnings, len(got.Summaries))
		}
		s := got.Summaries[0]
		wantTop := []DestinationCount{{Proto: model.ProtoUDP, Addr: ip("10.0.0.53"), Port: 53, Flows: 995}}
		if diff := cmp.Diff(wantTop, s.Top, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" || s.Flows != 995 || s.Destinations != 1 {
			t.Errorf("summary of %d flows to %d destinations, top (-want +got):\n%s", s.Flows, s.Destinations, diff)
		}
	})
	t.Run("quiet interval restarts the budget", func(t *testing.T) {
		tr := New(testConfig())
		var warnings int
		for i, at := range []float64{0, 1, 2, 3, 4, 5, 6, 30, 31} {
			observe(t, tr, parseLines(t, udpLine(at, "[NEW]", 1000+i, fmt.Sprintf("10.2.0.%d", i+1), "30", true, "", "")))
			now := base.Add(time.Duration((at + 5.5) * float64(time.Second)))
			tr.ExpireSummary(now, func(*UnrepliedSummary) {})
			tr.Expire(now, func(Unreplied) { warnings++ })
		}
		// 5 of the first 7 warn, 2 are summarised; after the quiet
		// interval both later ones warn at once.
		if st := tr.Stats(); warnings != 7 || st.UnrepliedSummarised != 2 || st.UnrepliedSummaries != 1 {
			t.Errorf("%d warnings, %d summarised in %d summaries; want 7, 2 in 1", warnings, st.UnrepliedSummarised, st.UnrepliedSummaries)
		}
	})
}
