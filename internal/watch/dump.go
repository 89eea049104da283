package watch

import (
	"context"
	"errors"
	"time"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// startupDump streams the table into the tracker and, with Snapshot, into
// snapshot records. A failed dump is reported and the watch goes on: the
// live stream does not depend on it.
func (w *Watch) startupDump(ctx context.Context) {
	cfg := &w.cfg
	start := cfg.Clock()
	dctx, cancel := w.dumpContext(ctx, cfg.Snapshot)
	defer cancel()
	var n uint64
	skippedBefore := w.tracker.Stats().SkippedFull
	// The snapshot records wait for the output rather than drop: the
	// kernel holds the rest of the dump meanwhile.
	endWait := cfg.Out.Wait(ctx)
	var err error
	cost := w.measure(func() {
		err = cfg.Dump(dctx, w.dumps.full, func(ev *model.Event) bool {
			n++
			if !w.dumps.selects(ev) {
				// Not the watch's: the kernel filter would not report its
				// changes either.
				return true
			}
			w.tracker.Seed(ev)
			if cfg.Snapshot {
				w.entry(ev, false)
			}
			return true
		})
	})
	var xs uint64
	if w.snapshotsExpects() {
		var xerr error
		xs, xerr = w.snapshotExpects(ctx, cfg.NS, model.NetNS{})
		err = errors.Join(err, xerr)
	}
	endWait()
	w.reconciled = cfg.Clock()
	w.dumpTook = w.reconciled.Sub(start)
	// The first periodic reconciliation is paced by the startup dump's
	// cost (an upper bound, with Snapshot's records).
	w.paced(&w.pace, start, cost)
	w.counters.Snapshot.Store(n)
	w.counters.Tracked.Store(int64(w.tracker.Len()))
	w.rec.Dump(&record.Dump{Entries: n, SkippedFull: w.tracker.Stats().SkippedFull - skippedBefore,
		Took: cfg.Clock().Sub(start), Err: err, ExpectDumped: w.snapshotsExpects(), Expectations: xs})
}

// dumpContext bounds a dump by Config.DumpTimeout, unless it writes
// records (snapshot): those wait for the output, as long as it takes a
// slow reader to take a big table, and the dump's reads stay bounded each
// by the dump's idle timeout (events.DumpIdleTimeout) and by ctx.
func (w *Watch) dumpContext(ctx context.Context, writes bool) (context.Context, context.CancelFunc) {
	if writes {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, w.cfg.DumpTimeout)
}

// reconcileSpacing is how long after the last dump a loss may trigger the
// next: at once in practice, but never more than a tenth of the time on
// dumping, so that a big table under sustained overrun is not dumped
// back to back.
func (w *Watch) reconcileSpacing() time.Duration {
	return max(time.Second, 10*w.dumpTook)
}

// reconcile compares the tracker with a fresh dump: flows that vanished
// without a DESTROY get an inferred one.
func (w *Watch) reconcile(ctx context.Context, why string, src Source, b *events.Batch) {
	w.needRecon = false
	start, _, cost := w.reconcileDump(ctx, model.NetNS{}, w.cfg.Dump, why, src, b)
	w.paced(&w.pace, start, cost)
}

// reconcileNetNS is reconcile for one namespace of a watch of several: the
// dump of one namespace says nothing of another's flows, so only its own
// are swept.
func (w *Watch) reconcileNetNS(ctx context.Context, sl *nsSlot, why string, src Source, b *events.Batch) {
	h, dumpNS := sl.h, w.cfg.DumpNetNS
	start, end, cost := w.reconcileDump(ctx, sl.key, func(ctx context.Context, f events.DumpFilter, fn func(*model.Event) bool) error {
		return dumpNS(ctx, h, f, fn)
	}, why, src, b)
	w.ns.lastDump = end
	w.pacedNetNS(sl, start, cost)
}

// reconcileDump sweeps the flows of namespace ns that dump no longer
// lists, and returns when the dump began, when the sweep ended and the
// CPU time the dump and the sweep took. Between the dump and the sweep it handles the events
// the source holds (with b): a DESTROY queued while the dump ran ends its
// flow as reported, not as inferred. A dump that failed infers nothing:
// what it did not list may still be there.
func (w *Watch) reconcileDump(ctx context.Context, ns model.NetNS, dump DumpFunc, why string, src Source, b *events.Batch) (start, end time.Time, cost time.Duration) {
	cfg := &w.cfg
	start = cfg.Clock()
	w.reconciled = start
	dctx, cancel := context.WithTimeout(ctx, cfg.DumpTimeout)
	defer cancel()
	var n uint64
	var dumpErr error
	before := w.tracker.Stats()
	cost = w.measure(func() {
		w.tracker.BeginReconcileNetNS(ns, func(yield func(*model.Entry) bool) {
			dumpErr = dump(dctx, w.dumps.stable, func(ev *model.Event) bool {
				n++
				return yield(&ev.Entry)
			})
		}, start)
	})
	w.drain(src, b)
	if dumpErr != nil {
		w.tracker.AbandonReconcile()
	} else {
		// The dump's inferred ends wait for the output, as its records
		// would; the live events of the drain above do not.
		endWait := cfg.Out.Wait(ctx)
		cost += w.measure(func() { w.tracker.EndReconcile(w.inferred) })
		endWait()
	}
	end = cfg.Clock()
	w.dumpTook = end.Sub(start)
	w.rec.Reconcile(&record.Reconcile{
		Reason:      why,
		Entries:     n,
		Inferred:    w.tracker.Stats().Inferred - before.Inferred,
		SkippedFull: w.tracker.Stats().SkippedFull - before.SkippedFull,
		Took:        cfg.Clock().Sub(start),
		Err:         dumpErr,
		NetNS:       ns,
	})
	w.publishTracker()
	return start, end, cost
}
