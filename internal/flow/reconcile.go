package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Inferred reports a flow's end that no DESTROY event announced.
type Inferred struct {
	// Entry is the flow's entry as last known (see Unreplied.Entry).
	Entry model.Entry
	// Time is when the end was inferred: the dump's start, or the time of
	// the NEW that revealed it.
	Time time.Time
	// Flow is the lifecycle, with Inferred set. Its Duration ends at the
	// flow's last event: a lower bound.
	Flow Lifecycle
	// NetNS is the namespace the flow lived in, as its events said
	// (model.Event.NetNS).
	NetNS model.NetNS
}

// Event returns the DESTROY event the kernel would have sent, as far as the
// tracker knows it, for writing the inferred end like a real one.
func (in *Inferred) Event() model.Event {
	return model.Event{Type: model.EventDestroy, Time: in.Time, Entry: in.Entry, NetNS: in.NetNS}
}

// Seed tracks an entry of a table dump (the startup dump): its first sight
// is a snapshot, and its start is unknown unless the entry carries the
// kernel's start timestamp. ev.Time should be the time the dump began. An
// entry already tracked refreshes what the tracker knows (state, status,
// counters) without reporting a change; an entry whose flow ended at or
// after ev.Time is skipped: the dump saw it before its DESTROY arrived. A
// new entry while MaxFlows flows are tracked is skipped and counted
// (Stats.SkippedFull): a dump never evicts.
func (t *Tracker) Seed(ev *model.Event) {
	t.seedEntry(&ev.Entry, t.eventTime(ev), false)
}

// Reconcile compares the tracker with a dump of the table that began at
// dumpStart: present yields its entries. A tracked flow the dump does not
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
	t.BeginReconcile(present, dumpStart)
	t.EndReconcile(emit)
}

// BeginReconcile is Reconcile's first half: it takes in the dump. Until
// EndReconcile the Tracker observes events as usual, and the caller should
// let it observe every event queued before the dump ended: a flow deleted
// just before the dump reached it is missing from the dump while its
// DESTROY still waits in the event socket, and that DESTROY, not an
// inferred one, must end it.
func (t *Tracker) BeginReconcile(present func(yield func(*model.Entry) bool), dumpStart time.Time) {
	ds := t.timeOf(dumpStart)
	present(func(e *model.Entry) bool {
		t.seedEntry(e, ds, true)
		return true
	})
	t.reconciling, t.reconcileStart = true, ds
}

// EndReconcile is Reconcile's second half: every tracked flow the dump
// begun by BeginReconcile did not list, and that has not been seen since
// the dump began, gets an inferred end. Without a BeginReconcile before it,
// it does nothing.
func (t *Tracker) EndReconcile(emit func(Inferred)) {
	if !t.reconciling {
		return
	}
	ds := t.reconcileStart
	t.reconciling = false
	for i := t.lru.tail; i != nilIdx; {
		r := t.recs.at(i)
		prev := r.lruPrev
		switch {
		case r.flags&fInDump != 0:
			r.flags &^= fInDump
		case r.last < ds || r.last == 0:
			in := t.infer(r, ds)
			t.bury(i, ds)
			emit(in)
		}
		i = prev
	}
}

// seedEntry tracks or refreshes a dump's entry seen at ts; inDump marks it
// present for Reconcile's sweep.
func (t *Tracker) seedEntry(e *model.Entry, ts int64, inDump bool) {
	k := makeKey(e)
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
	if inDump {
		r.flags |= fInDump
	}
	t.stats.Seeded++
}

// infer builds the inferred end of live record r, noticed at time at.
func (t *Tracker) infer(r *record, at int64) Inferred {
	in := Inferred{Flow: lifecycle(r, r.last, endInferred)}
	if at != 0 {
		in.Time = time.Unix(0, at).UTC()
	}
	t.entryOf(r, &in.Entry)
	t.stats.Inferred++
	return in
}
