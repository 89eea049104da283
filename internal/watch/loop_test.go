package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/filter"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// These tests drive the real Run with a fake event source and table
// (source_test.go): what they check is the loop's own behaviour, on a
// clock that moves only when the script says.

// newFlows returns the NEW events of UDP flows from ports first, first+1, ...
func newFlows(t testing.TB, first, n int) []model.Event {
	t.Helper()
	evs := make([]model.Event, n)
	for i := range evs {
		evs[i] = udpNew(t, first+i)
	}
	return evs
}

// TestRunCoalesce: a read that found fewer events than a read can hold,
// within Coalesce of the events before, is followed by the coalescing
// pause, so that the rest of the burst comes in one read; the first events
// after a pause, a full read, or an empty one, by none; Coalesce < 0 never
// pauses.
func TestRunCoalesce(t *testing.T) {
	tests := []struct {
		name     string
		coalesce time.Duration
		want     []time.Duration
	}{
		{"default", 0, []time.Duration{time.Millisecond}},
		{"set", 3 * time.Millisecond, []time.Duration{3 * time.Millisecond}},
		{"never", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := newLoopTest(t, Config{Coalesce: tt.coalesce},
				read{events: newFlows(t, 100, 2)}, // short, after a pause
				read{events: newFlows(t, 150, 2)}, // short, at once after
				read{events: newFlows(t, 200, 4)}, // full
				read{},                            // empty
			)
			lt.src.readSize = 4
			sum, err := lt.run()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, lt.sleeps); diff != "" {
				t.Errorf("pauses (-want +got):\n%s", diff)
			}
			want := []string{"start", "dump", "new", "new", "new", "new", "new", "new", "new", "new", "stop"}
			if diff := cmp.Diff(want, kinds(lt.records())); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if sum.Received[model.EventNew] != 8 || sum.Written != 8 {
				t.Errorf("summary: %d NEW received, %d written; want 8, 8", sum.Received[model.EventNew], sum.Written)
			}
		})
	}
}

// TestRunDrainOnStop: what the source holds when the watch is stopped is
// read without waiting and handled before the stop record; a source that
// never empties holds the stop up for at most drainTime on the clock, or
// drainReads reads.
func TestRunDrainOnStop(t *testing.T) {
	t.Run("handled", func(t *testing.T) {
		var lt *loopTest
		lt = newLoopTest(t, Config{},
			read{before: func() { lt.cancel() }, events: newFlows(t, 100, 1)},
			read{events: newFlows(t, 200, 2)},
			read{events: newFlows(t, 300, 1)},
		)
		if _, err := lt.run(); err != nil {
			t.Fatal(err)
		}
		recs := lt.records()
		if diff := cmp.Diff([]string{"start", "dump", "new", "new", "new", "new", "stop"}, kinds(recs)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		// The read that saw the stop waited; the drain's did not, down
		// to the one that found the source empty.
		if diff := cmp.Diff([]bool{true, false, false, false}, lt.src.waits); diff != "" {
			t.Errorf("Receive's wait (-want +got):\n%s", diff)
		}
		if got := recs[len(recs)-1]["received"].(map[string]any)["new"]; got != 4.0 {
			t.Errorf("stop record: %v NEW received, want 4", got)
		}
	})

	tests := []struct {
		name string
		tick time.Duration // the clock's advance per read
		want int           // reads of the drain
	}{
		{"time", 10 * time.Millisecond, int(drainTime / (10 * time.Millisecond))},
		{"reads", 0, drainReads},
	}
	for _, tt := range tests {
		t.Run("bounded by "+tt.name, func(t *testing.T) {
			lt := newLoopTest(t, Config{Coalesce: -1})
			ev := udpNew(t, 100)
			lt.src.idle = func(b *events.Batch) {
				lt.cancel()
				b.Events = append(b.Events, ev)
				lt.clock.Advance(tt.tick)
			}
			sum, err := lt.run()
			if err != nil {
				t.Fatal(err)
			}
			if got := lt.src.drains(); got != tt.want {
				t.Errorf("%d reads in the drain, want %d", got, tt.want)
			}
			// The read that saw the stop, and the drain's.
			if got, want := sum.Received[model.EventNew], uint64(tt.want+1); got != want {
				t.Errorf("%d events handled, want %d", got, want)
			}
		})
	}
}

// TestRunLossReconcile: when the kernel's drop counter grows, a gap record
// says by how much, and the tracker is reconciled with a dump at once: a
// flow gone from the table without its DESTROY gets an inferred one, while
// a DESTROY still queued in the socket ends its flow as reported. A loss
// within reconcileSpacing of the last dump waits for the spacing.
func TestRunLossReconcile(t *testing.T) {
	var lt *loopTest
	lt = newLoopTest(t, Config{},
		read{before: func() {
			// A second later (past the spacing of a dump that took no
			// time), five events are lost: flow 2 ended unseen, flow 3's
			// DESTROY is on its way.
			lt.clock.Advance(time.Second)
			lt.src.stats.KernelDrops = 5
			lt.table.set(udpEntry(t, 1))
		}},
		// Read by the reconciliation, between its dump and its sweep.
		read{events: parse(t, udpLine("DESTROY", 3, ""))},
		read{},
		// Three more lost 200 ms on: within the spacing, no dump...
		read{before: func() {
			lt.clock.Advance(200 * time.Millisecond)
			lt.src.stats.KernelDrops = 8
		}},
		// ...until a second after the last.
		read{before: func() { lt.clock.Advance(800 * time.Millisecond) }},
	)
	lt.table.set(udpEntry(t, 1), udpEntry(t, 2), udpEntry(t, 3))
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"event": "start"},
		{"event": "dump", "entries": 3.0},
		{"event": "gap", "stage": "kernel", "lost": 5.0, "lost_total": 5.0, "enobufs": 0.0},
		{"event": "destroy", "orig.sport": 3.0},
		{"event": "destroy", "orig.sport": 2.0, "inferred": true},
		{"event": "reconcile", "reason": "gap", "entries": 1.0, "inferred": 1.0},
		{"event": "gap", "stage": "kernel", "lost": 3.0, "lost_total": 8.0, "enobufs": 0.0},
		{"event": "reconcile", "reason": "gap", "entries": 1.0, "inferred": 0.0},
		{"event": "stop", "lost": map[string]any{"kernel": 8.0, "output": 0.0}, "inferred_destroys": 1.0, "entries": 1.0},
	}
	got := fields(lt.records(), "entries", "stage", "lost", "lost_total", "enobufs", "orig.sport", "inferred", "reason", "inferred_destroys")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if sum.LostKernel != 8 || sum.Gaps != 2 || sum.Inferred != 1 {
		t.Errorf("summary: lost %d in %d gaps, %d inferred; want 8 in 2, 1", sum.LostKernel, sum.Gaps, sum.Inferred)
	}
	if got := lt.table.dumpCount(); got != 3 {
		t.Errorf("%d dumps, want 3 (startup, two reconciliations)", got)
	}
}

// TestReconcileSpacing: a loss triggers a reconciliation only a second
// after the last dump, or ten times its duration when that is longer, and
// none at all with ReconcileInterval < 0.
func TestReconcileSpacing(t *testing.T) {
	tests := []struct {
		name      string
		took      time.Duration // how long the startup dump took
		after     time.Duration // from its end to the loss check
		interval  time.Duration
		reconcile bool
	}{
		{"quick dump, a second on", 0, time.Second, 0, true},
		{"quick dump, too soon", 0, 900 * time.Millisecond, 0, false},
		{"slow dump, a second on", 200 * time.Millisecond, time.Second, 0, false},
		{"slow dump, ten times on", 200 * time.Millisecond, 2 * time.Second, 0, true},
		{"reconciliation off", 0, time.Second, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lt *loopTest
			lt = newLoopTest(t, Config{ReconcileInterval: tt.interval},
				read{before: func() {
					lt.clock.Advance(tt.after)
					lt.src.stats.KernelDrops = 1
				}})
			lt.table.took = tt.took
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			want := 1
			if tt.reconcile {
				want = 2
			}
			if got := lt.table.dumpCount(); got != want {
				t.Errorf("%d dumps, want %d", got, want)
			}
		})
	}
}

// TestRunPeriodicReconcile: under nf_conntrack_events=2 the tracker is
// reconciled every ReconcileInterval, losses or not, and the start says
// why; under 1 it is not; under 0 a warning says no event will come.
func TestRunPeriodicReconcile(t *testing.T) {
	tests := []struct {
		name      string
		sysctl    int64
		err       error
		want      []map[string]any
		wantDumps int
	}{
		{"on demand", 2, nil, []map[string]any{
			{"event": "start", "nf_conntrack_events": 2.0},
			{"event": "events_on_demand"},
			{"event": "dump"},
			{"event": "destroy", "inferred": true},
			{"event": "reconcile", "reason": "periodic", "inferred": 1.0},
			{"event": "stop"},
		}, 2},
		{"enabled", 1, nil, []map[string]any{
			{"event": "start", "nf_conntrack_events": 1.0},
			{"event": "dump"},
			{"event": "stop"},
		}, 1},
		{"disabled", 0, nil, []map[string]any{
			{"event": "start", "nf_conntrack_events": 0.0},
			{"event": "events_disabled"},
			{"event": "dump"},
			{"event": "stop"},
		}, 1},
		{"unknown", 0, os.ErrNotExist, []map[string]any{
			{"event": "start"},
			{"event": "dump"},
			{"event": "stop"},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			var lt *loopTest
			lt = newLoopTest(t, Config{ReadSysctl: func(name string) (int64, error) {
				asked = append(asked, name)
				return tt.sysctl, tt.err
			}}, read{before: func() {
				lt.clock.Advance(30 * time.Second)
				lt.table.set()
			}})
			lt.table.set(udpEntry(t, 1))
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"net.netfilter.nf_conntrack_events"}, asked); diff != "" {
				t.Errorf("sysctls read (-want +got):\n%s", diff)
			}
			got := fields(lt.records(), "nf_conntrack_events", "inferred", "reason")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if got := lt.table.dumpCount(); got != tt.wantDumps {
				t.Errorf("%d dumps, want %d", got, tt.wantDumps)
			}
		})
	}
}

// TestRunUnreplied: a flow still unanswered UnrepliedAfter after its NEW
// gets one warning, at the detector's next run.
func TestRunUnreplied(t *testing.T) {
	var lt *loopTest
	lt = newLoopTest(t, Config{},
		read{events: newFlows(t, 100, 1)},
		read{before: func() { lt.clock.Advance(4 * time.Second) }},
		read{before: func() { lt.clock.Advance(time.Second) }},
		read{before: func() { lt.clock.Advance(time.Second) }},
	)
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"start", "dump", "new", "unreplied", "stop"}
	if diff := cmp.Diff(want, kinds(lt.records())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestRunSnapshot: the startup dump seeds the tracker and, with Snapshot,
// writes snapshot records; a NEW queued during the dump for a dumped flow
// is merged into its snapshot record rather than written again. A failed
// dump is reported, and the watch goes on.
func TestRunSnapshot(t *testing.T) {
	tests := []struct {
		name     string
		snapshot bool
		dumpErr  error
		want     []map[string]any
		merged   uint64
	}{
		{"snapshot", true, nil, []map[string]any{
			{"event": "start", "level": "info"},
			{"event": "snapshot", "level": "info", "orig.sport": 7.0},
			{"event": "dump", "level": "info", "entries": 1.0},
			{"event": "new", "level": "info", "orig.sport": 8.0},
			{"event": "stop", "level": "info", "merged": 1.0, "snapshot": 1.0, "entries": 2.0},
		}, 1},
		{"no snapshot", false, nil, []map[string]any{
			{"event": "start", "level": "info"},
			{"event": "dump", "level": "info", "entries": 1.0},
			{"event": "new", "level": "info", "orig.sport": 7.0},
			{"event": "new", "level": "info", "orig.sport": 8.0},
			{"event": "stop", "level": "info", "merged": 0.0, "snapshot": 1.0, "entries": 2.0},
		}, 0},
		{"failed dump", false, errors.New("dump conntrack table: no reply"), []map[string]any{
			{"event": "start", "level": "info"},
			{"event": "dump", "level": "warn", "entries": 1.0, "error": "dump conntrack table: no reply"},
			{"event": "new", "level": "info", "orig.sport": 7.0},
			{"event": "new", "level": "info", "orig.sport": 8.0},
			{"event": "stop", "level": "info", "merged": 0.0, "snapshot": 1.0, "entries": 2.0},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := newLoopTest(t, Config{Snapshot: tt.snapshot},
				read{events: []model.Event{udpNew(t, 7), udpNew(t, 8)}})
			lt.table.set(udpEntry(t, 7))
			lt.table.err = tt.dumpErr
			sum, err := lt.run()
			if err != nil {
				t.Fatal(err)
			}
			got := fields(lt.records(), "level", "entries", "error", "orig.sport", "merged", "snapshot")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if sum.Merged != tt.merged {
				t.Errorf("merged %d, want %d", sum.Merged, tt.merged)
			}
		})
	}
}

// TestRunDecodeFailure: a message that does not decode is reported and
// counted, and the events read with it are handled.
func TestRunDecodeFailure(t *testing.T) {
	lt := newLoopTest(t, Config{}, read{
		events:   newFlows(t, 100, 1),
		failures: []events.DecodeFailure{{Err: events.ErrTruncated, Raw: []byte{1, 2, 3}}},
	})
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"event": "start"},
		{"event": "dump"},
		{"event": "decode_error", "error": events.ErrTruncated.Error(), "bytes": 3.0},
		{"event": "new"},
		{"event": "stop", "decode_errors": 1.0},
	}
	if diff := cmp.Diff(want, fields(lt.records(), "error", "bytes", "decode_errors")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if sum.DecodeErrors != 1 || sum.Written != 1 {
		t.Errorf("summary: %d decode errors, %d written; want 1, 1", sum.DecodeErrors, sum.Written)
	}
}

// TestRunOrigins: an event a userspace request caused names its program,
// from the resolver, which Run closes when it returns; one whose program
// is unknown is counted.
func TestRunOrigins(t *testing.T) {
	ev, unnamed := udpNew(t, 100), udpNew(t, 101)
	ev.Origin.PortID, unnamed.Origin.PortID = 7, 9
	lt := newLoopTest(t, Config{}, read{events: []model.Event{ev, unnamed}})
	lt.origins.unknown = 9
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"event": "start"},
		{"event": "dump"},
		{"event": "new", "origin": map[string]any{"portid": 7.0, "pid": 1007.0, "program": "conntrack"}},
		{"event": "new", "origin": map[string]any{"portid": 9.0}},
		{"event": "stop"},
	}
	if diff := cmp.Diff(want, fields(lt.records(), "origin")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if got := lt.w.Counters().Summary().Unnamed; got != 1 {
		t.Errorf("Unnamed = %d, want 1", got)
	}
	if !lt.origins.closed {
		t.Error("the resolver was not closed")
	}
}

// TestRunReceiveError: a read error ends the watch with that error, without
// a drain, after the stop record.
func TestRunReceiveError(t *testing.T) {
	boom := errors.New("recvmmsg: bad file descriptor")
	lt := newLoopTest(t, Config{}, read{events: newFlows(t, 100, 1)}, read{err: boom})
	_, err := lt.run()
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	if diff := cmp.Diff([]bool{true, true}, lt.src.waits); diff != "" {
		t.Errorf("Receive's wait (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"start", "dump", "new", "stop"}, kinds(lt.records())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestRunReopen: a value on Reopen makes the sink reopen its file: records
// from then on go to a new file at the path, after logrotate moved the old
// one away.
func TestRunReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctwatch.json")
	out, err := sink.OpenFile(path, sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reopen := make(chan struct{}, 1)
	lt := newLoopTest(t, Config{Out: output.Single(out), Reopen: reopen},
		read{events: newFlows(t, 100, 1)},
		read{before: func() {
			// logrotate: what was written is in the file it moves.
			if err := out.Flush(); err != nil {
				t.Error(err)
			}
			if err := os.Rename(path, path+".1"); err != nil {
				t.Error(err)
			}
			reopen <- struct{}{}
			// The request reaches the output on a goroutine of its own
			// (as a SIGHUP does): the next record is the new file's only
			// once the output has reopened.
			for deadline := time.Now().Add(10 * time.Second); out.Stats().Reopens == 0; {
				if time.Now().After(deadline) {
					t.Error("the output did not reopen within 10s")
					break
				}
				time.Sleep(time.Millisecond)
			}
		}},
		read{events: newFlows(t, 200, 1)},
	)
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		want []map[string]any
	}{
		{path + ".1", []map[string]any{{"event": "start"}, {"event": "dump"}, {"event": "new", "orig.sport": 100.0}}},
		{path, []map[string]any{{"event": "new", "orig.sport": 200.0}, {"event": "stop"}}},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(f.want, fields(parseRecords(t, string(b)), "orig.sport")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", filepath.Base(f.path), diff)
		}
	}
	if got := out.Stats().Reopens; got != 1 {
		t.Errorf("%d reopens, want 1", got)
	}
}

// TestRunOutputGone: once the output is gone for good (the reader of a pipe
// went away), the watch ends with ErrOutputGone, at its next turn and
// without draining.
func TestRunOutputGone(t *testing.T) {
	pr, pw := io.Pipe()
	pr.Close()
	out := sink.New(pw, sink.Config{})
	lt := newLoopTest(t, Config{Out: output.Single(out)},
		read{before: func() {
			// The first write fails: the writer gives up the output.
			if err := out.Flush(); !errors.Is(err, io.ErrClosedPipe) {
				t.Errorf("Flush = %v, want %v", err, io.ErrClosedPipe)
			}
			<-out.Done()
		}},
		read{events: newFlows(t, 100, 1)},
	)
	_, err := lt.run()
	if !errors.Is(err, ErrOutputGone) || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Run = %v, want ErrOutputGone wrapping %v", err, io.ErrClosedPipe)
	}
	if diff := cmp.Diff([]bool{true}, lt.src.waits); diff != "" {
		t.Errorf("Receive's wait (-want +got):\n%s", diff)
	}
}

// blockedWriter is an output that takes nothing until released (a stalled
// pipe), then writes into buf, if any.
type blockedWriter struct {
	release chan struct{}
	buf     *bytes.Buffer
}

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	if w.buf == nil {
		return len(p), nil
	}
	return w.buf.Write(p)
}

// TestRunShutdownBudget: a stop with the output blocked does not wait for
// it: the final flush gives up after shutdownFlush, and Run returns while
// the output is still blocked.
func TestRunShutdownBudget(t *testing.T) {
	bw := blockedWriter{release: make(chan struct{})}
	out := sink.New(bw, sink.Config{})
	lt := newLoopTest(t, Config{Out: output.Single(out)}, read{events: newFlows(t, 100, 3)})
	// Registered after newLoopTest's cleanup, so run before it: the sink
	// can only close once the output takes its bytes.
	t.Cleanup(func() { close(bw.release) })
	var budgets []time.Duration
	lt.w.after = func(d time.Duration) <-chan time.Time {
		budgets = append(budgets, d)
		c := make(chan time.Time, 1)
		c <- lt.clock.Now().Add(d)
		return c
	}
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-bw.release:
		t.Fatal("the output was released before Run returned")
	default:
	}
	if diff := cmp.Diff([]time.Duration{shutdownFlush}, budgets); diff != "" {
		t.Errorf("flush budgets (-want +got):\n%s", diff)
	}
	if sum.Written != 3 {
		t.Errorf("%d records written, want 3", sum.Written)
	}
}

// TestRunMetricsAddr: a metrics address that cannot be listened on fails
// the start, before anything is read; one that can is served beside the
// loop, which stops it.
func TestRunMetricsAddr(t *testing.T) {
	lt := newLoopTest(t, Config{MetricsAddr: "127.0.0.1:notaport"})
	_, err := lt.run()
	if se := (*StartError)(nil); !errors.As(err, &se) {
		t.Fatalf("Run with a bad metrics address = %v, want a *StartError", err)
	}
	if len(lt.src.waits) != 0 || lt.buf.Len() != 0 {
		t.Errorf("%d reads and %d bytes written before the failure, want none", len(lt.src.waits), lt.buf.Len())
	}

	lt = newLoopTest(t, Config{MetricsAddr: "127.0.0.1:0"}, read{events: newFlows(t, 100, 2)})
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"start", "dump", "new", "new", "stop"}, kinds(lt.records())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestMetricsSnapshot: /metrics shows the counters, and /healthz fails once
// the loop has not turned for stallLimit.
func TestMetricsSnapshot(t *testing.T) {
	lt := newLoopTest(t, Config{}, read{events: newFlows(t, 100, 2)})
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	snap := lt.w.metricsSnapshot()
	if snap.Events.New != 2 || snap.FlowsTracked != 2 || snap.HaveTable {
		t.Errorf("snapshot %+v: want 2 NEW, 2 flows, no table", snap)
	}
	if err := lt.w.healthz(); err != nil {
		t.Errorf("healthz just after a turn: %v", err)
	}
	lt.clock.Advance(stallLimit + time.Second)
	if err := lt.w.healthz(); err == nil {
		t.Error("healthz after stallLimit without a turn: nil, want an error")
	}
}

// TestRunOutputDropped: records the sink dropped because the output was
// behind get an output gap record at the next loss check, and no
// reconciliation: no event was lost.
func TestRunOutputDropped(t *testing.T) {
	var written bytes.Buffer
	bw := blockedWriter{release: make(chan struct{}), buf: &written}
	// One small buffer: while the output is blocked, the records that do
	// not fit are dropped. Once it is released, the gap and stop records
	// fit in it together.
	out := sink.New(bw, sink.Config{Buffers: 1, BufferSize: 1024})
	var lt *loopTest
	lt = newLoopTest(t, Config{Out: output.Single(out)},
		read{events: newFlows(t, 100, 20)},
		read{before: func() {
			// The output catches up before the next loss check.
			close(bw.release)
			if err := out.Flush(); err != nil {
				t.Error(err)
			}
			lt.clock.Advance(100 * time.Millisecond)
		}},
	)
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	var gaps []map[string]any
	for _, r := range fields(parseRecords(t, written.String()), "stage", "lost", "lost_total") {
		if r["event"] == "gap" {
			gaps = append(gaps, r)
		}
	}
	lost := float64(sum.LostOutput)
	want := []map[string]any{{"event": "gap", "stage": "output", "lost": lost, "lost_total": lost}}
	if diff := cmp.Diff(want, gaps); diff != "" {
		t.Errorf("gap records (-want +got):\n%s", diff)
	}
	if sum.LostOutput == 0 || sum.Gaps != 1 {
		t.Errorf("summary: %d records lost in %d gaps, want some in 1", sum.LostOutput, sum.Gaps)
	}
	if got := lt.table.dumpCount(); got != 1 {
		t.Errorf("%d dumps, want 1: lost records need no reconciliation", got)
	}
}

// TestRunHealth: the table health monitor checks the table at once when the
// watch starts, beside the loop, and stops with it: a "stats" record, and
// under pressure a "table_pressure" record whose top list comes from a dump
// through Config.Dump; a failed reading is a stats_error record.
func TestRunHealth(t *testing.T) {
	tests := []struct {
		name    string
		reading ctstat.Reading
		err     error
		want    []map[string]any
		dumps   int
	}{
		{"pressure", ctstat.Reading{Count: 95, Max: 100}, nil, []map[string]any{
			{"event": "stats", "count": 95.0, "max": 100.0},
			{"event": "table_pressure", "count": 95.0, "max": 100.0, "top.scanned": 2.0},
		}, 2},
		{"failed", ctstat.Reading{}, errors.New("netlink: operation not permitted"), []map[string]any{
			{"event": "stats_error", "error": "read conntrack statistics: netlink: operation not permitted"},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := health.DefaultConfig()
			// Only the check at the start, at one threshold.
			hc.Interval, hc.Thresholds = time.Hour, []float64{90}
			var lt *loopTest
			// The loop reads only once the check's last record is written:
			// a stop before it would cancel the check.
			checked := make(chan struct{})
			var once sync.Once
			last := []byte(fmt.Sprintf(`"event":%q`, tt.want[len(tt.want)-1]["event"]))
			lt = newLoopTest(t, Config{
				Health: hc,
				ReadStats: func(context.Context) (ctstat.Reading, error) {
					r := tt.reading
					r.Time = lt.clock.Now()
					return r, tt.err
				},
			}, read{before: func() {
				select {
				case <-checked:
				case <-time.After(30 * time.Second):
					t.Errorf("no %s record from the health check", last)
				}
			}})
			cfg := lt.w.cfg
			cfg.Log = zerolog.New(io.MultiWriter(cfg.Out, tapWriter(func(p []byte) {
				if bytes.Contains(p, last) {
					once.Do(func() { close(checked) })
				}
			})))
			lt.w = New(cfg)
			lt.table.set(udpEntry(t, 1), udpEntry(t, 2))
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			for _, r := range fields(lt.records(), "count", "max", "top.scanned", "error") {
				switch r["event"] {
				case "stats", "table_pressure", "stats_error":
					got = append(got, r)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("health records (-want +got):\n%s", diff)
			}
			if got := lt.table.dumpCount(); got != tt.dumps {
				t.Errorf("%d dumps, want %d", got, tt.dumps)
			}
			// /metrics shows the table as last read.
			snap := lt.w.metricsSnapshot()
			if tt.err == nil && (!snap.HaveTable || snap.Table.Entries != tt.reading.Count || snap.Table.Limit != tt.reading.Max) {
				t.Errorf("metrics: have table %v, %d of %d entries; want %d of %d", snap.HaveTable, snap.Table.Entries, snap.Table.Limit, tt.reading.Count, tt.reading.Max)
			}
		})
	}
}

// TestRunStalledOutputGapsAddUp: one of two outputs stalls during a burst.
// Its stream accounts for every record it lacks: the records it received
// and the "lost" of the gap records naming it add up to every sequence
// number of the run, and the stop record's outputs say the same; the
// other output receives every record; the loop never waits for the
// stalled one.
func TestRunStalledOutputGapsAddUp(t *testing.T) {
	var stalled, fine bytes.Buffer
	bw := blockedWriter{release: make(chan struct{}), buf: &stalled}
	slow := sink.New(bw, sink.Config{Buffers: 2, BufferSize: 4096})
	fast := sink.New(&fine, sink.Config{})
	out := output.NewSet("run-1", output.LocalWriter("slow", slow), output.LocalWriter("fast", fast))
	var lt *loopTest
	var reads []read
	for i := range 20 {
		reads = append(reads, read{events: newFlows(t, 1000+100*i, 100)},
			// A loss check between reads, while the output is stalled.
			read{before: func() { lt.clock.Advance(100 * time.Millisecond) }})
	}
	reads = append(reads, read{before: func() { close(bw.release) }})
	lt = newLoopTest(t, Config{Out: out, Heartbeat: -1}, reads...)
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	if err := out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := parseRecords(t, fine.String())
	last := all[len(all)-1]
	if last["event"] != "stop" {
		t.Fatalf("last record of the fast output: %v, want the stop record", last)
	}
	seqs := uint64(last["seq"].(float64))
	if uint64(len(all)) != seqs {
		t.Errorf("fast output: %d records, want every one of the %d", len(all), seqs)
	}
	got := parseRecords(t, stalled.String())
	var lost float64
	for _, r := range got {
		if r["event"] == "gap" && r["output"] == "slow" {
			lost += r["lost"].(float64)
		}
	}
	if lost == 0 {
		t.Fatal("the stalled output lost nothing: the test did not stall it")
	}
	if uint64(len(got))+uint64(lost) != seqs {
		t.Errorf("stalled output: %d records received + %v lost in its gap records = %d, want %d",
			len(got), lost, uint64(len(got))+uint64(lost), seqs)
	}
	stop := got[len(got)-1]
	if stop["event"] != "stop" {
		t.Fatalf("last record of the stalled output: %v, want the stop record (never dropped)", stop)
	}
	outs := stop["outputs"].([]any)
	slowTotals := outs[0].(map[string]any)
	if slowTotals["name"] != "slow" || slowTotals["dropped"].(float64) != lost {
		t.Errorf("stop record's account of the stalled output: %v, want %v dropped", slowTotals, lost)
	}
}

// tapWriter calls its function with every record written through it.
type tapWriter func(p []byte)

func (f tapWriter) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

// tokenWriter is an output that writes once per token it receives: an
// output much slower than the loop, whatever the scheduling.
type tokenWriter struct {
	tokens chan struct{}
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (w *tokenWriter) Write(p []byte) (int, error) {
	<-w.tokens
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *tokenWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunSnapshotWaitsForOutput: a snapshot of many more entries than a
// stalled output's buffers hold loses nothing: the dump waits for the
// output (every snapshot record is written, none dropped, no gap record),
// as a dump pulled by ctwatch can.
func TestRunSnapshotWaitsForOutput(t *testing.T) {
	const n = 2000
	tw := &tokenWriter{tokens: make(chan struct{})}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case tw.tokens <- struct{}{}:
			case <-stop:
				return
			}
		}
	}()
	slow := sink.New(tw, sink.Config{Buffers: 2, BufferSize: 4096, FlushInterval: time.Hour})
	out := output.NewSet("run-1", output.LocalWriter("slow", slow))
	lt := newLoopTest(t, Config{Out: out, Snapshot: true, Heartbeat: -1})
	var table []model.Event
	for i := range n {
		table = append(table, udpEntry(t, 10000+i))
	}
	lt.table.set(table...)
	sum, err := lt.run()
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := parseRecords(t, tw.String())
	var sports []int
	for _, r := range recs {
		switch r["event"] {
		case "snapshot":
			sports = append(sports, int(r["orig"].(map[string]any)["sport"].(float64)))
		case "gap":
			t.Errorf("gap record %v: the snapshot dropped records", r)
		}
	}
	var want []int
	for i := range n {
		want = append(want, 10000+i)
	}
	if diff := cmp.Diff(want, sports); diff != "" {
		t.Errorf("snapshot records' source ports (-want +got):\n%s", diff)
	}
	if st := out.Total(); st.Dropped != 0 || sum.LostOutput != 0 {
		t.Errorf("output stats %+v, lost_output %d: want nothing dropped", st, sum.LostOutput)
	}
}

// TestRunKernelFilterDumps: with KernelFilter, the startup dump asks the
// kernel for Filter.DumpFilter and seeds the tracker only with the entries
// Filter selects (the stand-in lists more, as an older kernel may), and a
// reconciliation asks for the part that does not change over a flow's
// life (here: without the mark); without it, every dump lists everything
// and seeds every entry.
func TestRunKernelFilterDumps(t *testing.T) {
	f, err := filter.New(filter.Spec{Family: "ipv4", Proto: "udp", SPort: "7", Mark: "0"})
	if err != nil {
		t.Fatal(err)
	}
	full := f.DumpFilter()
	stable := full
	stable.Mark, stable.MarkMask = 0, 0
	tests := []struct {
		name    string
		kernel  bool
		filters []events.DumpFilter
		tracked int64
	}{
		{"kernel filter", true, []events.DumpFilter{full, stable}, 1},
		{"userspace filter", false, []events.DumpFilter{{}, {}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lt *loopTest
			tracked := int64(-1)
			lt = newLoopTest(t, Config{KernelFilter: tt.kernel, Filter: f},
				read{before: func() {
					tracked = lt.w.counters.Tracked.Load()
					// A loss a second on: a reconciliation.
					lt.clock.Advance(time.Second)
					lt.src.stats.KernelDrops = 1
				}},
				read{}, read{})
			lt.table.set(udpEntry(t, 7), udpEntry(t, 8))
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.filters, lt.table.filters, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("dump filters (-want +got):\n%s", diff)
			}
			if tracked != tt.tracked {
				t.Errorf("%d flows tracked after the startup dump, want %d", tracked, tt.tracked)
			}
		})
	}
}

// TestRunWaits holds the loop's waits to its timers: a loss check is
// waited for only after events or records, the unreplied detector only
// for a flow that comes due, and an idle watch waits maxWait.
func TestRunWaits(t *testing.T) {
	var lt *loopTest
	lt = newLoopTest(t, Config{NetnsCheck: -1},
		read{before: func() { lt.clock.Advance(100 * time.Millisecond) }},
		read{events: []model.Event{udpNew(t, 1)}},
		read{before: func() { lt.clock.Advance(10 * time.Second) }},
	)
	start := lt.clock.Now()
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for _, d := range lt.src.deadlines {
		got = append(got, d.Sub(start))
	}
	after := flow.DefaultConfig().UnrepliedAfter
	want := []time.Duration{
		100 * time.Millisecond,                // the start's records: a loss check
		100*time.Millisecond + maxWait,        // checked: idle
		200 * time.Millisecond,                // an event: a loss check again
		10*time.Second + 200*time.Millisecond, // the detector's warning: one more
	}
	if 100*time.Millisecond+after >= 10*time.Second {
		t.Fatalf("UnrepliedAfter %v: the flow is not due by the third read", after)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits until, from the start (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"start", "dump", "new", "unreplied", "stop"}, kinds(lt.records())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
