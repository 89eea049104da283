package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Inferred reports a flow's end that no DESTROY event announced.
type Inferred struct {
	// Entry is the flow's entry as last known (see Unreplied.Entry).
	Entry model.Entry
	// Time is when the end was inferred: the dump's start, the time of
	// the NEW that revealed it, or the time the namespace was found gone.
	Time time.Time
	// Flow is the lifecycle, with Inferred set. Its Duration ends at the
	// flow's last event: a lower bound.
	Flow Lifecycle
	// NetNS is the namespace the flow lived in, as its events said
	// (model.Event.NetNS).
	NetNS model.NetNS
	// Reason says how the end was found out.
	Reason InferReason
}

// InferReason says how the tracker found out that a flow ended without a
// DESTROY: the records write it next to "inferred":true, so that a reader
// can tell a lost event from a namespace's end.
type InferReason uint8

// The ways a flow's end is inferred. The zero value is not one of them:
// every Inferred the tracker makes has its reason set.
const (
	// InferReconcile: a dump of the flow's namespace no longer lists it
	// (Reconcile, EndReconcile); its DESTROY was lost, or never sent
	// (nf_conntrack_events=2).
	InferReconcile InferReason = iota + 1
	// InferReused: a NEW came for its key (Result.Ended): the kernel
	// re-created a flow with the same tuple and id, so the earlier one
	// ended and its DESTROY was lost.
	InferReused
	// InferNetNSGone: its network namespace is gone (EndNetNS), and its
	// conntrack table with it.
	InferNetNSGone
	numInferReasons
)

var inferReasonNames = [numInferReasons]string{"unknown", "reconcile", "reused", "netns_gone"}

// String returns the reason as the "inferred_reason" key carries it.
func (r InferReason) String() string {
	if r < numInferReasons {
		return inferReasonNames[r]
	}
	return "unknown"
}

// Event returns the DESTROY event the kernel would have sent, as far as the
// tracker knows it, for writing the inferred end like a real one.
func (in *Inferred) Event() model.Event {
	return model.Event{Type: model.EventDestroy, Time: in.Time, Entry: in.Entry, NetNS: in.NetNS}
}

// Seed tracks an entry of a table dump (the startup dump) of namespace
// ev.NetNS: its first sight
// is a snapshot, and its start is unknown unless the entry carries the
// kernel's start timestamp. ev.Time should be the time the dump began. An
// entry already tracked refreshes what the tracker knows (state, status,
// counters) without reporting a change; an entry whose flow ended at or
// after ev.Time is skipped: the dump saw it before its DESTROY arrived. A
// new entry while MaxFlows flows are tracked is skipped and counted
// (Stats.SkippedFull): a dump never evicts.
func (t *Tracker) Seed(ev *model.Event) {
	t.seedEntry(&ev.Entry, nsKey(ev.NetNS), t.eventTime(ev), false)
}

// Reconcile compares the tracker with a dump of the table of the local
// namespace (model.NetNS{}) that began at dumpStart: present yields its
// entries. Flows of other namespaces are left alone; ReconcileNetNS
// reconciles one of them. A tracked flow the dump does not
// list and that was last seen before dumpStart is gone without a DESTROY
// having been seen (the event was lost): emit receives its inferred end,
// and the flow is forgotten. Flows the dump lists but the tracker does not
// know are seeded (as by Seed, with time dumpStart); flows the dump lists
// and the tracker knows get their state, status and counters refreshed
// (new ones beyond MaxFlows are skipped and counted, as by Seed),
// so that a later inferred end reports the dump's counters. A zero
// dumpStart stands for the latest event time. emit is called in least
// recently seen order and must not call the Tracker. Reconcile takes time
// proportional to the dump and the flows tracked.
//
// Reconcile is BeginReconcile and EndReconcile back to back, for a caller
// that has no events waiting; a live watch observes between the two the
// events that reached it while the dump ran.
func (t *Tracker) Reconcile(present func(yield func(*model.Entry) bool), dumpStart time.Time, emit func(Inferred)) {
	t.ReconcileNetNS(model.NetNS{}, present, dumpStart, emit)
}

// ReconcileNetNS is Reconcile for the table of namespace ns: present
// yields the entries of ns's dump, and only flows of ns can be found gone.
func (t *Tracker) ReconcileNetNS(ns model.NetNS, present func(yield func(*model.Entry) bool), dumpStart time.Time, emit func(Inferred)) {
	t.BeginReconcileNetNS(ns, present, dumpStart)
	t.EndReconcile(emit)
}

// BeginReconcile is Reconcile's first half: it takes in the dump. Until
// EndReconcile the Tracker observes events as usual, and the caller should
// let it observe every event queued before the dump ended: a flow deleted
// just before the dump reached it is missing from the dump while its
// DESTROY still waits in the event socket, and that DESTROY, not an
// inferred one, must end it. It reconciles the local namespace
// (model.NetNS{}), as a watch of one namespace needs.
func (t *Tracker) BeginReconcile(present func(yield func(*model.Entry) bool), dumpStart time.Time) {
	t.BeginReconcileNetNS(model.NetNS{}, present, dumpStart)
}

// BeginReconcileNetNS is BeginReconcile for the table of namespace ns:
// the dump of one namespace says nothing of another's flows, so the
// EndReconcile after it ends flows of ns only. One reconciliation is
// under way at a time: a BeginReconcileNetNS before the previous one's
// EndReconcile abandons it (nothing is inferred from it).
func (t *Tracker) BeginReconcileNetNS(ns model.NetNS, present func(yield func(*model.Entry) bool), dumpStart time.Time) {
	if t.reconciling {
		t.abandonReconcile()
	}
	k := nsKey(ns)
	ds := t.timeOf(dumpStart)
	present(func(e *model.Entry) bool {
		t.seedEntry(e, k, ds, true)
		return true
	})
	t.reconciling, t.reconcileNS, t.reconcileStart = true, k, ds
}

// AbandonReconcile forgets the reconciliation BeginReconcile began,
// inferring nothing from it: for a dump that failed part way, whose
// missing entries say nothing of their flows. The entries it did list
// stay seeded and refreshed. Without a reconciliation under way it does
// nothing.
func (t *Tracker) AbandonReconcile() {
	if t.reconciling {
		t.abandonReconcile()
	}
}

// SeededNetNS returns how many live flows of namespace ns only a dump has
// shown (as NetNSCounts' seeded): the flows that, under
// nf_conntrack_events=2, may end without a DESTROY.
func (t *Tracker) SeededNetNS(ns model.NetNS) int {
	return t.counts.get(nsKey(ns)).seeded
}

// abandonReconcile forgets the reconciliation under way: its marks must
// not spare flows in a later sweep.
func (t *Tracker) abandonReconcile() {
	t.reconciling = false
	left := t.counts.get(t.reconcileNS).tracked
	for i := t.lru.tail; i != nilIdx && left > 0; {
		r := t.recs.at(i)
		if r.key.ns == t.reconcileNS {
			r.flags &^= fInDump
			left--
		}
		i = r.lruPrev
	}
}

// EndReconcile is Reconcile's second half: every tracked flow of the
// dumped namespace that the dump begun by BeginReconcile (or
// BeginReconcileNetNS) did not list, and that has not been seen since the
// dump began, gets an inferred end (Reason InferReconcile). Without a
// BeginReconcile before it, it does nothing. The sweep stops once it has
// seen every flow of the namespace, so reconciling a small namespace
// walks only as far as its least recently seen flow.
func (t *Tracker) EndReconcile(emit func(Inferred)) {
	if !t.reconciling {
		return
	}
	ds, k := t.reconcileStart, t.reconcileNS
	t.reconciling = false
	left := t.counts.get(k).tracked
	for i := t.lru.tail; i != nilIdx && left > 0; {
		r := t.recs.at(i)
		prev := r.lruPrev
		if r.key.ns == k {
			left--
			switch {
			case r.flags&fInDump != 0:
				r.flags &^= fInDump
			case r.last < ds || r.last == 0:
				in := t.infer(r, ds, InferReconcile)
				t.bury(i, ds)
				emit(in)
			}
		}
		i = prev
	}
}

// seedEntry tracks or refreshes a dump's entry of namespace ns (an nsKey)
// seen at ts; inDump marks it present for Reconcile's sweep.
func (t *Tracker) seedEntry(e *model.Entry, ns uint32, ts int64, inDump bool) {
	k := makeKey(e, ns)
	h := k.hash(t.seed)
	i := t.lookup(&k, h)
	if i != nilIdx {
		r := t.recs.at(i)
		if r.flags&fDead == 0 {
			t.absorb(i, r, e, ts, absorbDump)
			if inDump {
				r.flags |= fInDump
			}
			return
		}
		if r.last >= ts {
			// It ended after the dump began: the dump is older news.
			return
		}
	}
	if t.live >= t.cfg.MaxFlows {
		// A dump is not news: evicting a flow the events brought to make
		// room for a listed entry would trade what the tracker knows for
		// what the next dump lists again, over and over on a table
		// larger than the bound. The entry stays untracked, counted; its
		// own events will admit it if it lives on.
		t.stats.SkippedFull++
		return
	}
	if i != nilIdx {
		t.detach(i, t.recs.at(i))
	}
	i, _ = t.admit(i, &k, h)
	r := t.start(i, e, ts, SeenFromSnapshot)
	r.flags |= fDumpOnly
	t.counts.at(ns).seeded++
	if inDump {
		r.flags |= fInDump
	}
	t.stats.Seeded++
}

// infer builds the inferred end of live record r, noticed at time at for
// reason why.
func (t *Tracker) infer(r *record, at int64, why InferReason) Inferred {
	in := Inferred{Flow: lifecycle(r, r.last, endInferred), NetNS: netnsOf(r.key.ns), Reason: why}
	if at != 0 {
		in.Time = time.Unix(0, at).UTC()
	}
	t.entryOf(r, &in.Entry)
	t.stats.Inferred++
	return in
}
