package watch

import (
	"time"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The watch's calls into the flow tracker's and the encoder's
// per-namespace API, each named for what the watch does with it.

// endNetNS ends every flow of ns as inferred (reason netns_gone) and
// writes them; it returns how many.
func (w *Watch) endNetNS(ns model.NetNS, now time.Time) int {
	return w.tracker.EndNetNS(ns, now, w.inferred)
}

// beginReconcileNetNS and endReconcileNetNS reconcile the flows of one
// namespace with a dump of its table.
func (w *Watch) beginReconcileNetNS(ns model.NetNS, present func(yield func(*model.Entry) bool), dumpStart time.Time) {
	w.tracker.BeginReconcileNetNS(ns, present, dumpStart)
}

func (w *Watch) endReconcileNetNS(_ model.NetNS, emit func(flow.Inferred)) {
	w.tracker.EndReconcile(emit)
}

// netnsCounts calls fn with each namespace's live and still dump-seeded
// flows.
func (w *Watch) netnsCounts(fn func(ns model.NetNS, tracked, seeded int)) { w.tracker.NetNSCounts(fn) }

// netnsAdded and netnsRemoved write their records.
func (w *Watch) netnsAdded(ns nsdiscover.NS, dumped bool, entries uint64, err error) {
	w.rec.NetnsAdded(&record.NetnsAdded{NS: ns, Dumped: dumped, Entries: entries, Err: err})
}

func (w *Watch) netnsRemoved(ns nsdiscover.NS, ended int, events uint64) {
	w.rec.NetnsRemoved(&record.NetnsRemoved{NS: ns, Ended: ended, Events: events})
}

// netnsTotals adds the per-namespace totals to the stop record: every
// namespace watched, gone ones included, at most record.MaxStopNetNS of
// them (the rest counted).
func (w *Watch) netnsTotals(t *record.Totals) {
	s := w.ns
	if s == nil {
		return
	}
	t.OtherNetNS, t.UnknownNetNS = w.counters.OtherNetNS.Load(), w.counters.UnknownNetNS.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.all), record.MaxStopNetNS)
	t.NetNS = make([]record.NetNSTotal, 0, n)
	for _, sl := range s.all[:n] {
		t.NetNS = append(t.NetNS, record.NetNSTotal{NS: sl.ns, Events: sl.events.Load(), Records: sl.records.Load()})
	}
	t.NetNSMore = len(s.all) - n
}
