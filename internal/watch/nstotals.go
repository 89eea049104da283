package watch

import (
	"github.com/ctwatch/ctwatch/internal/record"
)

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
