package watch

import (
	"time"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TEMPORARY: the calls into the flow tracker's and the encoder's
// per-namespace API (branches nsflow and nsrecord), in one place until
// they are merged; then each is the one call it stands for.

// endNetNS ends every flow of ns as inferred (reason netns_gone).
func (w *Watch) endNetNS(ns model.NetNS, now time.Time) int {
	return w.tracker.EndNetNS(ns, now, w.inferred)
}

// beginReconcileNetNS and endReconcileNetNS reconcile the flows of one
// namespace with a dump of its table.
func (w *Watch) beginReconcileNetNS(ns model.NetNS, present func(yield func(*model.Entry) bool), dumpStart time.Time) {
	w.tracker.BeginReconcileNetNS(ns, present, dumpStart)
}

func (w *Watch) endReconcileNetNS(_ model.NetNS, emit func(flow.Inferred)) { w.tracker.EndReconcile(emit) }

// netnsCounts calls fn with each namespace's live and still dump-seeded
// flows.
func (w *Watch) netnsCounts(fn func(ns model.NetNS, tracked, seeded int)) { w.tracker.NetNSCounts(fn) }

// netnsAdded and netnsRemoved write their records.
func (w *Watch) netnsAdded(ns nsdiscover.NS, dumped bool, entries uint64, err error) {
	z := w.cfg.Log.Info().Str("event", "netns_added").Object("netns", ns).Bool("dumped", dumped)
	if dumped {
		z = z.Uint64("entries", entries)
	}
	if err != nil {
		z = z.AnErr("error", err)
	}
	z.Send()
}

func (w *Watch) netnsRemoved(ns nsdiscover.NS, ended int, events uint64) {
	w.cfg.Log.Info().Str("event", "netns_removed").Object("netns", ns).Int("flows_ended", ended).Uint64("events", events).Send()
}

// netnsTotals adds the per-namespace totals to the stop record.
func (w *Watch) netnsTotals(t *record.Totals) { _ = t }
