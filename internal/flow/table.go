package flow

// nilIdx ends the intrusive lists and marks "no record".
const nilIdx = ^uint32(0)

// chunkBits sizes the slab's chunks: 1024 records per chunk keeps the
// waste of a small tracker low and the chunk directory of a million-flow
// tracker short, and growing never copies records (no reallocation spike).
const chunkBits = 10

// slab is a growable array of fixed-size values addressed by uint32 index.
// Values live in chunks that never move, so indices stay valid and T
// (which holds no pointers) is allocated in memory the garbage collector
// does not scan.
type slab[T any] struct {
	chunks []*[1 << chunkBits]T
	n      uint32 // indices handed out so far
}

func (s *slab[T]) at(i uint32) *T {
	return &s.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

// grow hands out the next never-used index.
func (s *slab[T]) grow() uint32 {
	i := s.n
	if int(i>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, new([1 << chunkBits]T))
	}
	s.n++
	return i
}

// pool is a slab with a free list for values that are not records (the
// side entries of NATed flows and of flows with a master, and the master
// tuples).
type pool[T any] struct {
	slab[T]
	free []uint32
}

func (p *pool[T]) alloc() uint32 {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		return i
	}
	return p.grow()
}

func (p *pool[T]) release(i uint32) {
	var zero T
	*p.at(i) = zero
	p.free = append(p.free, i)
}

// index is an open-addressing hash table (linear probing, backward-shift
// deletion) from a flow's key to its record index. A slot is one uint64:
// the low 32 bits of the key's hash above the record index plus one, so
// that an empty slot is 0, most mismatches are rejected without touching
// the record, and the table can be resized without rehashing keys. At most
// three quarters full, it costs 8 to 16 bytes per flow; a Go map with the
// 44-byte key would cost about five times that.
type index struct {
	slots []uint64
	mask  uint32
	n     int
}

const minIndexSlots = 64

func slotOf(h uint64, i uint32) uint64 { return uint64(uint32(h))<<32 | uint64(i+1) }

func slotIdx(s uint64) uint32 { return uint32(s) - 1 }

func slotHome(s uint64, mask uint32) uint32 { return uint32(s>>32) & mask }

// insert adds record i with hash h; the key must not be present.
func (x *index) insert(h uint64, i uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.resize()
	}
	x.place(slotOf(h, i))
	x.n++
}

func (x *index) place(s uint64) {
	for p := slotHome(s, x.mask); ; p = (p + 1) & x.mask {
		if x.slots[p] == 0 {
			x.slots[p] = s
			return
		}
	}
}

func (x *index) resize() {
	n := 2 * len(x.slots)
	if n < minIndexSlots {
		n = minIndexSlots
	}
	old := x.slots
	x.slots = make([]uint64, n)
	x.mask = uint32(n - 1)
	for _, s := range old {
		if s != 0 {
			x.place(s)
		}
	}
}

// remove deletes record i, whose hash is h, and closes the gap by moving
// later entries of the probe sequence back, so that no tombstones slow
// lookups down.
func (x *index) remove(h uint64, i uint32) {
	if len(x.slots) == 0 {
		return
	}
	want := slotOf(h, i)
	p := uint32(h) & x.mask
	for x.slots[p] != want {
		if x.slots[p] == 0 {
			return
		}
		p = (p + 1) & x.mask
	}
	x.n--
	for j := p; ; {
		j = (j + 1) & x.mask
		s := x.slots[j]
		if s == 0 {
			break
		}
		// The entry at j may move to the hole at p unless its home lies
		// cyclically in (p, j].
		home := slotHome(s, x.mask)
		if (j > p && (home <= p || home > j)) || (j < p && home <= p && home > j) {
			x.slots[p] = s
			p = j
		}
	}
	x.slots[p] = 0
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
		if m := t.nat.at(r.nat - 1).master; m != 0 {
			t.masters.release(m - 1)
		}
		t.nat.release(r.nat - 1)
		r.nat = 0
	}
	t.live--
	c := t.counts.at(r.key.ns)
	c.tracked--
	if r.flags&fDumpOnly != 0 {
		r.flags &^= fDumpOnly
		c.seeded--
	}
}
