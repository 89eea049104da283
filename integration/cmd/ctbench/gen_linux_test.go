//go:build integration

package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSpreadTick(t *testing.T) {
	var got [][]int
	spreadTick(5, 7, 3, nil, func(ns int, ops []int) {
		got = append(got, append([]int{ns}, ops...))
	})
	// Namespace first, then its operations.
	want := [][]int{{2, 5, 8, 11}, {0, 6, 9}, {1, 7, 10}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spreadTick(5, 7, 3) (-want +got):\n%s", diff)
	}
}

// TestSpreadTickEven checks that ticks of any sizes give every namespace
// exactly its share of a spread run, each operation once.
func TestSpreadTickEven(t *testing.T) {
	const nns = 7
	ops := spreadOps(1000, nns)
	if ops%nns != 0 || ops < 1000 || ops >= 1000+nns {
		t.Fatalf("spreadOps(1000, %d) = %d", nns, ops)
	}
	perNS := make([]int, nns)
	seen := make([]int, ops)
	var scratch []int
	for done, size := 0, 1; done < ops; size = size%13 + 1 {
		n := min(size, ops-done)
		scratch = spreadTick(done, n, nns, scratch, func(ns int, list []int) {
			for _, i := range list {
				if i%nns != ns {
					t.Errorf("operation %d sent to namespace %d", i, ns)
				}
				seen[i]++
				perNS[ns]++
			}
		})
		done += n
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("operation %d sent %d times", i, c)
		}
	}
	for ns, c := range perNS {
		if c != ops/nns {
			t.Errorf("namespace %d got %d operations, want %d", ns, c, ops/nns)
		}
	}
}
