package flow

import (
	"hash/maphash"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Result is what the tracker learnt from one event. Handing
// &res.Transition or &res.Flow to zerolog's Object makes res escape to the
// heap; a Result kept in a long-lived variable (a field of the watch
// loop's state) costs no allocation.
type Result struct {
	// Known reports whether the flow was tracked before this event.
	Known bool
	// Changed reports whether the event changed something beyond the
	// timeout and counters: always for NEW and DESTROY, and for the first
	// sight of a flow; for an UPDATE of a tracked flow, when Transition is
	// not zero. An UPDATE with Changed false is worth counting, not
	// writing.
	Changed bool
	// HasTransition reports whether Transition is valid: on an UPDATE or
	// DESTROY of a tracked flow that changed its state, status bits, mark
	// or labels. A NEW, and the first sight of a flow, have nothing to
	// compare with.
	HasTransition bool
	// Transition is what changed, for the "transition" key.
	Transition Transition
	// Flow is the flow's lifecycle; valid on DESTROY, tracked flow or not.
	Flow Lifecycle
	// Evicted is the number of flows evicted to make room for this one.
	Evicted int
	// Merged reports a NEW for a flow a dump had already shown, with no
	// live event in between: the flow was created while the dump ran, so
	// the dump and the NEW describe the same flow, which now counts as
	// seen from its NEW. A caller that wrote the dump's entry as a
	// snapshot record need not write the NEW too.
	Merged bool
	// Ended is set when a NEW came for a key still tracked: the earlier
	// flow's DESTROY was lost (the kernel reuses ids for a re-created flow
	// with the same tuple), and Ended reports its inferred end. It points
	// into the Tracker and is valid until its next call.
	Ended *Inferred
}

// Tracker follows flows through their events: those of one network
// namespace, or of every namespace one socket listens to
// (model.Event.NetNS says which), each namespace's flows apart. It is not
// safe for concurrent use: the watch loop owns it.
type Tracker struct {
	cfg  Config
	seed uint64

	recs  slab[record]
	free  uint32 // free records, linked through lruNext
	idx   index
	nat   pool[natTuple]
	live  int
	dead  int
	lru   list // live records, most recently seen first (lru links)
	tombs list // dead records, oldest first (lru links)
	pend  list // records awaiting the unreplied detector, in deadline order (dl links)

	// masters are the master tuples of the flows that have one
	// (natTuple.master).
	masters pool[masterTuple]

	dests dests
	burst burst
	now   int64 // the latest event time seen, for events without one
	stats Stats
	ended Inferred
	// counts are the live and dump-seeded flows per namespace.
	counts nsCounts

	// reconciling is set from BeginReconcile to EndReconcile, whose
	// sweep of the flows of namespace reconcileNS (an nsKey) spares those
	// seen at or after reconcileStart.
	reconciling    bool
	reconcileNS    uint32
	reconcileStart int64
}

// New returns a Tracker configured by cfg, zero sizes replaced by their
// defaults.
func New(cfg Config) *Tracker {
	def := DefaultConfig()
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	if cfg.UnrepliedAfter < 0 {
		cfg.UnrepliedAfter = 0
	}
	if cfg.RepeatWindow <= 0 {
		cfg.RepeatWindow = def.RepeatWindow
	}
	if cfg.MaxDestinations <= 0 {
		cfg.MaxDestinations = def.MaxDestinations
	}
	if cfg.UnrepliedBurst == 0 {
		cfg.UnrepliedBurst = def.UnrepliedBurst
	}
	if cfg.UnrepliedInterval <= 0 {
		cfg.UnrepliedInterval = def.UnrepliedInterval
	}
	switch {
	case cfg.Tombstones == 0:
		cfg.Tombstones = min(max(cfg.MaxFlows/32, 64), 32768)
	case cfg.Tombstones < 0:
		cfg.Tombstones = 0
	}
	return &Tracker{
		cfg:   cfg,
		seed:  maphash.Bytes(maphash.MakeSeed(), nil),
		free:  nilIdx,
		lru:   emptyList,
		tombs: emptyList,
		pend:  emptyList,
		dests: newDests(cfg.MaxDestinations, cfg.RepeatWindow),
		burst: newBurst(cfg.UnrepliedBurst, cfg.UnrepliedInterval),
	}
}

// Len returns the number of flows tracked.
func (t *Tracker) Len() int { return t.live }

// Observe follows one NEW, UPDATE or DESTROY event, in arrival order;
// ev.Time is the event's time (when zero, the latest time seen is used). A
// snapshot event is handed to Seed. Observe does not allocate once the
// tracker's tables have grown to the flows' number.
func (t *Tracker) Observe(ev *model.Event) Result {
	switch ev.Type {
	case model.EventNew:
		return t.observeNew(ev)
	case model.EventUpdate:
		return t.observeUpdate(ev)
	case model.EventDestroy:
		return t.observeDestroy(ev)
	case model.EventSnapshot:
		t.Seed(ev)
	}
	return Result{}
}

// eventTime returns ev's time in Unix nanoseconds, or the latest time seen
// when it has none, and advances the latest time.
func (t *Tracker) eventTime(ev *model.Event) int64 {
	return t.timeOf(ev.Time)
}

func (t *Tracker) timeOf(tm time.Time) int64 {
	if tm.IsZero() {
		return t.now
	}
	ns := tm.UnixNano()
	t.now = max(t.now, ns)
	return ns
}

func (t *Tracker) observeNew(ev *model.Event) Result {
	ts := t.eventTime(ev)
	e := &ev.Entry
	k := makeKey(e, nsKey(ev.NetNS))
	h := k.hash(t.seed)
	res := Result{Changed: true}
	i := t.lookup(&k, h)
	if i != nilIdx {
		r := t.recs.at(i)
		switch {
		case r.flags&fDumpOnly != 0:
			// The dump caught the flow this NEW announces.
			res.Known, res.Merged = true, true
			t.stats.Merged++
		case r.flags&fDead == 0:
			// A NEW for a live key: the kernel re-created the flow with
			// the same tuple and id, and the old one's DESTROY was lost.
			t.ended = t.infer(r, ts, InferReused)
			res.Ended = &t.ended
		}
		t.detach(i, r)
	}
	i, res.Evicted = t.admit(i, &k, h)
	t.start(i, e, ts, SeenFromNew)
	t.stats.New++
	return res
}

func (t *Tracker) observeUpdate(ev *model.Event) Result {
	ts := t.eventTime(ev)
	e := &ev.Entry
	k := makeKey(e, nsKey(ev.NetNS))
	h := k.hash(t.seed)
	i := t.lookup(&k, h)
	if i != nilIdx {
		r := t.recs.at(i)
		if r.flags&fDead == 0 {
			tr := t.absorb(i, r, e, ts, absorbEvent)
			t.moveFront(i, r)
			res := Result{Known: true, Changed: !tr.IsZero()}
			if res.Changed {
				res.HasTransition, res.Transition = true, tr
			} else {
				t.stats.Unchanged++
			}
			return res
		}
		if ts <= r.last {
			// Older than the flow's end: an event that overtook
			// another, not news.
			t.stats.Stale++
			return Result{}
		}
		// An UPDATE for an ended flow, after its end: the flow was
		// re-created with the same id and its NEW lost.
		t.detach(i, r)
	}
	res := Result{Changed: true}
	i, res.Evicted = t.admit(i, &k, h)
	t.start(i, e, ts, SeenFromEvent)
	t.stats.Adopted++
	return res
}

func (t *Tracker) observeDestroy(ev *model.Event) Result {
	ts := t.eventTime(ev)
	e := &ev.Entry
	k := makeKey(e, nsKey(ev.NetNS))
	h := k.hash(t.seed)
	how := endOf(ev)
	res := Result{Changed: true}
	t.stats.Ended++
	i := t.lookup(&k, h)
	if i != nilIdx {
		if r := t.recs.at(i); r.flags&fDead == 0 {
			tr := t.absorb(i, r, e, ts, absorbEvent)
			res.Known = true
			if !tr.IsZero() {
				res.HasTransition, res.Transition = true, tr
			}
			res.Flow = lifecycle(r, t.endTime(r, e, ts), how)
			t.bury(i, ts)
			return res
		}
	}
	// Not tracked (or a second DESTROY): the lifecycle is what the event
	// says, and a tombstone keeps a later dump from bringing the flow back.
	var scratch record
	scratch.key = k
	t.initRecord(&scratch, e, ts, SeenFromEvent)
	res.Flow = lifecycle(&scratch, t.endTime(&scratch, e, ts), how)
	switch {
	case i != nilIdx:
		r := t.recs.at(i)
		t.detach(i, r)
		t.entomb(i, r, ts)
	case t.cfg.Tombstones > 0:
		i = t.newRecord()
		t.idx.insert(h, i)
		r := t.recs.at(i)
		r.key = k
		t.entomb(i, r, ts)
	}
	return res
}

// endTime returns when the flow ended: the kernel's stop timestamp when
// the flow's start is the kernel's too (the same clock), else the event's
// time.
func (t *Tracker) endTime(r *record, e *model.Entry, ts int64) int64 {
	if r.flags&fKernelStart != 0 && e.Fields.Has(model.FieldStop) && !e.Stop.IsZero() {
		return e.Stop.UnixNano()
	}
	return ts
}

// start initialises record i from a flow's first event or dump entry and
// makes it live.
func (t *Tracker) start(i uint32, e *model.Entry, ts int64, from SeenFrom) *record {
	r := t.recs.at(i)
	t.initRecord(r, e, ts, from)
	if inv := inverse(e); !sameIDs(e.Proto, &inv, &e.Reply) {
		j := t.nat.alloc()
		*t.nat.at(j) = natTuple{src: e.Reply.Src.As16(), dst: e.Reply.Dst.As16(), ids: packIDs(e.Proto, &e.Reply)}
		r.nat = j + 1
	}
	if e.Fields.Has(model.FieldMaster) {
		t.keepMaster(r, e)
	}
	t.pushFront(&t.lru, i, r)
	t.live++
	t.counts.at(r.key.ns).tracked++
	if r.flags&fReplied == 0 && r.first != 0 && t.cfg.UnrepliedAfter > 0 {
		t.pushPending(i, r)
	}
	return r
}

// initRecord fills r (whose key is set) from the flow's first sight,
// leaving it out of every list.
func (t *Tracker) initRecord(r *record, e *model.Entry, ts int64, from SeenFrom) {
	*r = record{
		key:          r.key,
		first:        ts,
		last:         ts,
		replyAfter:   -1,
		assuredAfter: -1,
		lruPrev:      nilIdx,
		lruNext:      nilIdx,
		dlPrev:       nilIdx,
		dlNext:       nilIdx,
	}
	r.setSeenFrom(from)
	how := absorbFirst
	if from == SeenFromNew {
		r.flags |= fExact
		// A NEW that already shows the reply (an entry created through
		// ctnetlink) got it at once.
		how = absorbFirstTimed
	}
	t.absorb(nilIdx, r, e, ts, how)
}
