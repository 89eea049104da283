package flow

import (
	"hash/maphash"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Config sizes a Tracker and tunes its detectors. Start from DefaultConfig:
// New fills in zero sizes, but a zero UnrepliedAfter disables the
// unreplied detector.
type Config struct {
	// MaxFlows bounds the flows tracked. When a new flow would exceed it,
	// the least recently seen flow is forgotten (evicted) without a
	// lifecycle record, and counted. Memory is about 170 bytes per flow,
	// 210 with NAT (see BenchmarkMemory). Default 1<<20, for a
	// million-entry table.
	MaxFlows int
	// UnrepliedAfter is how long a flow may stay [UNREPLIED] before Expire
	// reports it. 0 (or negative) disables the detector. Default 5s.
	UnrepliedAfter time.Duration
	// RepeatWindow is how long a destination with unreplied flows is
	// remembered for Unreplied.Repeats after its last one. Default 10
	// minutes.
	RepeatWindow time.Duration
	// MaxDestinations bounds the destinations remembered for repeat
	// counting; the least recently reported is forgotten first. Default
	// 65536.
	MaxDestinations int
	// Tombstones bounds the ended flows remembered (key and end time, in a
	// flow-sized slot), so that a dump taken while they ended does not
	// bring them back to life: Seed and Reconcile skip an entry that ended
	// at or after the dump began. Default MaxFlows/32, at least 64 and at
	// most 32768; negative disables.
	Tombstones int
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		MaxFlows:        1 << 20,
		UnrepliedAfter:  5 * time.Second,
		RepeatWindow:    10 * time.Minute,
		MaxDestinations: 1 << 16,
	}
}

// Stats counts what a Tracker did since it was created.
type Stats struct {
	// Tracked is the number of flows tracked now (Len).
	Tracked int
	// Tombstones is the number of ended flows remembered now.
	Tombstones int
	// New counts flows first seen on their NEW event.
	New uint64
	// Adopted counts flows first seen on an UPDATE or DESTROY: their NEW
	// was lost or predates the tracker.
	Adopted uint64
	// Seeded counts flows first seen in a dump (Seed, Reconcile).
	Seeded uint64
	// Merged counts NEW events for flows a dump had already shown
	// (Result.Merged).
	Merged uint64
	// Ended counts lifecycles produced by DESTROY events, of tracked flows
	// or not.
	Ended uint64
	// Inferred counts ends deduced without a DESTROY: from Reconcile, or
	// from a NEW for a key still tracked.
	Inferred uint64
	// Evicted counts flows forgotten to stay within MaxFlows.
	Evicted uint64
	// Unchanged counts UPDATEs of tracked flows that changed nothing but
	// the timeout and counters.
	Unchanged uint64
	// Stale counts UPDATEs ignored because they are not later than the
	// end of their flow (Result.Known and Changed false).
	Stale uint64
	// UnrepliedWarnings counts the reports of the unreplied detector.
	UnrepliedWarnings uint64
	// Destinations is the number of destinations remembered for repeat
	// counting now; DestinationsEvicted counts those forgotten to stay
	// within MaxDestinations.
	Destinations        int
	DestinationsEvicted uint64
}

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
}

// Event returns the DESTROY event the kernel would have sent, as far as the
// tracker knows it, for writing the inferred end like a real one.
func (in *Inferred) Event() model.Event {
	return model.Event{Type: model.EventDestroy, Time: in.Time, Entry: in.Entry}
}

// list is a doubly linked list threaded through records by index.
type list struct{ head, tail uint32 }

var emptyList = list{nilIdx, nilIdx}

// Tracker follows the flows of one network namespace's conntrack table
// through their events. It is not safe for concurrent use: the watch loop
// owns it.
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

	dests dests
	now   int64 // the latest event time seen, for events without one
	stats Stats
	ended Inferred

	// reconciling is set from BeginReconcile to EndReconcile, whose
	// sweep spares flows seen at or after reconcileStart.
	reconciling    bool
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
	}
}

// Len returns the number of flows tracked.
func (t *Tracker) Len() int { return t.live }

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Tracked, s.Tombstones = t.live, t.dead
	s.Destinations, s.DestinationsEvicted = len(t.dests.byKey), t.dests.evicted
	return s
}

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

// Seed tracks an entry of a table dump (the startup dump): its first sight
// is a snapshot, and its start is unknown unless the entry carries the
// kernel's start timestamp. ev.Time should be the time the dump began. An
// entry already tracked refreshes what the tracker knows (state, status,
// counters) without reporting a change; an entry whose flow ended at or
// after ev.Time is skipped: the dump saw it before its DESTROY arrived.
func (t *Tracker) Seed(ev *model.Event) {
	t.seedEntry(&ev.Entry, t.eventTime(ev), false)
}

// Reconcile compares the tracker with a dump of the table that began at
// dumpStart: present yields its entries. A tracked flow the dump does not
// list and that was last seen before dumpStart is gone without a DESTROY
// having been seen (the event was lost): emit receives its inferred end,
// and the flow is forgotten. Flows the dump lists but the tracker does not
// know are seeded (as by Seed, with time dumpStart); flows the dump lists
// and the tracker knows get their state, status and counters refreshed,
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

// Expire runs the unreplied detector at time now: every flow still
// [UNREPLIED] Config.UnrepliedAfter after it began, and not reported yet,
// goes to emit, oldest first. Its cost is proportional to the flows due,
// not to the flows tracked: flows wait in a queue in the order they began
// (events arrive in time order), and a flow that gets its reply leaves the
// queue. A flow seeded from a dump joins the queue's end, so it may be
// reported later than UnrepliedAfter after its start, never earlier. emit
// must not call the Tracker.
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
		}
		t.entryOf(r, &u.Entry)
		count, since := t.dests.warn(destOf(&r.key), r.first)
		u.Repeats, u.RepeatsSince = count, time.Unix(0, since).UTC()
		t.stats.UnrepliedWarnings++
		emit(u)
	}
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
	k := makeKey(e)
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
			t.ended = t.infer(r, ts)
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
	k := makeKey(e)
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
	k := makeKey(e)
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
		t.detach(i, r)
	}
	i, _ = t.admit(i, &k, h)
	r := t.start(i, e, ts, SeenFromSnapshot)
	r.flags |= fDumpOnly
	if inDump {
		r.flags |= fInDump
	}
	t.stats.Seeded++
}

// lookup returns the index of the record (live or dead) for k, whose hash
// is h, or nilIdx.
func (t *Tracker) lookup(k *flowKey, h uint64) uint32 {
	x := &t.idx
	if x.n == 0 {
		return nilIdx
	}
	tag := uint32(h)
	for p := tag & x.mask; ; p = (p + 1) & x.mask {
		s := x.slots[p]
		if s == 0 {
			return nilIdx
		}
		if uint32(s>>32) == tag {
			if i := slotIdx(s); t.recs.at(i).key.equal(k) {
				return i
			}
		}
	}
}

// admit makes room for a live flow and returns its record: i when it is
// an existing, detached record of the same key, else a new one entered in
// the index under h. It returns the number of flows evicted.
func (t *Tracker) admit(i uint32, k *flowKey, h uint64) (uint32, int) {
	evicted := 0
	if t.live >= t.cfg.MaxFlows {
		t.evict()
		evicted = 1
	}
	if i == nilIdx {
		i = t.newRecord()
		t.idx.insert(h, i)
	}
	t.recs.at(i).key = *k
	return i, evicted
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
	t.pushFront(&t.lru, i, r)
	t.live++
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

// How absorb treats an entry.
const (
	absorbEvent      = iota // an event about a tracked flow: report changes, time replies
	absorbDump              // a dump's view of a tracked flow: no report, no times
	absorbFirst             // the first sight of a flow after its start
	absorbFirstTimed        // the flow's NEW
)

// absorb brings record i (nilIdx for a record not yet live) up to date with
// entry e, seen at ts, and returns what changed.
func (t *Tracker) absorb(i uint32, r *record, e *model.Entry, ts int64, how int) Transition {
	tr := Transition{Proto: e.Proto}
	first := how == absorbFirst || how == absorbFirstTimed
	timed := how == absorbEvent || how == absorbFirstTimed
	if how == absorbEvent {
		r.flags &^= fDumpOnly
	}

	if e.Fields.Has(model.FieldStart) && r.flags&fExact == 0 && !e.Start.IsZero() {
		// The kernel's start timestamp makes the times exact; the reply
		// and assured times move with their origin.
		ks := e.Start.UnixNano()
		if r.first != 0 {
			shift := float32(float64(r.first-ks) / 1e9)
			if r.replyAfter >= 0 {
				r.replyAfter = max(r.replyAfter+shift, 0)
			}
			if r.assuredAfter >= 0 {
				r.assuredAfter = max(r.assuredAfter+shift, 0)
			}
		}
		r.first = ks
		r.flags |= fExact | fKernelStart
	}
	if r.first == 0 && ts != 0 {
		r.first = ts
		if i != nilIdx && r.flags&(fReplied|fPending|fWarned) == 0 && t.cfg.UnrepliedAfter > 0 {
			t.pushPending(i, r)
		}
	}
	if how != absorbDump {
		r.last = max(r.last, ts)
	}

	if e.Fields.Has(model.FieldState) && e.Proto.HasState() {
		if r.flags&fHasState != 0 {
			tr.HasStates, tr.From, tr.To = true, r.state, e.State
		}
		r.state = e.State
		r.flags |= fHasState
		r.pushState(e.State)
	}

	s := e.Status &^ ignoredStatus
	if !first {
		tr.Gained, tr.Lost = s&^r.status, r.status&^s
	}
	r.status = s
	if s&model.StatusSeenReply != 0 && r.flags&fReplied == 0 {
		r.flags |= fReplied
		if timed {
			r.replyAfter = afterSeconds(r.first, ts)
		}
		if r.flags&fPending != 0 {
			t.unlinkPending(i, r)
		}
		t.dests.replied(destOf(&r.key))
	}
	if s&model.StatusAssured != 0 && r.flags&fAssured == 0 {
		r.flags |= fAssured
		if timed {
			r.assuredAfter = afterSeconds(r.first, ts)
		}
	}

	if e.Fields.Has(model.FieldMark) {
		if r.flags&fHasMark != 0 && r.mark != e.Mark {
			tr.Changed |= AttrMark
		}
		r.mark = e.Mark
		r.flags |= fHasMark
	}
	if e.Fields.Has(model.FieldLabels) {
		lh := labelsHash(e.Labels)
		if r.flags&fHasLabels != 0 && r.labels != lh {
			tr.Changed |= AttrLabels
		}
		r.labels = lh
		r.flags |= fHasLabels
	}
	if e.Fields.Has(model.FieldOrigCounters) {
		r.counters[0], r.counters[1] = e.Orig.Packets, e.Orig.Bytes
		r.flags |= fHasCounters
	}
	if e.Fields.Has(model.FieldReplyCounters) {
		r.counters[2], r.counters[3] = e.Reply.Packets, e.Reply.Bytes
		r.flags |= fHasCounters
	}

	if how == absorbDump {
		return Transition{}
	}
	if r.first != 0 && ts != 0 {
		tr.After, tr.AfterKnown = time.Duration(max(ts-r.first, 0)), true
	}
	return tr
}

// labelsHash is FNV-1a over the label names, enough to notice a change.
func labelsHash(labels []string) uint32 {
	h := uint32(2166136261)
	for _, l := range labels {
		for i := 0; i < len(l); i++ {
			h = (h ^ uint32(l[i])) * 16777619
		}
		h = (h ^ 0xff) * 16777619
	}
	return h
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

// entryOf rebuilds the entry of r as far as the tracker keeps it.
func (t *Tracker) entryOf(r *record, e *model.Entry) {
	k := &r.key
	*e = model.Entry{Family: k.family, Proto: k.proto, Status: r.status, State: r.state,
		Mark: r.mark, Zone: k.zone, ID: k.id}
	e.Orig.Src, e.Orig.Dst = addrFrom16(k.family, k.src), addrFrom16(k.family, k.dst)
	unpackIDs(k.proto, k.ports, &e.Orig)
	if r.nat != 0 {
		n := t.nat.at(r.nat - 1)
		e.Reply.Src, e.Reply.Dst = addrFrom16(k.family, n.src), addrFrom16(k.family, n.dst)
		unpackIDs(k.proto, n.ids, &e.Reply)
	} else {
		e.Reply = inverse(e)
	}
	if r.flags&fHasState != 0 {
		e.Fields |= model.FieldState
	}
	if r.flags&fHasMark != 0 {
		e.Fields |= model.FieldMark
	}
	if k.zone != 0 {
		e.Fields |= model.FieldZone
	}
	if k.id != 0 {
		e.Fields |= model.FieldID
	}
	if r.flags&fHasCounters != 0 {
		e.Fields |= model.FieldOrigCounters | model.FieldReplyCounters
		e.Orig.Packets, e.Orig.Bytes = r.counters[0], r.counters[1]
		e.Reply.Packets, e.Reply.Bytes = r.counters[2], r.counters[3]
	}
}

func (t *Tracker) newRecord() uint32 {
	if i := t.free; i != nilIdx {
		t.free = t.recs.at(i).lruNext
		return i
	}
	return t.recs.grow()
}

// release returns record i, out of every list and of the index, to the
// free list.
func (t *Tracker) release(i uint32, r *record) {
	t.idx.remove(r.key.hash(t.seed), i)
	*r = record{lruNext: t.free}
	t.free = i
}

// detach takes record i (live or dead) out of its lists, keeping it in the
// index, to be started afresh.
func (t *Tracker) detach(i uint32, r *record) {
	if r.flags&fDead != 0 {
		t.unlink(&t.tombs, i, r)
		t.dead--
		return
	}
	t.unlink(&t.lru, i, r)
	if r.flags&fPending != 0 {
		t.unlinkPending(i, r)
	}
	if r.nat != 0 {
		t.nat.release(r.nat - 1)
		r.nat = 0
	}
	t.live--
}

// bury turns live record i into a tombstone of a flow that ended at time
// at.
func (t *Tracker) bury(i uint32, at int64) {
	r := t.recs.at(i)
	t.detach(i, r)
	t.entomb(i, r, at)
}

// entomb makes record i, in no list, a tombstone of a flow that ended at
// time at, and forgets the oldest tombstones beyond Config.Tombstones.
func (t *Tracker) entomb(i uint32, r *record, at int64) {
	k := r.key
	*r = record{key: k, last: at, flags: fDead}
	t.pushBack(&t.tombs, i, r)
	t.dead++
	for t.dead > t.cfg.Tombstones {
		j := t.tombs.head
		d := t.recs.at(j)
		t.unlink(&t.tombs, j, d)
		t.dead--
		t.release(j, d)
	}
}

// evict forgets the least recently seen flow.
func (t *Tracker) evict() {
	i := t.lru.tail
	r := t.recs.at(i)
	t.detach(i, r)
	t.release(i, r)
	t.stats.Evicted++
}

func (t *Tracker) moveFront(i uint32, r *record) {
	if t.lru.head != i {
		t.unlink(&t.lru, i, r)
		t.pushFront(&t.lru, i, r)
	}
}

func (t *Tracker) pushFront(l *list, i uint32, r *record) {
	r.lruPrev, r.lruNext = nilIdx, l.head
	if l.head != nilIdx {
		t.recs.at(l.head).lruPrev = i
	} else {
		l.tail = i
	}
	l.head = i
}

func (t *Tracker) pushBack(l *list, i uint32, r *record) {
	r.lruPrev, r.lruNext = l.tail, nilIdx
	if l.tail != nilIdx {
		t.recs.at(l.tail).lruNext = i
	} else {
		l.head = i
	}
	l.tail = i
}

func (t *Tracker) unlink(l *list, i uint32, r *record) {
	if r.lruPrev != nilIdx {
		t.recs.at(r.lruPrev).lruNext = r.lruNext
	} else {
		l.head = r.lruNext
	}
	if r.lruNext != nilIdx {
		t.recs.at(r.lruNext).lruPrev = r.lruPrev
	} else {
		l.tail = r.lruPrev
	}
	r.lruPrev, r.lruNext = nilIdx, nilIdx
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
