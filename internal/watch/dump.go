package watch

import (
	"context"
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
	dctx, cancel := context.WithTimeout(ctx, cfg.DumpTimeout)
	defer cancel()
	var n uint64
	skippedBefore := w.tracker.Stats().SkippedFull
	// The snapshot records wait for the output rather than drop: the
	// kernel holds the rest of the dump meanwhile.
	endWait := cfg.Out.Wait(ctx)
	err := cfg.Dump(dctx, func(ev *model.Event) bool {
		n++
		w.tracker.Seed(ev)
		if cfg.Snapshot {
			w.entry(ev, false)
		}
		return true
	})
	endWait()
	w.reconciled = cfg.Clock()
	w.dumpTook = w.reconciled.Sub(start)
	w.counters.Snapshot.Store(n)
	w.counters.Tracked.Store(int64(w.tracker.Len()))
	w.rec.Dump(&record.Dump{Entries: n, SkippedFull: w.tracker.Stats().SkippedFull - skippedBefore,
		Took: cfg.Clock().Sub(start), Err: err})
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
	w.reconcileDump(ctx, model.NetNS{}, w.cfg.Dump, why, src, b)
}

// reconcileNetNS is reconcile for one namespace of a watch of several: the
// dump of one namespace says nothing of another's flows, so only its own
// are swept.
func (w *Watch) reconcileNetNS(ctx context.Context, sl *nsSlot, why string, src Source, b *events.Batch) {
	h, dumpNS := sl.h, w.cfg.DumpNetNS
	w.ns.lastDump = w.reconcileDump(ctx, sl.key, func(ctx context.Context, fn func(*model.Event) bool) error {
		return dumpNS(ctx, h, fn)
	}, why, src, b)
}

// reconcileDump sweeps the flows of namespace ns that dump no longer
// lists, and returns when the sweep ended. Between the dump and the sweep
// it handles the events the source holds (with b): a DESTROY queued while
// the dump ran ends its flow as reported, not as inferred.
func (w *Watch) reconcileDump(ctx context.Context, ns model.NetNS, dump DumpFunc, why string, src Source, b *events.Batch) time.Time {
	cfg := &w.cfg
	start := cfg.Clock()
	w.reconciled = start
	dctx, cancel := context.WithTimeout(ctx, cfg.DumpTimeout)
	defer cancel()
	var n uint64
	var dumpErr error
	before := w.tracker.Stats()
	w.tracker.BeginReconcileNetNS(ns, func(yield func(*model.Entry) bool) {
		dumpErr = dump(dctx, func(ev *model.Event) bool {
			n++
			return yield(&ev.Entry)
		})
	}, start)
	w.drain(src, b)
	// The dump's inferred ends wait for the output, as its records would;
	// the live events of the drain above do not.
	endWait := cfg.Out.Wait(ctx)
	w.tracker.EndReconcile(w.inferred)
	endWait()
	end := cfg.Clock()
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
	return end
}
