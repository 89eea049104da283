package health

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// reading is a table of max 1000 entries at count, with counters sum, taken
// i intervals of 10 s after t0.
func reading(i int, count uint32, sum ctstat.CPUStats) ctstat.Reading {
	return ctstat.Reading{Time: t0.Add(time.Duration(i) * 10 * time.Second), Count: count, Max: 1000, Buckets: 1024, Sum: sum}
}

// fakeReads returns a ReadFunc serving rs in order.
func fakeReads(rs []ctstat.Reading) ReadFunc {
	i := 0
	return func(context.Context) (ctstat.Reading, error) {
		r := rs[i]
		i++
		return r, nil
	}
}

func entry(src string, proto model.Proto, dport uint16) model.Entry {
	return model.Entry{Family: model.FamilyIPv4, Proto: proto, Orig: model.Tuple{Src: netip.MustParseAddr(src), DstPort: dport}}
}

// fakeDump serves entries, stopping when fn says so.
func fakeDump(entries []model.Entry) DumpFunc {
	return func(ctx context.Context, fn func(*model.Entry) bool) error {
		for i := range entries {
			if !fn(&entries[i]) {
				return nil
			}
		}
		return nil
	}
}

// brief is what the table-driven test compares of a record.
type brief struct {
	Kind      Kind
	Count     uint32
	Threshold float64
	Delta     ctstat.CPUStats
}

func TestMonitorPressure(t *testing.T) {
	sr := func(count uint32) brief { return brief{Kind: KindStats, Count: count} }
	up := func(count uint32, th float64) brief {
		return brief{Kind: KindTablePressure, Count: count, Threshold: th}
	}
	down := func(count uint32, th float64) brief {
		return brief{Kind: KindTablePressureCleared, Count: count, Threshold: th}
	}
	tests := []struct {
		name   string
		counts []uint32
		want   [][]brief // per check
	}{
		{
			name:   "rising through each threshold warns once for each",
			counts: []uint32{100, 800, 850, 900, 949, 950, 1000, 999},
			want: [][]brief{
				{sr(100)},
				{sr(800), up(800, 80)},
				{sr(850)},
				{sr(900), up(900, 90)},
				{sr(949)},
				{sr(950), up(950, 95)},
				{sr(1000)},
				{sr(999)},
			},
		},
		{
			name:   "a jump crosses several thresholds at once",
			counts: []uint32{0, 960},
			// An empty table whose counters never moved is also idle.
			want: [][]brief{{sr(0), {Kind: KindNotTracking}}, {sr(960), up(960, 80), up(960, 90), up(960, 95)}},
		},
		{
			name:   "already past thresholds at the first check",
			counts: []uint32{910},
			want:   [][]brief{{sr(910), up(910, 80), up(910, 90)}},
		},
		{
			name: "hovering at a threshold warns once; clearing needs the hysteresis margin",
			// 5 points of hysteresis: 80 clears below 75.
			counts: []uint32{800, 790, 810, 751, 750, 749, 800},
			want: [][]brief{
				{sr(800), up(800, 80)},
				{sr(790)},
				{sr(810)},
				{sr(751)},
				{sr(750)},
				{sr(749), down(749, 80)},
				{sr(800), up(800, 80)},
			},
		},
		{
			name:   "falling clears from the top, one record per threshold",
			counts: []uint32{960, 880, 500},
			want: [][]brief{
				{sr(960), up(960, 80), up(960, 90), up(960, 95)},
				{sr(880), down(880, 95)},
				{sr(500), down(500, 90), down(500, 80)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []ctstat.Reading
			for i, c := range tt.counts {
				rs = append(rs, reading(i, c, ctstat.CPUStats{}))
			}
			m := NewMonitor(Config{Thresholds: Thresholds{95, 80, 90}, TopN: 3}, fakeReads(rs), nil)
			var got [][]brief
			for range rs {
				var recs []brief
				if err := m.Check(context.Background(), func(r Record) {
					recs = append(recs, brief{Kind: r.Kind, Count: r.Count, Threshold: r.Threshold, Delta: r.Delta})
				}); err != nil {
					t.Fatal(err)
				}
				got = append(got, recs)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMonitorDeltasAndDrops(t *testing.T) {
	type want struct {
		stats    ctstat.CPUStats
		hasDelta bool
		drops    *ctstat.CPUStats
		hint     string
	}
	cs := func(kv ...any) ctstat.CPUStats {
		var s ctstat.CPUStats
		for i := 0; i < len(kv); i += 2 {
			s[kv[i].(ctstat.Counter)] = uint64(kv[i+1].(int))
		}
		return s
	}
	ptr := func(s ctstat.CPUStats) *ctstat.CPUStats { return &s }
	tests := []struct {
		name string
		sums []ctstat.CPUStats
		want []want
	}{
		{
			name: "first reading has no deltas and no drops, however high its counters",
			sums: []ctstat.CPUStats{cs(ctstat.Drop, 50, ctstat.Found, 9)},
			want: []want{{}},
		},
		{
			name: "growth of counters that are not drops",
			sums: []ctstat.CPUStats{cs(ctstat.Found, 10, ctstat.Insert, 4), cs(ctstat.Found, 25, ctstat.Insert, 4, ctstat.ClashResolve, 2)},
			want: []want{{}, {hasDelta: true, stats: cs(ctstat.Found, 15, ctstat.ClashResolve, 2)}},
		},
		{
			name: "table full",
			sums: []ctstat.CPUStats{cs(ctstat.Drop, 50), cs(ctstat.Drop, 57, ctstat.Insert, 3)},
			want: []want{{}, {
				hasDelta: true, stats: cs(ctstat.Drop, 7, ctstat.Insert, 3),
				drops: ptr(cs(ctstat.Drop, 7)), hint: hintFull,
			}},
		},
		{
			name: "early drops",
			sums: []ctstat.CPUStats{{}, cs(ctstat.EarlyDrop, 2)},
			want: []want{{}, {hasDelta: true, stats: cs(ctstat.EarlyDrop, 2), drops: ptr(cs(ctstat.EarlyDrop, 2)), hint: hintFull}},
		},
		{
			name: "insert_failed and invalid",
			sums: []ctstat.CPUStats{{}, cs(ctstat.InsertFailed, 1, ctstat.Invalid, 4, ctstat.Found, 1)},
			want: []want{{}, {
				hasDelta: true, stats: cs(ctstat.InsertFailed, 1, ctstat.Invalid, 4, ctstat.Found, 1),
				drops: ptr(cs(ctstat.InsertFailed, 1, ctstat.Invalid, 4)), hint: hintInsertFailed + "; " + hintInvalid,
			}},
		},
		{
			name: "every cause",
			sums: []ctstat.CPUStats{{}, cs(ctstat.Drop, 1, ctstat.InsertFailed, 1, ctstat.Invalid, 1)},
			want: []want{{}, {
				hasDelta: true, stats: cs(ctstat.Drop, 1, ctstat.InsertFailed, 1, ctstat.Invalid, 1),
				drops: ptr(cs(ctstat.Drop, 1, ctstat.InsertFailed, 1, ctstat.Invalid, 1)), hint: hintFull + "; " + hintInsertFailed + "; " + hintInvalid,
			}},
		},
		{
			name: "a wrapped 32-bit counter is growth, not a reset",
			sums: []ctstat.CPUStats{cs(ctstat.Invalid, 0xffffffff), cs(ctstat.Invalid, 1)},
			want: []want{{}, {hasDelta: true, stats: cs(ctstat.Invalid, 2), drops: ptr(cs(ctstat.Invalid, 2)), hint: hintInvalid}},
		},
		{
			name: "no growth, no drops record",
			sums: []ctstat.CPUStats{cs(ctstat.Drop, 3), cs(ctstat.Drop, 3)},
			want: []want{{}, {hasDelta: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []ctstat.Reading
			for i, s := range tt.sums {
				rs = append(rs, reading(i, 10, s))
			}
			m := NewMonitor(DefaultConfig(), fakeReads(rs), nil)
			var got []want
			for i := range rs {
				var w want
				if err := m.Check(context.Background(), func(r Record) {
					switch r.Kind {
					case KindStats:
						w.stats, w.hasDelta = r.Delta, r.HasDelta
						if r.HasDelta && r.Interval != 10*time.Second {
							t.Errorf("check %d: stats interval %v, want 10s", i, r.Interval)
						}
					case KindDrops:
						w.drops, w.hint = &r.Delta, r.Hint
					default:
						t.Errorf("unexpected %s record", r.Kind)
					}
				}); err != nil {
					t.Fatal(err)
				}
				got = append(got, w)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMonitorTop(t *testing.T) {
	var entries []model.Entry
	add := func(n int, e model.Entry) {
		for range n {
			entries = append(entries, e)
		}
	}
	add(5, entry("10.0.0.1", model.ProtoTCP, 443))
	add(3, entry("10.0.0.2", model.ProtoUDP, 53))
	add(3, entry("10.0.0.3", model.ProtoTCP, 443))
	add(2, entry("2001:db8::1", model.ProtoICMPv6, 0))
	add(1, entry("10.0.0.4", model.ProtoTCP, 22))

	tests := []struct {
		name    string
		topN    int
		maxDump int
		want    *Top
	}{
		{
			name: "whole table", topN: 3, maxDump: 100,
			want: &Top{
				Src: []SrcCount{
					{netip.MustParseAddr("10.0.0.1"), 5},
					{netip.MustParseAddr("10.0.0.2"), 3}, // ties by address
					{netip.MustParseAddr("10.0.0.3"), 3},
				},
				DPort: []PortCount{
					{model.ProtoTCP, 443, 8},
					{model.ProtoUDP, 53, 3},
					{model.ProtoTCP, 22, 1},
				},
				Scanned: 14,
			},
		},
		{
			name: "exactly MaxDump entries is not a sample", topN: 1, maxDump: 14,
			want: &Top{
				Src:     []SrcCount{{netip.MustParseAddr("10.0.0.1"), 5}},
				DPort:   []PortCount{{model.ProtoTCP, 443, 8}},
				Scanned: 14,
			},
		},
		{
			name: "a dump cut at MaxDump says so", topN: 2, maxDump: 6,
			want: &Top{
				Src:     []SrcCount{{netip.MustParseAddr("10.0.0.1"), 5}, {netip.MustParseAddr("10.0.0.2"), 1}},
				DPort:   []PortCount{{model.ProtoTCP, 443, 5}, {model.ProtoUDP, 53, 1}},
				Scanned: 6, Sampled: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := []ctstat.Reading{reading(0, 900, ctstat.CPUStats{})}
			m := NewMonitor(Config{Thresholds: Thresholds{80}, TopN: tt.topN, MaxDump: tt.maxDump}, fakeReads(rs), fakeDump(entries))
			var got *Top
			if err := m.Check(context.Background(), func(r Record) {
				if r.Kind == KindTablePressure {
					got = r.Top
				}
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMonitorDumpError(t *testing.T) {
	errDump := errors.New("dump broke")
	rs := []ctstat.Reading{reading(0, 900, ctstat.CPUStats{})}
	m := NewMonitor(Config{Thresholds: Thresholds{80}, TopN: 3}, fakeReads(rs), func(context.Context, func(*model.Entry) bool) error { return errDump })
	var got []Record
	if err := m.Check(context.Background(), func(r Record) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Kind != KindTablePressure {
		t.Fatalf("records %+v, want stats then table_pressure", got)
	}
	if !errors.Is(got[1].TopErr, errDump) || got[1].Top != nil {
		t.Errorf("top %v, error %v: want the dump's error and no top", got[1].Top, got[1].TopErr)
	}
}

func TestMonitorReadError(t *testing.T) {
	errRead := errors.New("netlink timeout")
	calls := 0
	m := NewMonitor(DefaultConfig(), func(context.Context) (ctstat.Reading, error) {
		calls++
		if calls == 2 {
			return ctstat.Reading{}, errRead
		}
		return reading(calls, 10, ctstat.CPUStats{ctstat.Drop: uint64(calls)}), nil
	}, nil)
	var events []string
	emit := func(r Record) { events = append(events, r.Kind.String()) }
	if err := m.Check(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(context.Background(), emit); !errors.Is(err, errRead) {
		t.Fatalf("error %v, want %v", err, errRead)
	}
	if _, _, ok := m.Last(); !ok {
		t.Fatal("a failed reading lost the previous one")
	}
	if err := m.Check(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	// The third reading compares with the first: drop 1 -> 3.
	if diff := cmp.Diff([]string{"stats", "stats", "drops"}, events); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	r, totals, _ := m.Last()
	if r.Sum[ctstat.Drop] != 3 || totals[ctstat.Drop] != 3 {
		t.Errorf("last drop %d, total %d; want 3 and 3", r.Sum[ctstat.Drop], totals[ctstat.Drop])
	}
}

func TestMonitorTotalsSurviveWrap(t *testing.T) {
	rs := []ctstat.Reading{
		reading(0, 1, ctstat.CPUStats{ctstat.Found: 0xfffffff0}),
		reading(1, 1, ctstat.CPUStats{ctstat.Found: 0x10}),
	}
	m := NewMonitor(DefaultConfig(), fakeReads(rs), nil)
	for range rs {
		if err := m.Check(context.Background(), func(Record) {}); err != nil {
			t.Fatal(err)
		}
	}
	_, totals, _ := m.Last()
	if want := uint64(0xfffffff0 + 0x20); totals[ctstat.Found] != want {
		t.Errorf("total found %#x, want %#x", totals[ctstat.Found], want)
	}
}

func TestMonitorNoLimit(t *testing.T) {
	rs := []ctstat.Reading{reading(0, 990, ctstat.CPUStats{}), {Time: t0.Add(time.Minute), Count: 5000}}
	m := NewMonitor(DefaultConfig(), fakeReads(rs), nil)
	var events []string
	for range rs {
		if err := m.Check(context.Background(), func(r Record) { events = append(events, r.Kind.String()+":"+Thresholds{r.Threshold}.String()) }); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"stats:0", "table_pressure:80", "table_pressure:90", "table_pressure:95",
		"stats:0", "table_pressure_cleared:95", "table_pressure_cleared:90", "table_pressure_cleared:80"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestMonitorNotTracking: a namespace where conntrack never tracked a
// packet warns at the first check and again every NotTrackingRepeat while
// it stays so; any entry or counter movement ends the warnings.
func TestMonitorNotTracking(t *testing.T) {
	var moved ctstat.CPUStats
	moved[ctstat.Insert] = 1
	// Checks every 10 s: 0..6 idle (a minute), 7 sees an entry.
	var rs []ctstat.Reading
	for i := range 7 {
		rs = append(rs, reading(i, 0, ctstat.CPUStats{}))
	}
	rs = append(rs, reading(7, 1, moved), reading(8, 0, moved))
	m := NewMonitor(Config{NotTrackingRepeat: 30 * time.Second}, fakeReads(rs), nil)
	var warned []int
	for i := range rs {
		if err := m.Check(context.Background(), func(r Record) {
			if r.Kind == KindNotTracking {
				if r.Hint == "" {
					t.Errorf("check %d: not_tracking without a hint", i)
				}
				warned = append(warned, i)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]int{0, 3, 6}, warned); diff != "" {
		t.Errorf("checks that warned (-want +got):\n%s", diff)
	}
}
