package flow

import (
	"testing"
)

func TestIndex(t *testing.T) {
	var x index
	ref := map[uint32]uint64{} // record index -> hash
	rnd := uint64(1)
	next := func() uint64 { rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17; return rnd }
	find := func(h uint64, i uint32) bool {
		if x.n == 0 {
			return false
		}
		for p := uint32(h) & x.mask; x.slots[p] != 0; p = (p + 1) & x.mask {
			if x.slots[p] == slotOf(h, i) {
				return true
			}
		}
		return false
	}
	for op := 0; op < 20000; op++ {
		i := uint32(next() % 500)
		if h, ok := ref[i]; ok {
			x.remove(h, i)
			delete(ref, i)
		} else {
			// Few distinct hash values, so that probe sequences collide.
			h := next() % 64
			if op%3 == 0 {
				h = next()
			}
			x.insert(h, i)
			ref[i] = h
		}
		if x.n != len(ref) {
			t.Fatalf("op %d: n = %d, want %d", op, x.n, len(ref))
		}
		if op%97 == 0 {
			for i, h := range ref {
				if !find(h, i) {
					t.Fatalf("op %d: record %d lost", op, i)
				}
			}
		}
	}
}
