package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The loop's world, faked: a clock that moves only when told, an event
// source that plays a script, a table the dumps list, and a resolver of
// origins. Run itself is the real one.

// fakeClock is a clock that advances only when a test (or a fake acting for
// the world) says so. The metrics server may read it from its goroutine.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// read is one scripted Receive: before runs first, on the loop goroutine
// (to move the clock, grow the drop counter, change the table, cancel the
// watch), then the batch returns these events and failures, or err.
type read struct {
	before   func()
	events   []model.Event
	failures []events.DecodeFailure
	err      error
}

// fakeSource plays its reads in order, one per Receive. Once they are
// played, every Receive calls idle (by default: stop the watch) and returns
// what idle put into the batch. Events without a time are stamped with the
// clock, as the subscriber stamps them. Only the loop goroutine calls it.
type fakeSource struct {
	clock    *fakeClock
	reads    []read
	idle     func(b *events.Batch)
	readSize int
	stats    events.Stats
	waits    []bool // the wait argument of each Receive
	// deadlines are those of each ReceiveUntil.
	deadlines []time.Time
}

func (s *fakeSource) Receive(b *events.Batch, wait bool) error {
	s.waits = append(s.waits, wait)
	b.Events, b.Failures = b.Events[:0], b.Failures[:0]
	if len(s.reads) == 0 {
		s.idle(b)
		return nil
	}
	r := s.reads[0]
	s.reads = s.reads[1:]
	if r.before != nil {
		r.before()
	}
	if r.err != nil {
		return r.err
	}
	now := s.clock.Now()
	for _, ev := range r.events {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		b.Events = append(b.Events, ev)
	}
	b.Failures = append(b.Failures, r.failures...)
	return nil
}

func (s *fakeSource) ReceiveUntil(b *events.Batch, deadline time.Time) error {
	s.deadlines = append(s.deadlines, deadline)
	return s.Receive(b, true)
}

func (s *fakeSource) Wake() {}

func (s *fakeSource) Stats() events.Stats { return s.stats }
func (s *fakeSource) ReadSize() int       { return s.readSize }
func (s *fakeSource) BufferSize() int     { return 425984 }

// drains counts the Receives that did not wait: those of a drain.
func (s *fakeSource) drains() int {
	n := 0
	for _, w := range s.waits {
		if !w {
			n++
		}
	}
	return n
}

// fakeTable is the conntrack table the dumps list: each dump streams its
// entries as snapshot events stamped with the clock, then moves the clock on
// by took, and returns err.
type fakeTable struct {
	clock   *fakeClock
	mu      sync.Mutex
	entries []model.Event
	took    time.Duration
	err     error
	dumps   int
	// filters are the kernel filters the dumps were given, in order.
	filters []events.DumpFilter
}

func (f *fakeTable) set(entries ...model.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = entries
}

func (f *fakeTable) dump(ctx context.Context, df events.DumpFilter, fn func(*model.Event) bool) error {
	f.mu.Lock()
	entries, err := f.entries, f.err
	f.dumps++
	f.filters = append(f.filters, df)
	f.mu.Unlock()
	dumpEntries(entries, f.clock.Now(), fn)
	f.clock.Advance(f.took)
	return err
}

// dumpEntries gives fn each of entries as a dump would, a snapshot at
// now, until fn returns false.
func dumpEntries(entries []model.Event, now time.Time, fn func(*model.Event) bool) {
	for _, e := range entries {
		ev := e
		ev.Type, ev.Time = model.EventSnapshot, now
		if !fn(&ev) {
			return
		}
	}
}

func (f *fakeTable) dumpCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dumps
}

// fakeOrigins resolves every port id but unknown to one program.
type fakeOrigins struct {
	closed  bool
	unknown uint32
}

func (o *fakeOrigins) Resolve(portid uint32, _ time.Time) (int32, string) {
	if portid == o.unknown {
		return 0, ""
	}
	return int32(portid) + 1000, "conntrack"
}
func (o *fakeOrigins) Close() error { o.closed = true; return nil }

// loopTest is a Watch wired to the fakes, writing JSON into a buffer
// through the real sink.
type loopTest struct {
	t       *testing.T
	w       *Watch
	out     *output.Set
	buf     *bytes.Buffer
	clock   *fakeClock
	src     *fakeSource
	table   *fakeTable
	origins *fakeOrigins
	sleeps  []time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
}

// newLoopTest builds the watch; cfg.Out, when set, replaces the buffer's
// sink. Its sysctl reads give nf_conntrack_events=1 unless cfg says
// otherwise.
func newLoopTest(t *testing.T, cfg Config, reads ...read) *loopTest {
	t.Helper()
	lt := &loopTest{t: t, clock: newFakeClock(), origins: &fakeOrigins{}}
	lt.ctx, lt.cancel = context.WithCancel(context.Background())
	t.Cleanup(lt.cancel)
	lt.src = &fakeSource{clock: lt.clock, reads: reads, readSize: 64, idle: func(*events.Batch) { lt.cancel() }}
	lt.table = &fakeTable{clock: lt.clock}
	if cfg.Out == nil {
		lt.buf = &bytes.Buffer{}
		cfg.Out = output.Single(sink.New(lt.buf, sink.Config{}))
	}
	lt.out = cfg.Out
	t.Cleanup(func() { lt.out.Close() })
	cfg.Log = zerolog.New(cfg.Out)
	cfg.Clock = lt.clock.Now
	cfg.Run, cfg.Host = testRun, testHost
	cfg.Source = lt.src
	cfg.Dump = lt.table.dump
	cfg.Origins = lt.origins
	cfg.Sleep = func(d time.Duration) {
		lt.sleeps = append(lt.sleeps, d)
		lt.clock.Advance(d)
	}
	if cfg.ReadSysctl == nil {
		cfg.ReadSysctl = func(string) (int64, error) { return 1, nil }
	}
	lt.w = New(cfg)
	return lt
}

// run runs the watch to its end and returns its result.
func (lt *loopTest) run() (Summary, error) {
	lt.t.Helper()
	return lt.w.Run(lt.ctx)
}

// records returns the records written to the buffer.
func (lt *loopTest) records() []map[string]any {
	lt.t.Helper()
	return lines(lt.t, lt.out, lt.buf)
}

// parseRecords parses JSON lines.
func parseRecords(t testing.TB, s string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		recs = append(recs, r)
	}
	return recs
}

// fields keeps of each record its event name and those of keys it has; a
// key "a.b" reaches into an object.
func fields(recs []map[string]any, keys ...string) []map[string]any {
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		m := map[string]any{"event": r["event"]}
		for _, k := range keys {
			var v any = r
			for _, part := range strings.Split(k, ".") {
				o, _ := v.(map[string]any)
				v = o[part]
			}
			if v != nil {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// udpNew is the NEW event of an unreplied UDP flow from sport, without a
// time (the source stamps it).
func udpNew(t testing.TB, sport int) model.Event {
	t.Helper()
	return parse(t, udpLine("NEW", sport, "[UNREPLIED] "))[0]
}

// udpLine is a conntrack -E line of a UDP flow from sport to port 53;
// mid goes between the two tuples ("[UNREPLIED] " or "").
func udpLine(typ string, sport int, mid string) string {
	tag := map[string]string{"NEW": "    [NEW]", "UPDATE": " [UPDATE]", "DESTROY": "[DESTROY]"}[typ]
	timeout := " 30"
	if typ == "DESTROY" {
		timeout = ""
	}
	return tag + " udp      17" + timeout + " src=10.0.0.1 dst=10.0.0.2 sport=" + strconv.Itoa(sport) + " dport=53 " + mid +
		"src=10.0.0.2 dst=10.0.0.1 sport=53 dport=" + strconv.Itoa(sport) + " id=" + strconv.Itoa(sport)
}

// udpEntry is an entry of a replied UDP flow from sport, as a dump lists it.
func udpEntry(t testing.TB, sport int) model.Event {
	t.Helper()
	return parse(t, udpLine("UPDATE", sport, ""))[0]
}
