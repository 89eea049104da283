package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/metrics"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// stallLimit is how long the loop may go without a turn before /healthz
// reports it stalled: a reconciliation of a huge table takes seconds.
const stallLimit = 30 * time.Second

// newMonitor returns the table health monitor, reading the watched
// namespace through Config.ReadStats and Config.Dump.
func (w *Watch) newMonitor() *health.Monitor {
	dumpTable := w.cfg.Dump
	dump := func(ctx context.Context, fn func(*model.Entry) bool) error {
		err := dumpTable(ctx, func(ev *model.Event) bool { return fn(&ev.Entry) })
		if errors.Is(err, events.ErrDumpIncomplete) {
			// Undecodable entries only make the top list approximate.
			return nil
		}
		return err
	}
	return health.NewMonitor(w.cfg.Health, w.cfg.ReadStats, dump)
}

// healthLoop checks the table every Health.Interval until ctx ends. It runs
// beside the event loop, not in it: the dump behind a table_pressure record
// can take seconds, which is when events come fastest. Its records go to
// the same logger, whose writes are whole records.
func (w *Watch) healthLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.Health.Interval)
	defer t.Stop()
	emit := func(r health.Record) { w.rec.Health(&r) }
	check := func() {
		if err := w.monitor.Check(ctx, emit); err != nil && ctx.Err() == nil {
			w.rec.StatsError(err)
		}
	}
	check()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
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
	if w.monitor != nil {
		if r, totals, ok := w.monitor.Last(); ok {
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
