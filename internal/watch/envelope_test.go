package watch

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/sink"
)

// TestRunSeqContinuity: every record a watch writes, from its start to its
// stop, through entries, a kernel gap, the reconciliation it causes (with
// an inferred destroy) and heartbeats, carries the next
// sequence number, from 1 with no hole, and the same run id and host name;
// a record the level filters out (the reconciliation at info level) takes
// no number.
func TestRunSeqContinuity(t *testing.T) {
	tests := []struct {
		name  string
		level zerolog.Level
		want  []string
	}{
		{"debug", zerolog.DebugLevel, []string{"start", "dump", "new", "new", "gap", "destroy+flow+inferred", "reconcile+inferred",
			"heartbeat", "destroy+flow", "heartbeat", "stop"}},
		{"info: the reconciliation is not written", zerolog.InfoLevel, []string{"start", "dump", "new", "new", "gap", "destroy+flow+inferred",
			"heartbeat", "destroy+flow", "heartbeat", "stop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lt *loopTest
			lt = newLoopTest(t, Config{Heartbeat: 10 * time.Second},
				read{events: newFlows(t, 100, 2)},
				// Three events lost a second on; the table no longer has
				// flow 101: the reconciliation infers its end.
				read{before: func() {
					lt.clock.Advance(time.Second)
					lt.src.stats.KernelDrops = 3
					lt.table.set(udpEntry(t, 100))
				}},
				read{}, // the reconciliation's
				// Ten seconds from the start: a heartbeat is due.
				read{before: func() { lt.clock.Advance(9 * time.Second) }},
				read{events: parse(t, udpLine("DESTROY", 100, ""))},
				read{before: func() { lt.clock.Advance(10 * time.Second) }},
			)
			lt.w.rec = record.New(record.Config{Log: lt.w.cfg.Log.Level(tt.level), Clock: lt.clock.Now, Run: testRun, Host: testHost})
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			recs := lt.records()
			if diff := cmp.Diff(tt.want, kinds(recs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			var got, want []map[string]any
			for i, r := range recs {
				got = append(got, map[string]any{"seq": r["seq"], "run": r["run"], "host": r["host"]})
				want = append(want, map[string]any{"seq": float64(i + 1), "run": testRun, "host": map[string]any{"name": testHost}})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("envelopes (-want +got):\n%s", diff)
			}
			if got, want := lt.w.rec.Seq(), uint64(len(recs)); got != want {
				t.Errorf("encoder's Seq %d after %d records", got, want)
			}
		})
	}
}

// TestRunHeartbeat: with Heartbeat set, a heartbeat record comes at the
// loop's first turn once it is due, measured from the last one, with the
// uptime, the events received by type, the records written before it (so
// that its seq is written+1), the losses so far and the records waiting in
// the output's queue; with Heartbeat 0 none comes.
func TestRunHeartbeat(t *testing.T) {
	heartbeat := func(uptime, news, destroys, written, lostKernel, queue float64) map[string]any {
		return map[string]any{
			"event":    "heartbeat",
			"level":    "info",
			"seq":      written + 1,
			"uptime_s": uptime,
			"events":   map[string]any{"new": news, "update": 0.0, "destroy": destroys},
			"written":  written,
			"lost":     map[string]any{"kernel": lostKernel, "output": 0.0},
			"queue":    queue,
		}
	}
	tests := []struct {
		name     string
		interval time.Duration
		want     []map[string]any
	}{
		{"every 10s", 10 * time.Second, []map[string]any{
			// start, dump, two NEW, one DESTROY, a kernel gap: 6 records,
			// all still in the sink's buffer.
			heartbeat(10, 2, 1, 6, 2, 6),
			// The first heartbeat is written too.
			heartbeat(20.5, 2, 1, 7, 2, 7),
		}},
		{"off", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The sink holds every record until the test flushes it, so
			// that the queue depth does not depend on the writer goroutine.
			var buf bytes.Buffer
			out := sink.New(&buf, sink.Config{FlushInterval: time.Hour})
			// No unreplied warning, no reconciliation: only the records
			// the test counts; no coalescing pause moves the clock.
			fc := flow.DefaultConfig()
			fc.UnrepliedAfter = time.Hour
			var lt *loopTest
			lt = newLoopTest(t, Config{Heartbeat: tt.interval, ReconcileInterval: -1, Coalesce: -1, Flow: fc, Out: output.Single(out)},
				read{events: newFlows(t, 100, 2)},
				read{before: func() {
					lt.src.stats.KernelDrops = 2
					lt.clock.Advance(9 * time.Second)
				}, events: parse(t, udpLine("DESTROY", 100, ""))},
				read{before: func() { lt.clock.Advance(time.Second) }}, // due
				read{before: func() { lt.clock.Advance(9 * time.Second) }},
				read{before: func() { lt.clock.Advance(1500 * time.Millisecond) }}, // due, late
			)
			lt.buf = &buf
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			for _, r := range fields(lt.records(), "level", "seq", "uptime_s", "events", "written", "lost", "queue") {
				if r["event"] == "heartbeat" {
					got = append(got, r)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("heartbeat records (-want +got):\n%s", diff)
			}
			if kinds := kinds(lt.records()); kinds[0] != "start" || kinds[len(kinds)-1] != "stop" {
				t.Errorf("records %v: want start to stop", kinds)
			}
		})
	}
}

// TestHeartbeatUnfiltered: the heartbeat is an info record, so that the
// default level writes it; at warn level it is filtered out and takes no
// sequence number.
func TestHeartbeatUnfiltered(t *testing.T) {
	for _, tt := range []struct {
		level zerolog.Level
		want  uint64
	}{{zerolog.InfoLevel, 1}, {zerolog.WarnLevel, 0}} {
		w, out, buf := testWatch(t, Config{})
		w.rec = record.New(record.Config{Log: w.cfg.Log.Level(tt.level), Clock: w.cfg.Clock, Run: testRun, Host: testHost})
		w.heartbeat(w.cfg.Clock())
		if got := w.rec.Seq(); got != tt.want {
			t.Errorf("%v: Seq %d after a heartbeat, want %d", tt.level, got, tt.want)
		}
		if got := len(lines(t, out, buf)); uint64(got) != tt.want {
			t.Errorf("%v: %d records, want %d", tt.level, got, tt.want)
		}
	}
}
