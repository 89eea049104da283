package watch

import (
	"runtime"
	"time"
)

// Under nf_conntrack_events=2 only the flows that predate every listener
// can end without a DESTROY, and only a look at the table tells when they
// are gone. A dump walks the kernel's whole hash table, whatever
// namespace asks, so its cost grows with the host's table, not with the
// flows that need it: a million entries cost about two seconds of CPU
// per dump. The periodic reconciliation is therefore paced by what it
// costs: after each, the next is due once its CPU time is
// Config.ReconcileBudget of the time since (and never sooner than
// Config.ReconcileInterval), and none is due at all while the namespace
// holds no such flow.

// reconcilePace is when a namespace's next periodic reconciliation is
// due.
type reconcilePace struct {
	// next is when the next one is due.
	next time.Time
}

// paced sets the next periodic reconciliation's due time by a dump of
// cost cost that began at start: from start to start, the dumps take at
// most the budget's share of the time.
func (w *Watch) paced(p *reconcilePace, start time.Time, cost time.Duration) {
	p.next = start.Add(w.reconcileEvery(cost))
}

// pacedNetNS is paced for namespace sl of a watch of several: the
// namespaces are looked at again by its due time, if it is the earliest.
func (w *Watch) pacedNetNS(sl *nsSlot, start time.Time, cost time.Duration) {
	w.paced(&sl.pace, start, cost)
	if s := w.ns; sl.pace.next.Before(s.nextPeriodic) {
		s.nextPeriodic = sl.pace.next
	}
}

// reconcileEvery is the time between periodic reconciliations that cost
// cost each: the interval, or longer when cost would exceed the budget.
func (w *Watch) reconcileEvery(cost time.Duration) time.Duration {
	cfg := &w.cfg
	return max(cfg.ReconcileInterval, time.Duration(float64(cost)/cfg.ReconcileBudget))
}

// measure runs f and returns the CPU time it took: the loop's thread's, with
// the goroutine locked to it meanwhile, since a dump's cost is mostly the
// kernel's, spent in the reads of the thread that reads the dump (the wall
// time when the thread's CPU time cannot be read).
func (w *Watch) measure(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, ok0 := w.cfg.ThreadCPU()
	t0 := w.cfg.Clock()
	f()
	c1, ok1 := w.cfg.ThreadCPU()
	if ok0 && ok1 {
		return c1 - c0
	}
	return w.cfg.Clock().Sub(t0)
}
