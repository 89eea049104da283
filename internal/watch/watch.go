package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/internal/origins"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/sysctl"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// ErrOutputGone is returned by Run when output became impossible for good,
// such as when the reader of `ctwatch watch | head` went away.
var ErrOutputGone = errors.New("output is gone")

// shutdownFlush bounds the final flush, so that a stop takes at most about a
// second even when output is blocked.
const shutdownFlush = 500 * time.Millisecond

// Watch is one run of the watch pipeline.
type Watch struct {
	cfg      Config
	counters Counters
	origins  *origins.Resolver
	tracker  *flow.Tracker
	monitor  *health.Monitor // nil when off; owned by healthLoop
	rec      *record.Encoder

	// Owned by the loop goroutine.
	fd          int
	res         flow.Result // long-lived, so that its parts marshal without escaping
	textBuf     []byte
	last        lossReading
	ctEvents    int64 // nf_conntrack_events, -1 when unknown
	reconciled  time.Time
	dumpTook    time.Duration // how long the last dump took
	needRecon   bool
	evictedSeen uint64
}

// lossReading is the loss counters at the last check.
type lossReading struct{ kernel, queue, output, enobufs uint64 }

// New returns a watch; Run starts it.
func New(cfg Config) *Watch {
	cfg.withDefaults()
	return &Watch{
		cfg:      cfg,
		origins:  origins.New(cfg.NS),
		tracker:  flow.New(cfg.Flow),
		rec:      record.New(record.Config{Log: cfg.Log, Clock: cfg.Clock}),
		ctEvents: -1,
	}
}

// Counters returns the watch's running totals, which any goroutine may read
// while it runs.
func (w *Watch) Counters() *Counters { return &w.counters }

// Run watches until ctx ends or output is gone for good (ErrOutputGone),
// and returns the final counters. A stop flushes the output, bounded to
// well under a second, and writes a "stop" record with the totals.
func (w *Watch) Run(ctx context.Context) (Summary, error) {
	cfg := &w.cfg
	w.fd = cfg.NS.FD()
	sub, err := events.Subscribe(events.Config{
		NetNS:      w.fd,
		Types:      cfg.Types,
		BufferSize: cfg.BufferSize,
		Clock:      cfg.Clock,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("subscribe to conntrack events: %w", err)
	}
	defer sub.Close()
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = listenMetrics(cfg.MetricsAddr); err != nil {
			return Summary{}, err
		}
	}
	if v, err := sysctl.ReadInt(cfg.NS, "net.netfilter.nf_conntrack_events"); err == nil {
		w.ctEvents = v
	}
	w.logStart(sub)
	w.counters.heartbeat.Store(cfg.Clock().UnixNano())

	// The health monitor and the metrics server run beside the loop and
	// stop with it.
	sideCtx, stopSide := context.WithCancel(ctx)
	defer stopSide()
	side, sideCtx := errgroup.WithContext(sideCtx)
	if cfg.Health.Interval > 0 {
		w.monitor = w.newMonitor()
		side.Go(func() error { w.healthLoop(sideCtx); return nil })
	}
	if metricsLn != nil {
		reg := metrics.NewRegistry(w.metricsSnapshot)
		side.Go(func() error { return metrics.ServeListener(sideCtx, metricsLn, reg, w.healthz) })
	}

	defer w.origins.Close()
	w.startupDump(ctx)

	// The loop is the reader: it receives a batch (waiting at most the
	// subscriber's receive timeout), handles it, and runs its timers,
	// all on one goroutine. Handing batches from a reading goroutine to
	// a processing one cost more than the processing itself (a netpoller
	// wake-up, an empty read and a goroutine switch per batch); the
	// socket's buffer is the queue, and its drops are counted exactly.
	b := events.NewBatch()
	readSize := sub.ReadSize()
	start := cfg.Clock()
	t := loopTimers{loss: start, expire: start, reconcile: start}
	var runErr error
loop:
	for {
		now := cfg.Clock()
		w.counters.heartbeat.Store(now.UnixNano())
		if ctx.Err() != nil {
			break
		}
		select {
		case <-sideCtx.Done():
			// The metrics server failed (ctx itself is checked above).
			if ctx.Err() == nil {
				runErr = side.Wait()
			}
			break loop
		case <-cfg.Reopen:
			cfg.Out.Reopen()
		case <-cfg.Out.Done():
			runErr = fmt.Errorf("%w: %w", ErrOutputGone, cfg.Out.Err())
			break loop
		default:
		}
		w.timers(ctx, now, &t, sub, b)
		if err := sub.Receive(b, true); err != nil {
			runErr = fmt.Errorf("read conntrack events: %w", err)
			break
		}
		n := len(b.Events) + len(b.Failures)
		w.batch(b)
		switch {
		case n > 0 && n < readSize && cfg.Coalesce > 0:
			// The rest of the burst is on its way: take it in one read.
			time.Sleep(cfg.Coalesce)
		case n == readSize:
			// Behind: the loop will not block until it catches up. Let
			// the sink's writer have the processor meanwhile (pinned to
			// one CPU, it would get it only when the loop is preempted,
			// every 10 ms, and its buffers would fill and drop records).
			// This shares the CPU; it never waits for the output.
			runtime.Gosched()
		}
	}

	// What reached the socket before the stop is handled, not dropped with
	// the socket; a steady flow cannot hold the stop up.
	if runErr == nil {
		w.drain(sub, b)
	}
	stopSide()
	if err := side.Wait(); err != nil && runErr == nil && ctx.Err() == nil {
		runErr = err
	}
	w.checkLoss(sub.Stats())
	totals := w.summary().totals()
	w.rec.Stop(&totals)
	w.flush()
	// Records dropped by the final flush are only in the summary.
	w.counters.LostOutput.Store(cfg.Out.Stats().Dropped)
	return w.summary(), runErr
}

// drainTime bounds a drain of the socket.
const drainTime = 250 * time.Millisecond

// drain handles what the socket holds, without waiting for more, for at
// most drainTime: a steady flow of events cannot hold it up.
func (w *Watch) drain(sub *events.Subscriber, b *events.Batch) {
	until := time.Now().Add(drainTime)
	for time.Now().Before(until) {
		if err := sub.Receive(b, false); err != nil || len(b.Events)+len(b.Failures) == 0 {
			return
		}
		w.batch(b)
	}
}

// loopTimers are when the loop last ran each of its periodic jobs.
type loopTimers struct {
	loss, expire, reconcile time.Time
}

// timers runs the loop's periodic jobs that are due: loss checks (and a
// reconciliation after a loss), the unreplied detector, and the periodic
// reconciliation under nf_conntrack_events=2. The loop wakes at least every
// receive timeout, so each runs within that of its time.
func (w *Watch) timers(ctx context.Context, now time.Time, t *loopTimers, sub *events.Subscriber, b *events.Batch) {
	cfg := &w.cfg
	if now.Sub(t.loss) >= cfg.LossInterval {
		t.loss = now
		w.checkLoss(sub.Stats())
		if w.needRecon && cfg.ReconcileInterval > 0 && now.Sub(w.reconciled) >= w.reconcileSpacing() {
			w.reconcile(ctx, "gap", sub, b)
			t.reconcile = now
		}
	}
	if now.Sub(t.expire) >= cfg.ExpireInterval {
		t.expire = now
		w.tracker.Expire(now, w.unreplied)
	}
	if w.ctEvents == 2 && cfg.ReconcileInterval > 0 && now.Sub(t.reconcile) >= cfg.ReconcileInterval {
		t.reconcile = now
		w.reconcile(ctx, "periodic", sub, b)
	}
}

// summary is the counters with the tracker's.
func (w *Watch) summary() Summary {
	s := w.counters.Summary()
	ts := w.tracker.Stats()
	s.UnrepliedWarnings = ts.UnrepliedWarnings
	s.FlowsEvicted = ts.Evicted
	s.Inferred = ts.Inferred
	return s
}

// flush writes out what the sink holds, giving up after shutdownFlush.
func (w *Watch) flush() {
	done := make(chan struct{})
	go func() {
		// The error is already counted in the sink's stats.
		_ = w.cfg.Out.Flush()
		close(done)
	}()
	t := time.NewTimer(shutdownFlush)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// logStart writes the "start" record.
func (w *Watch) logStart(sub *events.Subscriber) {
	cfg := &w.cfg
	var filter string
	if cfg.Filter != nil {
		filter = cfg.Filter.String()
	}
	w.rec.Start(&record.Start{
		Version:         cfg.Version,
		NetNS:           cfg.NS.String(),
		Events:          cfg.Types.String(),
		BufferRequested: cfg.BufferSize,
		BufferSize:      sub.BufferSize(),
		Filter:          filter,
		Text:            cfg.Format == FormatText,
		Updates:         cfg.Updates.String(),
		MaxFlows:        cfg.Flow.MaxFlows,
		UnrepliedAfter:  cfg.Flow.UnrepliedAfter,
		CTEvents:        w.ctEvents,
	})
	switch w.ctEvents {
	case 0:
		w.rec.EventsDisabled()
	case 2:
		w.rec.EventsOnDemand()
	}
}

// startupDump streams the table into the tracker and, with Snapshot, into
// snapshot records. A failed dump is reported and the watch goes on: the
// live stream does not depend on it.
func (w *Watch) startupDump(ctx context.Context) {
	cfg := &w.cfg
	start := cfg.Clock()
	dctx, cancel := context.WithTimeout(ctx, cfg.DumpTimeout)
	defer cancel()
	var n uint64
	err := events.Dump(dctx, w.fd, func(ev *model.Event) bool {
		n++
		w.tracker.Seed(ev)
		if cfg.Snapshot {
			w.entry(ev, false)
		}
		return true
	})
	w.reconciled = cfg.Clock()
	w.dumpTook = w.reconciled.Sub(start)
	w.counters.Snapshot.Store(n)
	w.counters.Tracked.Store(int64(w.tracker.Len()))
	w.rec.Dump(&record.Dump{Entries: n, Took: cfg.Clock().Sub(start), Err: err})
}

// reconcileSpacing is how long after the last dump a loss may trigger the
// next: at once in practice, but never more than a tenth of the time on
// dumping, so that a big table under sustained overrun is not dumped
// back to back.
func (w *Watch) reconcileSpacing() time.Duration {
	return max(time.Second, 10*w.dumpTook)
}

// reconcile compares the tracker with a fresh dump: flows that vanished
// without a DESTROY get an inferred one. Between the dump and the sweep it
// handles the events the socket holds (with b): a DESTROY queued while the
// dump ran ends its flow as reported, not as inferred.
func (w *Watch) reconcile(ctx context.Context, why string, sub *events.Subscriber, b *events.Batch) {
	cfg := &w.cfg
	start := cfg.Clock()
	w.reconciled, w.needRecon = start, false
	dctx, cancel := context.WithTimeout(ctx, cfg.DumpTimeout)
	defer cancel()
	var n uint64
	var dumpErr error
	inferredBefore := w.tracker.Stats().Inferred
	w.tracker.BeginReconcile(func(yield func(*model.Entry) bool) {
		dumpErr = events.Dump(dctx, w.fd, func(ev *model.Event) bool {
			n++
			return yield(&ev.Entry)
		})
	}, start)
	w.drain(sub, b)
	w.tracker.EndReconcile(w.inferred)
	w.dumpTook = cfg.Clock().Sub(start)
	w.rec.Reconcile(&record.Reconcile{
		Reason:   why,
		Entries:  n,
		Inferred: w.tracker.Stats().Inferred - inferredBefore,
		Took:     cfg.Clock().Sub(start),
		Err:      dumpErr,
	})
	w.counters.Tracked.Store(int64(w.tracker.Len()))
}

// batch handles one batch from the reader and releases it.
func (w *Watch) batch(b *events.Batch) {
	for i := range b.Failures {
		w.decodeFailure(&b.Failures[i])
	}
	for i := range b.Events {
		ev := &b.Events[i]
		if int(ev.Type) < len(w.counters.Received) {
			w.counters.Received[ev.Type].Add(1)
		}
		w.event(ev)
	}
	b.Release()
	w.counters.Tracked.Store(int64(w.tracker.Len()))
}

// event handles one live event: it tracks it, then writes what it meant.
func (w *Watch) event(ev *model.Event) {
	cfg := &w.cfg
	w.res = w.tracker.Observe(ev)
	if w.res.Ended != nil {
		w.inferred(*w.res.Ended)
	}
	switch {
	case ev.Type == model.EventNew && w.res.Merged && cfg.Snapshot:
		// Its snapshot record is already written.
		w.counters.Merged.Add(1)
		return
	case ev.Type == model.EventUpdate && cfg.Updates == UpdatesNone,
		ev.Type == model.EventUpdate && cfg.Updates == UpdatesChanges && !w.res.Changed:
		w.counters.Suppressed.Add(1)
		return
	}
	w.entry(ev, true)
}

// entry writes an entry record if the filter selects it; tracked adds the
// tracker's view of it (w.res).
func (w *Watch) entry(ev *model.Event, tracked bool) {
	cfg := &w.cfg
	if cfg.Filter != nil && !cfg.Filter.Match(ev) {
		w.counters.Filtered.Add(1)
		return
	}
	if ev.Origin.PortID != 0 && ev.Origin.Program == "" {
		ev.Origin.PID, ev.Origin.Program = w.origins.Resolve(ev.Origin.PortID)
	}
	w.counters.Written.Add(1)
	if cfg.Format == FormatText {
		w.textBuf = w.rec.AppendText(w.textBuf[:0], ev, &cfg.Text)
		// The sink never fails a record: it drops and counts.
		_, _ = cfg.Out.Write(w.textBuf)
		return
	}
	var res *flow.Result
	if tracked {
		res = &w.res
	}
	w.rec.Entry(ev, res)
}

// inferred writes a flow's end that no DESTROY announced, as a DESTROY
// record marked inferred. With text output it goes beside the stream, not
// into it: conntrack -E never prints one.
func (w *Watch) inferred(in flow.Inferred) {
	ev := in.Event()
	if w.cfg.Filter != nil && !w.cfg.Filter.Match(&ev) {
		w.counters.Filtered.Add(1)
		return
	}
	w.rec.Inferred(&in)
}

// unreplied writes the detector's warning about a flow still unanswered.
func (w *Watch) unreplied(u flow.Unreplied) {
	ev := model.Event{Type: model.EventUpdate, Time: u.Time, Entry: u.Entry}
	if w.cfg.Filter != nil && !w.cfg.Filter.Match(&ev) {
		return
	}
	w.rec.Unreplied(&u)
}

// decodeFailure reports a message that could not be decoded; its bytes go
// into the record only at debug level.
func (w *Watch) decodeFailure(f *events.DecodeFailure) {
	w.counters.DecodeErrors.Add(1)
	w.rec.DecodeError(f.Err, f.Raw)
}

// checkLoss writes a gap record for each loss counter that grew, and an
// eviction record when the tracker had to forget flows.
func (w *Watch) checkLoss(st events.Stats) {
	now := lossReading{
		kernel:  st.KernelDrops,
		queue:   st.QueueDropped,
		output:  w.cfg.Out.Stats().Dropped,
		enobufs: st.ENOBUFS,
	}
	last := w.last
	w.last = now
	w.counters.LostKernel.Store(now.kernel)
	w.counters.LostQueue.Store(now.queue)
	w.counters.LostOutput.Store(now.output)
	if now.kernel > last.kernel || now.enobufs > last.enobufs {
		w.gap(&record.Gap{Stage: record.StageKernel, Lost: now.kernel - last.kernel, Total: now.kernel,
			ENOBUFS: now.enobufs - last.enobufs})
		w.needRecon = true
	}
	if now.output > last.output {
		w.gap(&record.Gap{Stage: record.StageOutput, Lost: now.output - last.output, Total: now.output})
	}
	if ev := w.tracker.Stats().Evicted; ev > w.evictedSeen {
		w.rec.FlowsEvicted(&record.FlowsEvicted{Evicted: ev - w.evictedSeen, Total: ev, MaxFlows: w.cfg.Flow.MaxFlows})
		w.evictedSeen = ev
	}
}

// gap writes a gap record: lost events (kernel) or records (output) since
// the last one.
func (w *Watch) gap(g *record.Gap) {
	w.counters.Gaps.Add(1)
	w.rec.Gap(g)
}
