package watch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/filter"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The run id and host name of the tests' watches.
const (
	testRun  = "run-1"
	testHost = "host-1"
)

// testWatch returns a watch writing JSON records into a buffer, with no
// socket: the tests drive its loop's handlers directly.
func testWatch(t testing.TB, cfg Config) (*Watch, *output.Set, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	out := output.Single(sink.New(&buf, sink.Config{}))
	t.Cleanup(func() { out.Close() })
	cfg.Out = out
	cfg.Log = zerolog.New(out)
	cfg.Clock = func() time.Time { return time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC) }
	cfg.Run, cfg.Host = testRun, testHost
	return New(cfg), out, &buf
}

// lines parses the records written so far.
func lines(t testing.TB, out *output.Set, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	if err := out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return parseRecords(t, buf.String())
}

// events parses conntrack -E -o timestamp,id lines.
func parse(t testing.TB, ls ...string) []model.Event {
	t.Helper()
	evs := make([]model.Event, len(ls))
	for i, l := range ls {
		ev, _, err := model.ParseText(l, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		evs[i] = ev
	}
	return evs
}

// A TCP connection's events: NEW, SYN_RECV, ESTABLISHED, an UPDATE that
// changes nothing but the timeout, and its DESTROY.
var tcpFlow = []string{
	"[1795320000.000100]\t    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=80 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=80 dport=40000 id=7",
	"[1795320000.000200]\t [UPDATE] tcp      6 60 SYN_RECV src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=80 src=127.0.0.1 dst=127.0.0.1 sport=80 dport=40000 id=7",
	"[1795320000.000300]\t [UPDATE] tcp      6 432000 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=80 src=127.0.0.1 dst=127.0.0.1 sport=80 dport=40000 [ASSURED] id=7",
	"[1795320000.500000]\t [UPDATE] tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=80 src=127.0.0.1 dst=127.0.0.1 sport=80 dport=40000 [ASSURED] id=7",
	"[1795320001.000000]\t[DESTROY] tcp      6 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=80 src=127.0.0.1 dst=127.0.0.1 sport=80 dport=40000 [ASSURED] id=7",
}

// kinds summarises records as "event" or "event+key" for the keys a
// tracker adds.
func kinds(recs []map[string]any) []string {
	var k []string
	for _, r := range recs {
		s := r["event"].(string)
		for _, key := range []string{"transition", "flow", "inferred"} {
			if _, ok := r[key]; ok {
				s += "+" + key
			}
		}
		k = append(k, s)
	}
	return k
}

func TestUpdatePolicy(t *testing.T) {
	tests := []struct {
		updates    Updates
		want       []string
		suppressed uint64
	}{
		{UpdatesChanges, []string{"new", "update+transition", "update+transition", "destroy+flow"}, 1},
		{UpdatesAll, []string{"new", "update+transition", "update+transition", "update", "destroy+flow"}, 0},
		{UpdatesNone, []string{"new", "destroy+flow"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.updates.String(), func(t *testing.T) {
			w, out, buf := testWatch(t, Config{Updates: tt.updates})
			for _, ev := range parse(t, tcpFlow...) {
				w.event(&ev)
			}
			if diff := cmp.Diff(tt.want, kinds(lines(t, out, buf))); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if got := w.counters.Suppressed.Load(); got != tt.suppressed {
				t.Errorf("suppressed %d, want %d", got, tt.suppressed)
			}
		})
	}
}

// TestSnapshotMerge: a NEW queued during the startup dump for a flow the
// dump reported is written once, as its snapshot record.
func TestSnapshotMerge(t *testing.T) {
	for _, snapshot := range []bool{true, false} {
		w, out, buf := testWatch(t, Config{Snapshot: snapshot})
		evs := parse(t, tcpFlow...)
		dumped := evs[1] // the dump saw it in SYN_RECV
		dumped.Type = model.EventSnapshot
		w.tracker.Seed(&dumped)
		if snapshot {
			w.entry(&dumped, false)
		}
		w.event(&evs[0]) // its NEW, queued during the dump
		want := []string{"snapshot"}
		if !snapshot {
			want = []string{"new"}
		}
		if diff := cmp.Diff(want, kinds(lines(t, out, buf))); diff != "" {
			t.Errorf("snapshot %v: records (-want +got):\n%s", snapshot, diff)
		}
		if got, want := w.counters.Merged.Load(), map[bool]uint64{true: 1, false: 0}[snapshot]; got != want {
			t.Errorf("snapshot %v: merged %d, want %d", snapshot, got, want)
		}
	}
}

// TestFilterCounts: records the filter rejects are counted, and tracking
// still follows the flow (its DESTROY has a lifecycle starting at its NEW).
func TestFilterCounts(t *testing.T) {
	f, err := filter.New(filter.Spec{State: "ESTABLISHED"})
	if err != nil {
		t.Fatal(err)
	}
	w, out, buf := testWatch(t, Config{Filter: f, Updates: UpdatesAll})
	for _, ev := range parse(t, tcpFlow...) {
		w.event(&ev)
	}
	recs := lines(t, out, buf)
	if diff := cmp.Diff([]string{"update+transition", "update", "destroy+flow"}, kinds(recs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if got := w.counters.Filtered.Load(); got != 2 {
		t.Errorf("filtered %d, want 2", got)
	}
	fl := recs[2]["flow"].(map[string]any)
	if fl["seen_from"] != "new" || fl["outcome"] != "timeout" {
		t.Errorf("lifecycle %v: want seen from its NEW despite the filter, ended by timeout", fl)
	}
}

// TestInferredOnRecreation: a NEW for a live key reports the earlier flow's
// lost DESTROY as an inferred one before the NEW.
func TestInferredOnRecreation(t *testing.T) {
	w, out, buf := testWatch(t, Config{})
	evs := parse(t, tcpFlow[0], tcpFlow[1],
		"[1795320100.000000]\t    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=80 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=80 dport=40000 id=7")
	for i := range evs {
		w.event(&evs[i])
	}
	recs := lines(t, out, buf)
	if diff := cmp.Diff([]string{"new", "update+transition", "destroy+flow+inferred", "new"}, kinds(recs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestTextFormat: text records are conntrack -E lines; DESTROYs with a
// start time get conntrack's delta-time from the clock.
func TestTextFormat(t *testing.T) {
	w, out, buf := testWatch(t, Config{Format: FormatText, Updates: UpdatesAll})
	ev := parse(t, "[DESTROY] udp      17 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1 [start=Sun Nov 22 04:59:00 2026] [stop=Sun Nov 22 04:59:30 2026]")[0]
	w.event(&ev)
	out.Flush(context.Background())
	want := "[DESTROY] udp      17 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1 delta-time=30\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestFlowsEvicted: when the tracker forgets flows to stay within MaxFlows,
// the next loss check writes one flows_evicted record with the evictions
// since the previous record and the running total, and writes none when
// nothing more was evicted; the summary counts them all. Without the
// record an operator would not know why DESTROYs lack their lifecycle.
func TestFlowsEvicted(t *testing.T) {
	const maxFlows = 2
	w, out, buf := testWatch(t, Config{Flow: flow.Config{MaxFlows: maxFlows}})
	// newFlows returns NEW events of distinct UDP flows, source ports from
	// first on.
	newFlows := func(first, n int) []model.Event {
		var ls []string
		for p := first; p < first+n; p++ {
			ls = append(ls, fmt.Sprintf("[NEW] udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=%d dport=53 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=%d id=%d", p, p, p))
		}
		return parse(t, ls...)
	}
	evicted := func(n, total, seq float64) map[string]any {
		return map[string]any{
			"level":         "warn",
			"time":          "2026-11-22T05:00:00.000000000Z",
			"event":         "flows_evicted",
			"seq":           seq,
			"run":           testRun,
			"host":          map[string]any{"name": testHost},
			"evicted":       n,
			"evicted_total": total,
			"max_flows":     float64(maxFlows),
			"hint":          "the flow tracker is full: the least recently seen flows were forgotten, and their ends will have no lifecycle; raise --max-flows",
		}
	}
	steps := []struct {
		name      string
		events    []model.Event // fed in one batch before the loss check
		want      []map[string]any
		wantTotal uint64
	}{
		// Five NEW records, then the warning; two more, then another.
		{"five flows into two", newFlows(1000, 5), []map[string]any{evicted(3, 3, 6)}, 3},
		{"no more evictions", nil, nil, 3},
		{"two more flows", newFlows(2000, 2), []map[string]any{evicted(2, 5, 9)}, 5},
	}
	seen := 0
	for _, st := range steps {
		w.batch(&events.Batch{Events: st.events})
		w.checkLoss(events.Stats{})
		recs := lines(t, out, buf)
		var got []map[string]any
		for _, r := range recs[seen:] {
			if r["event"] != "new" {
				got = append(got, r)
			}
		}
		seen = len(recs)
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: records other than new (-want +got):\n%s", st.name, diff)
		}
		if got := w.summary().FlowsEvicted; got != st.wantTotal {
			t.Errorf("%s: summary FlowsEvicted %d, want %d", st.name, got, st.wantTotal)
		}
		if got := w.counters.Tracked.Load(); got != maxFlows {
			t.Errorf("%s: tracked %d, want %d", st.name, got, maxFlows)
		}
	}
}

// TestDecodeError: a message that does not decode is counted and reported
// in a decode_error record, with its bytes in hex only when the logger is at
// debug level (they are bulky, and only of use when debugging), and the
// events around it are still handled.
func TestDecodeError(t *testing.T) {
	msg := capturedMessages(t, "tcp")[0]
	// The kernel's message, cut short by one byte: its nlmsg_len runs past
	// the end, as the reader would see it.
	raw := bytes.Clone(msg[:len(msg)-1])
	var scratch model.Event
	err := events.DecodeFast(raw, &scratch)
	if err == nil {
		t.Fatal("DecodeFast accepted a truncated message")
	}
	tests := []struct {
		level   zerolog.Level
		wantHex bool
	}{
		{zerolog.InfoLevel, false},
		{zerolog.DebugLevel, true},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			w, out, buf := testWatch(t, Config{})
			w.cfg.Log = w.cfg.Log.Level(tt.level)
			w.rec = record.New(record.Config{Log: w.cfg.Log, Clock: w.cfg.Clock, Run: testRun, Host: testHost})
			evs := parse(t, tcpFlow...)
			// The failure shares its batch with the flow's NEW; the rest of
			// the flow comes in the next batch.
			w.batch(&events.Batch{
				Events:   evs[:1],
				Failures: []events.DecodeFailure{{Err: err, Raw: raw}},
			})
			w.batch(&events.Batch{Events: evs[1:]})

			recs := lines(t, out, buf)
			if diff := cmp.Diff([]string{"decode_error", "new", "update+transition", "update+transition", "destroy+flow"}, kinds(recs)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
			want := map[string]any{
				"level": "warn",
				"time":  "2026-11-22T05:00:00.000000000Z",
				"event": "decode_error",
				"seq":   1.0,
				"run":   testRun,
				"host":  map[string]any{"name": testHost},
				"error": err.Error(),
				"bytes": float64(len(raw)),
			}
			if tt.wantHex {
				want["raw_hex"] = hex.EncodeToString(raw)
			}
			if diff := cmp.Diff(want, recs[0]); diff != "" {
				t.Errorf("decode_error record (-want +got):\n%s", diff)
			}
			s := w.summary()
			if s.DecodeErrors != 1 {
				t.Errorf("summary DecodeErrors %d, want 1", s.DecodeErrors)
			}
			if s.Written != 4 || s.Events() != uint64(len(evs)) {
				t.Errorf("summary: %d records written of %d events, want 4 of %d", s.Written, s.Events(), len(evs))
			}
		})
	}
}

func TestSummaryString(t *testing.T) {
	var s Summary
	s.Received[model.EventNew], s.Received[model.EventUpdate], s.Received[model.EventDestroy] = 3, 4, 2
	s.Written, s.Filtered, s.Suppressed, s.LostKernel, s.LostOutput = 8, 1, 0, 5, 1
	want := "9 events (new 3, update 4, destroy 2); 8 records handed to the output (not all written: see lost), 1 filtered, 0 updates suppressed; lost 6 (kernel 5, output 1); 0 decode errors"
	if got := s.String(); got != want {
		t.Errorf("String() =\n%q, want\n%q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	for _, s := range []string{"json", "text"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	for _, s := range []string{"changes", "all", "none"} {
		u, err := ParseUpdates(s)
		if err != nil || u.String() != s {
			t.Errorf("ParseUpdates(%q) = %v, %v", s, u, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat accepted xml")
	}
	if _, err := ParseUpdates("some"); err == nil {
		t.Error("ParseUpdates accepted some")
	}
}

// capturedMessages reads the real kernel messages recorded by the events
// package's tests, each as the bytes the reader receives.
func capturedMessages(tb testing.TB, name string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "events", "testdata", name+".nlmsg"))
	if err != nil {
		tb.Fatal(err)
	}
	var msgs [][]byte
	for len(b) >= 16 {
		n := int(binary.NativeEndian.Uint32(b))
		if n < 16 || n > len(b) {
			tb.Fatalf("bad message length %d", n)
		}
		msgs = append(msgs, b[:n])
		b = b[(n+3)&^3:]
	}
	return msgs
}

// schemas are the record schemas the pipeline's benchmark and allocation
// test cover, each a sub-benchmark named after it.
var schemas = []record.Schema{record.Native, record.ECS, record.OCSF}

// pipeline returns a watch of the given schema writing into a sink that
// discards, and a function handling the next captured kernel message as
// the reader and the loop do after the system call: decode it, track it,
// filter it and encode its record into the sink.
func pipeline(tb testing.TB, schema record.Schema) func() {
	tb.Helper()
	msgs := capturedMessages(tb, "tcp")
	// As the watch writes: through the output set, which the encoder
	// marks each record for.
	out := output.Single(sink.New(io.Discard, sink.Config{}))
	tb.Cleanup(func() { out.Close() })
	w := New(Config{Out: out, Log: zerolog.New(out), Updates: UpdatesAll, Schema: schema, Run: testRun, Host: testHost})
	var ev model.Event
	i := 0
	return func() {
		if err := events.DecodeFast(msgs[i%len(msgs)], &ev); err != nil {
			tb.Fatal(err)
		}
		w.event(&ev)
		i++
	}
}

// BenchmarkPipeline costs what the reader and the loop do per event after
// the system call, in each schema (BenchmarkPipeline/native, /ecs, /ocsf):
// decode a real kernel message, track it, filter, and encode the record
// into the sink (writing to io.Discard).
func BenchmarkPipeline(b *testing.B) {
	for _, s := range schemas {
		b.Run(s.String(), func(b *testing.B) {
			next := pipeline(b, s)
			b.ReportAllocs()
			for b.Loop() {
				next()
			}
		})
	}
}

// TestPipelineAllocs: an event costs no allocation from decode to the
// sink's buffer, in every schema, once the pools are warm.
func TestPipelineAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("zerolog's event pool drops items at random under the race detector")
	}
	for _, s := range schemas {
		t.Run(s.String(), func(t *testing.T) {
			next := pipeline(t, s)
			for range 100 { // warm the pools and the tracker's table
				next()
			}
			if allocs := testing.AllocsPerRun(1000, next); allocs != 0 {
				t.Errorf("%v allocations per event, want 0", allocs)
			}
		})
	}
}
