package flow

// list is a doubly linked list threaded through records by index.
type list struct{ head, tail uint32 }

var emptyList = list{nilIdx, nilIdx}

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
