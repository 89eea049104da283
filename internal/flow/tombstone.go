package flow

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
