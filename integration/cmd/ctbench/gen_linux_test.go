//go:build integration

package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRotationTake(t *testing.T) {
	r := newRotation(3, 4)
	var got [][2]int
	for _, n := range []int{2, 3, 3, 1, 3} {
		r.take(n, func(ns, k int) { got = append(got, [2]int{ns, k}) })
	}
	// Each tick to the next namespace; the fourth tick's namespace 0 has
	// had 2 + 1; the last tick is split: namespace 1 is full at 4.
	want := [][2]int{{0, 2}, {1, 3}, {2, 3}, {0, 1}, {1, 1}, {2, 1}, {0, 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("take (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{4, 4, 4}, r.got); diff != "" {
		t.Errorf("shares (-want +got):\n%s", diff)
	}
}

// TestRotationEven checks that ticks of any sizes give every namespace
// exactly its share of a spread run, the operations in order.
func TestRotationEven(t *testing.T) {
	const nns = 7
	ops := spreadOps(1000, nns)
	if ops%nns != 0 || ops < 1000 || ops >= 1000+nns {
		t.Fatalf("spreadOps(1000, %d) = %d", nns, ops)
	}
	r := newRotation(nns, ops/nns)
	perNS := make([]int, nns)
	dealt := 0
	for size := 1; dealt < ops; size = size%13 + 1 {
		n := min(size, ops-dealt)
		sum := 0
		r.take(n, func(ns, k int) {
			if k <= 0 {
				t.Errorf("a run of %d operations", k)
			}
			perNS[ns] += k
			sum += k
		})
		if sum != n {
			t.Fatalf("dealt %d of a tick of %d", sum, n)
		}
		dealt += n
	}
	for ns, c := range perNS {
		if c != ops/nns {
			t.Errorf("namespace %d got %d operations, want %d", ns, c, ops/nns)
		}
	}
}
