package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// ErrOutputGone is returned by Run when output became impossible for good,
// such as when the reader of `ctwatch watch | head` went away.
var ErrOutputGone = errors.New("output is gone")

// shutdownFlush bounds the final flush, so that a stop takes at most about a
// second even when output is blocked.
const shutdownFlush = 500 * time.Millisecond

// StartError is Run's error when the watch could not begin (the
// subscription or the metrics listener failed): nothing was watched, so
// there is no summary to give.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// Run watches until ctx ends or output is gone for good (ErrOutputGone),
// and returns the final counters. A stop flushes the output, bounded to
// well under a second, and writes a "stop" record with the totals.
func (w *Watch) Run(ctx context.Context) (Summary, error) {
	cfg := &w.cfg
	defer cfg.Origins.Close()
	w.runCtx = ctx
	if err := w.compileKernelFilter(); err != nil {
		return Summary{}, &StartError{err}
	}
	src := cfg.Source
	if src == nil {
		sub, err := events.Subscribe(events.Config{
			NetNS:      cfg.NS.FD(),
			Types:      cfg.Types,
			BufferSize: cfg.BufferSize,
			Clock:      cfg.Clock,
			Labels:     cfg.Labels,
			AllNetNS:   cfg.multi(),
			Filter:     w.kprog,
		})
		if err != nil {
			return Summary{}, &StartError{fmt.Errorf("subscribe to conntrack events: %w", err)}
		}
		defer sub.Close()
		src = sub
	}
	if err := w.startNetNS(); err != nil {
		return Summary{}, &StartError{err}
	}
	defer w.closeNetNS()
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		var err error
		if metricsLn, err = listenMetrics(cfg.MetricsAddr); err != nil {
			return Summary{}, &StartError{err}
		}
		w.metricsAddr = metricsLn.Addr().String()
	}
	if v, err := cfg.ReadSysctl("net.netfilter.nf_conntrack_events"); err == nil {
		w.ctEvents = v
	}
	w.started = cfg.Clock()
	w.logStart(src)
	w.counters.heartbeat.Store(w.started.UnixNano())

	// The health monitor and the metrics server run beside the loop and
	// stop with it.
	sideCtx, stopSide := context.WithCancel(ctx)
	defer stopSide()
	side, sideCtx := errgroup.WithContext(sideCtx)
	switch {
	case cfg.Health.Interval > 0 && w.ns != nil:
		side.Go(func() error { w.healthLoopNetNS(sideCtx); return nil })
	case cfg.Health.Interval > 0:
		w.monitor = w.newMonitor()
		side.Go(func() error { w.healthLoop(sideCtx); return nil })
	}
	if cfg.AllNetNS {
		// Discovery runs beside the loop; the loop takes what it found at
		// every turn, never waiting for it.
		disc := cfg.Discovery
		w.discovery = disc.Events()
		side.Go(func() error {
			if err := disc.Run(sideCtx); err != nil && sideCtx.Err() == nil {
				return fmt.Errorf("namespace discovery: %w", err)
			}
			return nil
		})
	}
	if metricsLn != nil {
		reg := metrics.NewRegistry(w.metricsSnapshot)
		side.Go(func() error { return metrics.ServeListener(sideCtx, metricsLn, reg, w.healthz) })
	}

	switch {
	case w.ns == nil:
		w.startupDump(ctx)
	case w.ns.fixed:
		w.dumpNetNSSet(ctx)
	default:
		// Each namespace is dumped as discovery reports it.
		w.reconciled = cfg.Clock()
	}

	// The loop is the reader: it receives a batch (waiting at most until
	// its next timer is due), handles it, and runs its timers,
	// all on one goroutine. Handing batches from a reading goroutine to
	// a processing one cost more than the processing itself (a netpoller
	// wake-up, an empty read and a goroutine switch per batch); the
	// socket's buffer is the queue, and its drops are counted exactly.
	b := events.NewBatch()
	readSize := src.ReadSize()
	t := loopTimers{loss: w.started, expire: w.started, heartbeat: w.started, netns: w.started}
	// The loop waits in the source until its next timer is due: a stop,
	// the output's end, a reopen request and a namespace discovered end
	// the wait at once.
	w.wakeOn(sideCtx, src)
	w.watchNetns(sideCtx, src)
	var runErr error
	var lastEvents time.Time
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
		case <-cfg.Out.Done():
			runErr = fmt.Errorf("%w: %w", ErrOutputGone, cfg.Out.Err())
			break loop
		default:
		}
		w.drainFaults()
		w.takeDiscovery(ctx)
		if err := w.netnsTimer(now, &t); err != nil {
			runErr = err
			break
		}
		w.timers(ctx, now, &t, src, b)
		if err := src.ReceiveUntil(b, w.nextDue(now, &t)); err != nil {
			runErr = fmt.Errorf("read conntrack events: %w", err)
			break
		}
		n := len(b.Events) + len(b.Expects) + len(b.Failures)
		if n == 0 {
			continue
		}
		// When the events came, without a clock read of its own: the
		// kernel's timestamp, or the receive time.
		arrived := now
		if len(b.Events) > 0 {
			arrived = b.Events[len(b.Events)-1].Time
		}
		w.batch(b)
		quiet := !busy(arrived, lastEvents, cfg.Coalesce)
		lastEvents = arrived
		switch {
		case n < readSize && cfg.Coalesce > 0 && !quiet:
			// Events keep coming: let the rest of the burst in, to take
			// it in one read. An event after a pause is handled at once,
			// without a timer's wake-up of its own.
			cfg.Sleep(cfg.Coalesce)
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
		w.drain(src, b)
	}
	stopSide()
	if err := side.Wait(); err != nil && runErr == nil && ctx.Err() == nil {
		runErr = err
	}
	w.drainFaults()
	// Every unreplied flow is reported: those of the interval under way
	// that were beyond its burst in one last summary.
	w.tracker.FlushSummary(cfg.Clock(), w.emitSummary)
	w.publishTracker()
	w.checkLoss(src.Stats())
	// The stop record says what each output took: only what is out by
	// then counts as written.
	flushed := w.flush()
	totals := w.summary().totals()
	for _, o := range cfg.Out.Stats() {
		totals.Outputs = append(totals.Outputs, record.OutputTotal{
			Name: o.Name, Written: o.Records, Dropped: o.Dropped, Queued: uint64(o.Queued)})
	}
	w.netnsTotals(&totals)
	w.rec.Stop(&totals)
	if flushed {
		// An output still blocked would only spend the budget again.
		w.flush()
	}
	w.counters.LostOutput.Store(cfg.Out.Total().Dropped)
	return w.summary(), runErr
}

// busy reports whether events that arrived at at came within gap of the
// previous ones, at last: a rate at which a pause of gap gathers more of
// them into the next read.
func busy(at, last time.Time, gap time.Duration) bool {
	return !last.IsZero() && at.Sub(last) < gap
}

// drain bounds a drain of the source, in time (on Config.Clock) and in
// reads, so that a steady flow of events cannot hold it up.
const (
	drainTime  = 250 * time.Millisecond
	drainReads = 1024
)

// drain handles what the source holds, without waiting for more, for at
// most drainTime or drainReads reads.
func (w *Watch) drain(src Source, b *events.Batch) {
	until := w.cfg.Clock().Add(drainTime)
	for range drainReads {
		if !w.cfg.Clock().Before(until) {
			return
		}
		if err := src.Receive(b, false); err != nil || len(b.Events)+len(b.Expects)+len(b.Failures) == 0 {
			return
		}
		w.batch(b)
	}
}

// loopTimers are when the loop last ran each of its periodic jobs, and the
// activity marks (Watch.activity) of the last loss check and namespace
// count.
type loopTimers struct {
	loss, expire, heartbeat, netns, nsCount time.Time
	lossMark, nsCountMark                   uint64
}

// maxWait bounds the loop's wait when no timer is due. Nothing needs it
// (every job has its deadline in nextDue; stops, output faults, reopens
// and namespaces wake the wait), but a bound keeps a missed wake-up from
// being forever.
const maxWait = 10 * time.Second

// minWait is the shortest wait for a job that is due already.
const minWait = time.Millisecond

// discoveryWait bounds the wait of a watch of every namespace instead: a
// namespace discovery found is taken at the loop's turns, so that its
// events are named from its first (discovery itself scans /proc every
// 2 s).
const discoveryWait = 100 * time.Millisecond

// timers runs the loop's periodic jobs that are due: loss checks (and a
// reconciliation after a loss), the unreplied detector, the periodic
// reconciliation under nf_conntrack_events=2, and the heartbeat, each at
// most once per its interval. nextDue is when the first of them next has
// something to do, which the loop waits for: a loss check only after
// events or records since the last (or while a reconciliation is owed),
// the detector only when a flow or a summary is due
// (flow.Tracker.NextExpiry). An idle watch wakes for nothing else.
func (w *Watch) timers(ctx context.Context, now time.Time, t *loopTimers, src Source, b *events.Batch) {
	cfg := &w.cfg
	if now.Sub(t.loss) >= cfg.LossInterval {
		t.loss = now
		w.checkLoss(src.Stats())
		switch {
		case w.ns != nil && w.needRecon && cfg.ReconcileInterval > 0:
			// A lost event's namespace is unknown: every namespace with
			// flows is reconciled, one dump at a time.
			w.needRecon = false
			w.queueReconcile(true)
		case w.needRecon && cfg.ReconcileInterval > 0 && now.Sub(w.reconciled) >= w.reconcileSpacing():
			w.reconcile(ctx, "gap", src, b)
		case w.needRecon && cfg.ReconcileInterval <= 0:
			// Nothing will reconcile: the check needs no repeating.
			w.needRecon = false
		}
		// Its own records (a gap, a reconciliation's) are no activity:
		// nextDue wakes the loop for a check only after more.
		t.lossMark = w.activity()
	}
	if w.ns != nil {
		w.reconcileNext(ctx, now, src, b)
		if now.Sub(t.nsCount) >= nsCountEvery && w.activity() != t.nsCountMark {
			w.publishNetNS(now, t)
			t.nsCountMark = w.activity()
		}
	}
	if due, ok := w.tracker.NextExpiry(); ok && !now.Before(due) && now.Sub(t.expire) >= cfg.ExpireInterval {
		t.expire = now
		// The summary first: the interval it closes is the one whose
		// budget the flows due now must not spend.
		w.tracker.ExpireSummary(now, w.emitSummary)
		w.tracker.Expire(now, w.unreplied)
		w.publishTracker()
	}
	switch {
	case w.ctEvents != 2 || cfg.ReconcileInterval <= 0:
	case w.ns != nil:
		// Each namespace has its own pace; they are looked at when the
		// earliest is due, and every interval.
		if !now.Before(w.ns.nextPeriodic) {
			w.queueReconcile(false)
		}
	case now.Before(w.pace.next):
	case w.tracker.SeededNetNS(model.NetNS{}) > 0:
		w.reconcile(ctx, "periodic", src, b)
	default:
		// No flow can miss its DESTROY: no dump, whatever the table
		// holds. A look again later costs nothing.
		w.pace.next = now.Add(cfg.ReconcileInterval)
	}
	if cfg.Heartbeat > 0 && now.Sub(t.heartbeat) >= cfg.Heartbeat {
		t.heartbeat = now
		w.heartbeat(now)
	}
}

// nextDue is when the first of the loop's jobs is due after now (timers,
// netnsTimer), at most maxWait away: the deadline of the loop's wait for
// events. The deadlines coalesce, as the loop runs every job due at each
// turn.
func (w *Watch) nextDue(now time.Time, t *loopTimers) time.Time {
	cfg := &w.cfg
	next := now.Add(maxWait)
	if w.discovery != nil {
		next = now.Add(discoveryWait)
	}
	at := func(d time.Time) {
		// A job its turn did not run (a failed dump, say) is tried
		// again at the next, which is not at once: no spinning.
		d = laterOf(d, now.Add(minWait))
		if d.Before(next) {
			next = d
		}
	}
	if w.needRecon || w.activity() != t.lossMark {
		at(t.loss.Add(cfg.LossInterval))
	}
	if due, ok := w.tracker.NextExpiry(); ok {
		at(laterOf(due, t.expire.Add(cfg.ExpireInterval)))
	}
	if w.ctEvents == 2 && cfg.ReconcileInterval > 0 {
		switch {
		case w.ns != nil:
			at(w.ns.nextPeriodic)
		case w.tracker.SeededNetNS(model.NetNS{}) > 0:
			// Without seeded flows timers looks again at its next
			// turn: no wake-up of its own.
			at(w.pace.next)
		}
	}
	if cfg.Heartbeat > 0 {
		at(t.heartbeat.Add(cfg.Heartbeat))
	}
	if cfg.NetnsCheck > 0 && !w.netnsGone && (w.ns == nil && !cfg.selfNetNS || w.ns != nil && w.ns.fixed) {
		at(t.netns.Add(w.netnsEvery()))
	}
	if w.ns != nil {
		if len(w.ns.reconcileQueue) > 0 {
			at(w.ns.lastDump.Add(w.reconcileSpacing()))
		}
		if w.activity() != t.nsCountMark {
			at(t.nsCount.Add(nsCountEvery))
		}
	}
	return next
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// activity is a mark that moves whenever the loop handles events or a
// record is written (but the health monitor's: see healthRecord): a loss
// can only have happened, in the kernel or at an output, when it moved. The kernel drops only events that came while
// the socket's buffer was full, which the loop then reads.
func (w *Watch) activity() uint64 {
	c := &w.counters
	m := w.rec.Seq() - c.healthRecords.Load() + c.Written.Load() + c.DecodeErrors.Load()
	for i := range c.Received {
		m += c.Received[i].Load()
	}
	return m
}

// wakeOn has the source's wait end when ctx ends, when an output reports a
// fault and when the output is gone; a reopen request (SIGHUP) is passed to the output without the
// loop. The goroutine ends with ctx.
func (w *Watch) wakeOn(ctx context.Context, src Source) {
	context.AfterFunc(ctx, src.Wake)
	cfg := &w.cfg
	// An output's fault ends the wait, so that its output_error or
	// output_recovered record is written at once, not at the next turn.
	cfg.Out.NotifyFaults(src.Wake)
	if done, reopen := cfg.Out.Done(), cfg.Reopen; done != nil || reopen != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-done:
					src.Wake()
					done = nil
				case <-reopen:
					cfg.Out.Reopen()
				}
			}
		}()
	}
}

// heartbeat writes a heartbeat record: uptime, events received, records
// written (the encoder's sequence number: every record it wrote took one),
// losses so far and the records waiting in the output's queue.
func (w *Watch) heartbeat(now time.Time) {
	c := &w.counters
	w.rec.Heartbeat(&record.Heartbeat{
		Uptime:     now.Sub(w.started),
		New:        c.Received[model.EventNew].Load(),
		Update:     c.Received[model.EventUpdate].Load(),
		Destroy:    c.Received[model.EventDestroy].Load(),
		Written:    w.rec.Seq(),
		LostKernel: c.LostKernel.Load(),
		LostOutput: c.LostOutput.Load(),
		QueueDepth: w.cfg.Out.Depth(),
	})
}

// summary is the counters with the tracker's.
func (w *Watch) summary() Summary {
	s := w.counters.Summary()
	s.Expects = w.cfg.Types&events.ExpectTypes != 0
	ts := w.tracker.Stats()
	s.UnrepliedWarnings = ts.UnrepliedWarnings
	s.UnrepliedSummarised = ts.UnrepliedSummarised
	s.FlowsEvicted = ts.Evicted
	s.Inferred = ts.Inferred
	s.SkippedFull = ts.SkippedFull
	return s
}

// flush writes out what the outputs hold, giving up after shutdownFlush: a
// remote output's backlog that is not out by then stays in its spool, or
// is counted as lost with a memory queue. It reports whether every output
// was done in time.
func (w *Watch) flush() bool {
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The error is already counted in the outputs' stats.
		_ = w.cfg.Out.Flush(ctx)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-w.after(shutdownFlush):
		return false
	}
}
