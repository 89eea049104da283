package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/sink"
)

// failingWriter fails every write with ENOSPC while fail is set (a full
// disk), and keeps what it is given otherwise.
type failingWriter struct {
	mu   sync.Mutex
	fail bool
	buf  bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, syscall.ENOSPC
	}
	return w.buf.Write(p)
}

func (w *failingWriter) setFail(fail bool) {
	w.mu.Lock()
	w.fail = fail
	w.mu.Unlock()
}

func (w *failingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// healthzStatus serves /healthz of w as the metrics server does and
// returns its status and body.
func healthzStatus(t *testing.T, w *Watch) (int, string) {
	t.Helper()
	h := metrics.Handler(metrics.NewRegistry(w.metricsSnapshot), w.healthz)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return rec.Code, rec.Body.String()
}

// TestRunOutputFaults: a write failure becomes an output_error record,
// carried by the output once it takes writes again, and /healthz is 503
// meanwhile; the recovery is an output_recovered record with the records
// lost, /healthz is 200 again, and the output gap's hint names the errno
// rather than slowness.
func TestRunOutputFaults(t *testing.T) {
	fw := &failingWriter{fail: true}
	out := sink.New(fw, sink.Config{})
	type status struct {
		Code   int
		ENOSPC bool
	}
	var statuses []status
	var lt *loopTest
	check := func() {
		code, body := healthzStatus(t, lt.w)
		statuses = append(statuses, status{code, strings.Contains(body, "ENOSPC")})
	}
	lt = newLoopTest(t, Config{Out: output.Single(out)},
		read{before: func() {
			// The start and dump records fail to be written.
			if err := out.Flush(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Flush = %v, want ENOSPC", err)
			}
		}, events: newFlows(t, 100, 1)},
		read{before: func() {
			check() // the loop has seen the failure
			fw.setFail(false)
			if err := out.Flush(); err != nil {
				t.Errorf("Flush = %v after the disk has room", err)
			}
		}},
		read{before: check}, // the loop has seen the recovery
	)
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]status{{http.StatusServiceUnavailable, true}, {http.StatusOK, false}}, statuses); diff != "" {
		t.Errorf("/healthz (-want +got):\n%s", diff)
	}
	recs := fields(parseRecords(t, fw.String()), "level", "op", "errno", "lost", "lost_total", "hint", "torn")
	want := []map[string]any{
		{"event": "new", "level": "info"},
		{"event": "output_error", "level": "error", "op": "write", "errno": "ENOSPC", "lost_total": 2.0, "torn": false,
			"hint": "ENOSPC: disk full; free space on the output's file system"},
		{"event": "output_recovered", "level": "info", "op": "write", "errno": "ENOSPC", "lost": 2.0, "lost_total": 2.0},
		{"event": "gap", "level": "warn", "lost": 2.0, "lost_total": 2.0,
			"hint": "records were lost to write errors: ENOSPC: disk full; free space on the output's file system"},
		{"event": "stop", "level": "info", "lost": map[string]any{"kernel": 0.0, "output": 2.0}},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestOutputGapHint: records dropped because the output was behind keep
// the gap's hint about a faster destination; records lost to write errors
// since the last check get the errno's.
func TestOutputGapHint(t *testing.T) {
	got := outputGapHint(output.Stats{Dropped: 3, Overflow: 3}, 0)
	if got != "" {
		t.Errorf("outputGapHint of an overflow = %q, want none", got)
	}
	if got := outputGapHint(output.Stats{Dropped: 3, Failed: 3, LastErrno: syscall.EIO}, 1); !strings.HasPrefix(got, "EIO") {
		t.Errorf("outputGapHint of write errors = %q, want the EIO hint", got)
	}
}

// TestRunNetnsGone: once the watched namespace is gone, a netns_gone
// record, the tracked flows ended as inferred, a reconcile record with
// reason netns_gone, /healthz 503 and, by default, the watch ends with
// ErrNetnsGone; with NetnsGoneWait it goes on.
func TestRunNetnsGone(t *testing.T) {
	for _, policy := range []NetnsGonePolicy{NetnsGoneExit, NetnsGoneWait} {
		t.Run(policy.String(), func(t *testing.T) {
			var gone bool
			var checks int
			var lt *loopTest
			var code int
			lt = newLoopTest(t, Config{OnNetnsGone: policy, NetnsCheck: time.Second, Orphaned: func() (bool, error) {
				checks++
				return gone, nil
			}},
				read{events: newFlows(t, 100, 2)},
				read{before: func() {
					lt.clock.Advance(time.Second)
					if c, _ := healthzStatus(t, lt.w); c != http.StatusOK {
						t.Errorf("/healthz before: %d, want 200", c)
					}
				}},
				read{before: func() {
					gone = true
					lt.clock.Advance(time.Second)
				}},
				read{before: func() {
					code, _ = healthzStatus(t, lt.w)
					lt.clock.Advance(time.Second)
				}},
				read{},
			)
			sum, err := lt.run()
			want := []string{"start", "dump", "new", "new", "netns_gone", "destroy+flow+inferred", "destroy+flow+inferred", "reconcile+inferred", "stop"}
			wantChecks := 2
			if policy == NetnsGoneExit {
				if !errors.Is(err, ErrNetnsGone) {
					t.Fatalf("Run = %v, want ErrNetnsGone", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Run = %v, want nil: the watch waits", err)
				}
				if code != http.StatusServiceUnavailable {
					t.Errorf("/healthz once gone: %d, want 503", code)
				}
			}
			recs := lt.records()
			if diff := cmp.Diff(want, kinds(recs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if checks != wantChecks {
				t.Errorf("%d checks, want %d: none once gone", checks, wantChecks)
			}
			action := map[NetnsGonePolicy]string{NetnsGoneExit: "stop", NetnsGoneWait: "wait"}[policy]
			if diff := cmp.Diff([]map[string]any{{"event": "netns_gone", "flows_ended": 2.0, "action": action}},
				fields(recs[4:5], "flows_ended", "action")); diff != "" {
				t.Errorf("netns_gone record (-want +got):\n%s", diff)
			}
			if r := recs[7]; r["reason"] != "netns_gone" || r["inferred"] != 2.0 {
				t.Errorf("reconcile record %v, want reason netns_gone, 2 inferred", r)
			}
			if sum.Inferred != 2 {
				t.Errorf("%d inferred in the summary, want 2", sum.Inferred)
			}
		})
	}
}

func TestParseNetnsGonePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want NetnsGonePolicy
		ok   bool
	}{{"exit", NetnsGoneExit, true}, {"wait", NetnsGoneWait, true}, {"Exit", 0, false}, {"", 0, false}} {
		got, err := ParseNetnsGonePolicy(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseNetnsGonePolicy(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

// TestOutputFaultHealth: /healthz is unhealthy while writes or reopens
// fail, and healthy again once each recovers; a failed close of the rotated
// file is an event, not a state.
func TestOutputFaultHealth(t *testing.T) {
	lt := newLoopTest(t, Config{})
	w := lt.w
	w.counters.heartbeat.Store(lt.clock.Now().UnixNano()) // the loop is not stalled
	enoent := fmt.Errorf("reopen output: %w", syscall.ENOENT)
	steps := []struct {
		fault sink.Fault
		want  string // in the error; "" for healthy
	}{
		{sink.Fault{Op: "reopen", Path: "/x/ct.log", Err: enoent, Errno: syscall.ENOENT}, "ENOENT"},
		{sink.Fault{Op: "write", Path: "/x/ct.log", Err: syscall.EIO, Errno: syscall.EIO}, "EIO"}, // writes failing matter most
		{sink.Fault{Op: "reopen", Path: "/x/ct.log"}, "EIO"},
		{sink.Fault{Op: "write", Path: "/x/ct.log"}, ""},
		{sink.Fault{Op: "close", Path: "/x/ct.log", Err: syscall.EIO, Errno: syscall.EIO}, ""},
	}
	for i, s := range steps {
		w.outputFault(s.fault)
		err := w.healthz()
		switch {
		case s.want == "" && err != nil:
			t.Errorf("step %d: healthz = %v, want healthy", i, err)
		case s.want != "" && (err == nil || !strings.Contains(err.Error(), s.want)):
			t.Errorf("step %d: healthz = %v, want an error naming %s", i, err, s.want)
		}
	}
	recs := fields(lt.records(), "op", "errno")
	want := []map[string]any{
		{"event": "output_error", "op": "reopen", "errno": "ENOENT"},
		{"event": "output_error", "op": "write", "errno": "EIO"},
		{"event": "output_recovered", "op": "reopen"},
		{"event": "output_recovered", "op": "write", "errno": "EIO"},
		{"event": "output_error", "op": "close", "errno": "EIO"},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestNetnsTimerWatched: while the removal of the namespace's name is
// watched, the periodic check runs only every watchedNetnsCheck
// NetnsCheck (and the loop's wait is not cut short for it), a removal
// notification has it run at once, and after that the check runs every
// NetnsCheck again.
func TestNetnsTimerWatched(t *testing.T) {
	var checks int
	lt := newLoopTest(t, Config{NetnsCheck: time.Second, Orphaned: func() (bool, error) {
		checks++
		return false, nil
	}})
	w := lt.w
	w.gone.armed = true
	start := lt.clock.Now()
	tm := loopTimers{loss: start, expire: start, heartbeat: start, netns: start, lossMark: w.activity()}
	type step struct {
		At     time.Duration // since start
		Notify bool          // the name's removal was seen
		Checks int           // checks so far
		Wait   time.Duration // until the deadline nextDue gives
	}
	var got []step
	for _, s := range []step{
		{At: time.Second},
		{At: 14 * time.Second},
		{At: 15 * time.Second},
		{At: 16 * time.Second, Notify: true},
		{At: 17 * time.Second},
	} {
		now := start.Add(s.At)
		if s.Notify {
			w.gone.due.Store(true)
		}
		if err := w.netnsTimer(now, &tm); err != nil {
			t.Fatal(err)
		}
		s.Checks, s.Wait = checks, w.nextDue(now, &tm).Sub(now)
		got = append(got, s)
	}
	want := []step{
		{At: time.Second, Checks: 0, Wait: maxWait},
		{At: 14 * time.Second, Checks: 0, Wait: time.Second},
		{At: 15 * time.Second, Checks: 1, Wait: maxWait},
		// The notification disarms the watch: NetnsCheck from now on.
		{At: 16 * time.Second, Notify: true, Checks: 2, Wait: time.Second},
		{At: 17 * time.Second, Checks: 3, Wait: time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks and waits (-want +got):\n%s", diff)
	}
}

// wakeSource is a fakeSource whose Wake is seen.
type wakeSource struct {
	fakeSource
	woken chan struct{}
}

func (s *wakeSource) Wake() {
	select {
	case s.woken <- struct{}{}:
	default:
	}
}

// TestOutputFaultWakes: an output's fault ends the loop's wait at once
// (the source is woken), so that its record does not wait for the next
// turn, and the fault is there for drainFaults to take.
func TestOutputFaultWakes(t *testing.T) {
	fw := &failingWriter{fail: true}
	out := output.Single(sink.New(fw, sink.Config{}))
	lt := newLoopTest(t, Config{Out: out})
	src := &wakeSource{woken: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lt.w.wakeOn(ctx, src)

	out.Write([]byte("{}\n"))
	if err := out.Flush(ctx); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush = %v, want ENOSPC", err)
	}
	select {
	case <-src.woken:
	case <-time.After(10 * time.Second):
		t.Fatal("the output's fault did not wake the source")
	}
	var got []string
	out.DrainFaults(func(f sink.Fault) { got = append(got, f.Op) })
	if diff := cmp.Diff([]string{"write"}, got); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
}

// TestBoundRead: a stats reading is bounded by the health interval, at
// least minStatsTimeout, so that its timer expires with the next reading's
// tick rather than on a wake-up of its own.
func TestBoundRead(t *testing.T) {
	for _, tt := range []struct {
		interval, want time.Duration
	}{
		{10 * time.Second, 10 * time.Second},
		{time.Minute, time.Minute},
		{10 * time.Millisecond, minStatsTimeout},
	} {
		w := &Watch{cfg: Config{Health: health.Config{Interval: tt.interval}}}
		var bound time.Duration
		before := time.Now()
		w.boundRead(func(ctx context.Context) (ctstat.Reading, error) {
			d, ok := ctx.Deadline()
			if !ok {
				t.Errorf("interval %v: the reading has no deadline", tt.interval)
			}
			bound = d.Sub(before)
			return ctstat.Reading{}, nil
		})(context.Background())
		// The deadline is set after before, by at most the time this took.
		if bound < tt.want || bound > tt.want+time.Since(before) {
			t.Errorf("interval %v: reading bounded by %v, want %v", tt.interval, bound, tt.want)
		}
	}
}

// TestHealthRecordsNoActivity: the health monitor's records leave the
// loop's activity mark where it was, so an idle watch's periodic readings
// do not wake it for a loss check, while any other record moves it.
func TestHealthRecordsNoActivity(t *testing.T) {
	lt := newLoopTest(t, Config{})
	w := lt.w
	before := w.activity()
	w.healthRecord(func() { w.rec.StatsError(errors.New("no reading")) })
	if got := w.activity(); got != before {
		t.Errorf("activity moved from %d to %d on a health record", before, got)
	}
	w.rec.StatsError(errors.New("the loop's own record"))
	if got := w.activity(); got == before {
		t.Errorf("activity stayed %d after another record", got)
	}
	if recs := lt.records(); len(recs) != 2 {
		t.Errorf("%d records written, want 2: %v", len(recs), recs)
	}
}
