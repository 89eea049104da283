package flow

import (
	"fmt"
	"maps"
)

// check verifies the tracker's internal invariants: the lists and the
// index agree with the counts and the flags, and the bounds hold.
func (t *Tracker) check() error {
	if t.live > t.cfg.MaxFlows {
		return fmt.Errorf("%d flows tracked, more than MaxFlows %d", t.live, t.cfg.MaxFlows)
	}
	if t.dead > t.cfg.Tombstones {
		return fmt.Errorf("%d tombstones, more than %d", t.dead, t.cfg.Tombstones)
	}
	walk := func(name string, l list, dead bool) (int, error) {
		n := 0
		prev := nilIdx
		for i := l.head; i != nilIdx; i = t.recs.at(i).lruNext {
			r := t.recs.at(i)
			if r.lruPrev != prev {
				return 0, fmt.Errorf("%s: record %d: prev %d, want %d", name, i, r.lruPrev, prev)
			}
			if (r.flags&fDead != 0) != dead {
				return 0, fmt.Errorf("%s: record %d: flags %#x", name, i, r.flags)
			}
			if got := t.lookup(&r.key, r.key.hash(t.seed)); got != i {
				return 0, fmt.Errorf("%s: record %d: lookup finds %d", name, i, got)
			}
			prev = i
			if n++; n > int(t.recs.n) {
				return 0, fmt.Errorf("%s: cycle", name)
			}
		}
		if l.tail != prev {
			return 0, fmt.Errorf("%s: tail %d, want %d", name, l.tail, prev)
		}
		return n, nil
	}
	live, err := walk("lru", t.lru, false)
	if err != nil {
		return err
	}
	dead, err := walk("tombs", t.tombs, true)
	if err != nil {
		return err
	}
	if live != t.live || dead != t.dead {
		return fmt.Errorf("lists hold %d live and %d dead records, counts say %d and %d", live, dead, t.live, t.dead)
	}
	if t.idx.n != live+dead {
		return fmt.Errorf("index holds %d records, lists %d", t.idx.n, live+dead)
	}
	n, prev := 0, nilIdx
	for i := t.pend.head; i != nilIdx; i = t.recs.at(i).dlNext {
		r := t.recs.at(i)
		if r.dlPrev != prev {
			return fmt.Errorf("pending: record %d: prev %d, want %d", i, r.dlPrev, prev)
		}
		if r.flags&(fPending|fDead|fReplied|fWarned) != fPending {
			return fmt.Errorf("pending: record %d: flags %#x", i, r.flags)
		}
		if r.first == 0 {
			return fmt.Errorf("pending: record %d: no start time", i)
		}
		prev = i
		if n++; n > live {
			return fmt.Errorf("pending: more records than live ones")
		}
	}
	if t.pend.tail != prev {
		return fmt.Errorf("pending: tail %d, want %d", t.pend.tail, prev)
	}
	flagged := 0
	for i := t.lru.head; i != nilIdx; i = t.recs.at(i).lruNext {
		if t.recs.at(i).flags&fPending != 0 {
			flagged++
		}
	}
	if flagged != n {
		return fmt.Errorf("%d records flagged pending, %d on the list", flagged, n)
	}
	counts := map[uint32]nsCount{}
	for i := t.lru.head; i != nilIdx; i = t.recs.at(i).lruNext {
		r := t.recs.at(i)
		c := counts[r.key.ns]
		c.tracked++
		if r.flags&fDumpOnly != 0 {
			c.seeded++
		}
		counts[r.key.ns] = c
	}
	for i := t.tombs.head; i != nilIdx; i = t.recs.at(i).lruNext {
		if t.recs.at(i).flags&fDumpOnly != 0 {
			return fmt.Errorf("tombstone %d flagged dump-only", i)
		}
	}
	kept := map[uint32]nsCount{}
	for k, c := range t.counts.dense {
		if c != (nsCount{}) {
			kept[uint32(k)] = c
		}
	}
	for k, c := range t.counts.more {
		if k < nsDense {
			return fmt.Errorf("namespace key %d counted in the map", k)
		}
		if *c != (nsCount{}) {
			kept[k] = *c
		}
	}
	if !maps.Equal(counts, kept) {
		return fmt.Errorf("per-namespace counts %v, the flows say %v", kept, counts)
	}
	// Every side entry (reply tuple, master) belongs to one live record,
	// and every master to one side entry: none leaks as flows end.
	sides, masters := 0, 0
	for i := t.lru.head; i != nilIdx; i = t.recs.at(i).lruNext {
		r := t.recs.at(i)
		if r.nat == 0 {
			continue
		}
		sides++
		n := t.nat.at(r.nat - 1)
		if n.master != 0 {
			masters++
		} else if !n.hasReply() {
			return fmt.Errorf("record %d: a side entry with neither a reply tuple nor a master", i)
		}
	}
	if inUse := int(t.nat.n) - len(t.nat.free); inUse != sides {
		return fmt.Errorf("%d side entries in use, the live records hold %d", inUse, sides)
	}
	if inUse := int(t.masters.n) - len(t.masters.free); inUse != masters {
		return fmt.Errorf("%d master tuples in use, the side entries hold %d", inUse, masters)
	}
	if len(t.dests.byKey) > t.cfg.MaxDestinations {
		return fmt.Errorf("%d destinations, more than %d", len(t.dests.byKey), t.cfg.MaxDestinations)
	}
	return nil
}
