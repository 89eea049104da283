package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// stallLimit is how long the loop may go without a turn before /healthz
// reports it stalled: a reconciliation of a huge table takes seconds.
const stallLimit = 30 * time.Second

// newMonitor returns the table health monitor, reading the watched
// namespace through Config.ReadStats and Config.Dump.
func (w *Watch) newMonitor() *health.Monitor {
	dumpTable, dumps := w.cfg.Dump, w.dumps
	dump := func(ctx context.Context, fn func(*model.Entry) bool) error {
		err := dumpTable(ctx, dumps.full, func(ev *model.Event) bool { return !dumps.selects(ev) || fn(&ev.Entry) })
		if errors.Is(err, events.ErrDumpIncomplete) {
			// Undecodable entries only make the top list approximate.
			return nil
		}
		return err
	}
	return health.NewMonitor(w.cfg.Health, w.boundRead(w.cfg.ReadStats), dump)
}

// minStatsTimeout is the shortest bound of a stats reading.
const minStatsTimeout = time.Second

// boundRead bounds each reading by the health interval (at least
// minStatsTimeout), rather than by ctstat's own 5 s: a reading must be done
// before the next is due anyway, and the runtime keeps a cancelled timer
// until it expires, waking an idle process then. Expiring with the next
// reading's tick, it costs no wake-up of its own.
func (w *Watch) boundRead(read func(context.Context) (ctstat.Reading, error)) func(context.Context) (ctstat.Reading, error) {
	d := max(w.cfg.Health.Interval, minStatsTimeout)
	return func(ctx context.Context) (ctstat.Reading, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return read(ctx)
	}
}

// healthLoop checks the table every Health.Interval until ctx ends. It runs
// beside the event loop, not in it: the dump behind a table_pressure record
// can take seconds, which is when events come fastest. Its records go to
// the same logger, whose writes are whole records.
func (w *Watch) healthLoop(ctx context.Context) {
	emit := func(r health.Record) { w.healthRecord(func() { w.rec.Health(&r) }) }
	check := func() {
		if err := w.monitor.Check(ctx, emit); err != nil && ctx.Err() == nil {
			w.healthRecord(func() { w.rec.StatsError(err) })
		}
	}
	every(ctx, w.cfg.Health.Interval, check)
}

// healthRecord writes one of the health monitor's records (write) and
// counts it apart: the periodic readings of an idle watch must not make the
// loop wake for a loss check each time (Watch.activity). A loss such a
// record meets is still counted at the loop's next turn, within maxWait.
func (w *Watch) healthRecord(write func()) {
	write()
	w.counters.healthRecords.Add(1)
}

// listenMetrics opens the metrics listener, so that a bad address fails the
// start rather than a goroutine later.
func listenMetrics(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	return ln, nil
}

// metricsSnapshot is the values /metrics exposes, read race-free from the
// counters and the monitor.
func (w *Watch) metricsSnapshot() metrics.Snapshot {
	s := w.counters.Summary()
	snap := metrics.Snapshot{
		Events: metrics.EventCounts{
			New:     s.Received[model.EventNew],
			Update:  s.Received[model.EventUpdate],
			Destroy: s.Received[model.EventDestroy],
			// Expectation series only for a watch of them.
			Expects:       w.cfg.Types&events.ExpectTypes != 0,
			ExpectNew:     s.ExpectNew,
			ExpectDestroy: s.ExpectDestroy,
		},
		Lost:                metrics.LostCounts{Kernel: s.LostKernel, Output: s.LostOutput},
		Filtered:            s.Filtered,
		DecodeErrors:        s.DecodeErrors,
		FlowsTracked:        uint64(max(w.counters.Tracked.Load(), 0)),
		UnrepliedWarnings:   s.UnrepliedWarnings,
		UnrepliedSummarised: s.UnrepliedSummarised,
		InferredDestroys:    s.Inferred,
		FlowsEvicted:        s.FlowsEvicted,
	}
	// The outputs count what they took in full, of every kind: entry
	// lines and the other records alike.
	for _, o := range w.cfg.Out.Stats() {
		snap.Outputs = append(snap.Outputs, metrics.Output{
			Name: o.Name, Written: o.Records, Overflow: o.Overflow, Refused: o.Refused, Failed: o.Failed,
			Queued: o.Queued, QueueBytes: o.QueueBytes, Lag: o.Lag.Seconds(),
			Retries: o.Retries, Reconnects: o.Reconnects, Failing: o.Failing,
		})
	}
	if w.ns != nil {
		snap.NetNS = w.netnsMetrics()
		snap.OtherNetNS, snap.UnknownNetNS = s.OtherNetNS, s.UnknownNetNS
	}
	mon := w.monitor
	if mon == nil {
		mon = w.selfMonitor.Load()
	}
	if mon != nil {
		if r, totals, ok := mon.Last(); ok {
			snap.HaveTable = true
			snap.Table = metrics.Table{Entries: r.Count, Limit: r.Max, Stats: totals}
		}
	}
	return snap
}

// healthz reports why the watch is unhealthy: its output is gone or
// failing (writes, or reopens after SIGHUP), its namespace is gone, or its
// loop has not turned for stallLimit.
func (w *Watch) healthz() error {
	select {
	case <-w.cfg.Out.Done():
		return fmt.Errorf("output is gone: %w", w.cfg.Out.Err())
	default:
	}
	if err := w.faults.unhealthy(); err != nil {
		return err
	}
	if last := time.Unix(0, w.counters.heartbeat.Load()); w.cfg.Clock().Sub(last) > stallLimit {
		return fmt.Errorf("event loop stalled since %s", last.UTC().Format(time.RFC3339))
	}
	return nil
}

// nsHealthAdd gives the health monitor a descriptor of a namespace just
// watched, of its own: the monitor reads the namespace's table beside the
// loop, and closes it when the namespace is gone.
func (w *Watch) nsHealthAdd(sl *nsSlot) {
	if w.cfg.Health.Interval <= 0 {
		return
	}
	d, err := sl.h.Dup()
	if err != nil {
		w.healthRecord(func() { w.rec.StatsError(fmt.Errorf("namespace %d: %w", sl.ns.Inode, err)) })
		return
	}
	w.ns.mu.Lock()
	defer w.ns.mu.Unlock()
	if w.ns.healthDone {
		d.Close()
		return
	}
	sl.health = d
}

// nsMonitor is the health monitor of one namespace of a watch of several.
type nsMonitor struct {
	sl *nsSlot
	m  *health.Monitor
}

// healthLoopNetNS is healthLoop for a watch of several namespaces: every
// Health.Interval each watched namespace's table is read (one ctnetlink
// stats request each, bounded by the monitor's timeout; a dump only
// behind a table_pressure record), and its records name the namespace.
func (w *Watch) healthLoopNetNS(ctx context.Context) {
	mons := map[*nsSlot]*nsMonitor{}
	defer func() {
		w.ns.mu.Lock()
		defer w.ns.mu.Unlock()
		w.ns.healthDone = true
		for _, sl := range w.ns.all {
			sl.health.Close() // nil-safe
			sl.health = nil
		}
	}()
	check := func() {
		w.ns.mu.Lock()
		var live []*nsSlot
		for _, sl := range w.ns.all {
			switch {
			case sl.health == nil:
			case sl.gone:
				sl.health.Close()
				sl.health = nil
				delete(mons, sl)
			default:
				live = append(live, sl)
			}
		}
		w.ns.mu.Unlock()
		for _, sl := range live {
			nm := mons[sl]
			if nm == nil {
				nm = &nsMonitor{sl: sl, m: w.newMonitorNetNS(sl.health)}
				mons[sl] = nm
				if sl.ns.Self {
					// The table figures of /metrics are ctwatch's own
					// namespace's.
					w.selfMonitor.Store(nm.m)
				}
			}
			key := sl.key
			emit := func(r health.Record) { r.NetNS = key; w.healthRecord(func() { w.rec.Health(&r) }) }
			if err := nm.m.Check(ctx, emit); err != nil && ctx.Err() == nil {
				w.healthRecord(func() { w.rec.StatsError(fmt.Errorf("namespace %d: %w", sl.ns.Inode, err)) })
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
	every(ctx, w.cfg.Health.Interval, check)
}

// newMonitorNetNS returns the health monitor of one namespace.
func (w *Watch) newMonitorNetNS(h *netns.Handle) *health.Monitor {
	read, dumpNS, dumps := w.cfg.ReadStatsNetNS, w.cfg.DumpNetNS, w.dumps
	dump := func(ctx context.Context, fn func(*model.Entry) bool) error {
		err := dumpNS(ctx, h, dumps.full, func(ev *model.Event) bool { return !dumps.selects(ev) || fn(&ev.Entry) })
		if errors.Is(err, events.ErrDumpIncomplete) {
			return nil
		}
		return err
	}
	return health.NewMonitor(w.cfg.Health, w.boundRead(func(ctx context.Context) (ctstat.Reading, error) { return read(ctx, h) }), dump)
}

// netnsMetrics is the per-namespace metrics: the labelled namespaces
// present, then "other" summing the rest.
func (w *Watch) netnsMetrics() []metrics.NetNS {
	w.ns.mu.Lock()
	defer w.ns.mu.Unlock()
	out := make([]metrics.NetNS, 0, len(w.ns.all)+1)
	var other metrics.NetNS
	others := false
	for _, sl := range w.ns.all {
		if sl.gone {
			continue
		}
		n := metrics.NetNS{Label: sl.label, Events: sl.events.Load(), Tracked: uint64(max(sl.tracked.Load(), 0))}
		if sl.label == "" {
			other.Events += n.Events
			other.Tracked += n.Tracked
			others = true
			continue
		}
		out = append(out, n)
	}
	if others {
		other.Label = "other"
		out = append(out, other)
	}
	return out
}

// every calls f at once, then every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	f()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
