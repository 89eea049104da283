package flow

import (
	"time"
)

// Expire runs the unreplied detector at time now: every flow still
// [UNREPLIED] Config.UnrepliedAfter after it began, and not reported yet,
// goes to emit, oldest first. Its cost is proportional to the flows due,
// not to the flows tracked: flows wait in a queue in the order they began
// (events arrive in time order), and a flow that gets its reply leaves the
// queue. A flow seeded from a dump joins the queue's end, so it may be
// reported later than UnrepliedAfter after its start, never earlier.
// Beyond Config.UnrepliedBurst reports in Config.UnrepliedInterval, due
// flows are counted into the interval's summary instead (ExpireSummary).
// emit must not call the Tracker.
func (t *Tracker) Expire(now time.Time, emit func(Unreplied)) {
	after := int64(t.cfg.UnrepliedAfter)
	if after <= 0 {
		return
	}
	n := now.UnixNano()
	for t.pend.head != nilIdx {
		i := t.pend.head
		r := t.recs.at(i)
		if r.first+after > n {
			return
		}
		t.unlinkPending(i, r)
		r.flags |= fWarned
		u := Unreplied{
			Time:       now,
			FirstSeen:  time.Unix(0, r.first).UTC(),
			Age:        time.Duration(n - r.first),
			SeenFrom:   r.seenFrom(),
			LowerBound: r.flags&fExact == 0,
			NetNS:      netnsOf(r.key.ns),
		}
		d := destOf(&r.key)
		count, since := t.dests.warn(d, r.first)
		if !t.burst.admit(d, n) {
			// Beyond the interval's budget: counted into its summary
			// (ExpireSummary), not reported alone.
			t.stats.UnrepliedSummarised++
			continue
		}
		t.entryOf(r, &u.Entry)
		u.Repeats, u.RepeatsSince = count, time.Unix(0, since).UTC()
		t.stats.UnrepliedWarnings++
		emit(u)
	}
}

func (t *Tracker) pushPending(i uint32, r *record) {
	r.dlPrev, r.dlNext = t.pend.tail, nilIdx
	if t.pend.tail != nilIdx {
		t.recs.at(t.pend.tail).dlNext = i
	} else {
		t.pend.head = i
	}
	t.pend.tail = i
	r.flags |= fPending
}

func (t *Tracker) unlinkPending(i uint32, r *record) {
	if r.dlPrev != nilIdx {
		t.recs.at(r.dlPrev).dlNext = r.dlNext
	} else {
		t.pend.head = r.dlNext
	}
	if r.dlNext != nilIdx {
		t.recs.at(r.dlNext).dlPrev = r.dlPrev
	} else {
		t.pend.tail = r.dlPrev
	}
	r.dlPrev, r.dlNext = nilIdx, nilIdx
	r.flags &^= fPending
}

// NextExpiry returns when Expire or ExpireSummary next has something to
// do: the oldest flow waiting for its reply turns UnrepliedAfter old, or
// the interval holding summarised flows ends. ok is false when neither
// will ever have anything to do without new events, so that a caller that
// runs them on a timer can let it sleep.
func (t *Tracker) NextExpiry() (due time.Time, ok bool) {
	var next int64
	if after := int64(t.cfg.UnrepliedAfter); after > 0 && t.pend.head != nilIdx {
		next, ok = t.recs.at(t.pend.head).first+after, true
	}
	if b := &t.burst; b.flows > 0 && (!ok || b.start+b.interval < next) {
		next, ok = b.start+b.interval, true
	}
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, next), true
}
