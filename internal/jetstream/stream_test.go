package jetstream

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ctwatch/ctwatch/internal/servertest"
)

// The tests' servers are internal/servertest's; these check what a stream
// holds against the records a test published.

// wantIDs returns the message ids of records lo..hi of run.
func wantIDs(run string, lo, hi uint64) []string {
	var ids []string
	for s := lo; s <= hi; s++ {
		ids = append(ids, Record{RunID: run, Seq: s}.MsgID())
	}
	return ids
}

func checkStored(t testing.TB, js jetstream.JetStream, stream string, want []string) {
	t.Helper()
	got := servertest.StoredIDs(t, js, stream)
	if diff := cmp.Diff(want, got); diff != "" {
		seen := make(map[string]int, len(got))
		var dups, firstDup int
		for i, id := range got {
			if _, ok := seen[id]; ok {
				if dups == 0 {
					firstDup = i
				}
				dups++
			}
			seen[id] = i
		}
		t.Errorf("stream %s: %d messages, %d of them again (the first at %d), want %d once each in order (-want +got):\n%s",
			stream, len(got), dups, firstDup, len(want), diff)
	}
}

// checkStoredOnce checks that stream holds each of want exactly once and
// nothing else, in any order, and returns how many are not where the order
// of want puts them.
func checkStoredOnce(t testing.TB, js jetstream.JetStream, stream string, want []string) int {
	t.Helper()
	got := servertest.StoredIDs(t, js, stream)
	sorted := slices.Clone(got)
	index := make(map[string]int, len(want))
	for i, id := range want {
		index[id] = i
	}
	slices.SortStableFunc(sorted, func(a, b string) int {
		ia, oka := index[a]
		ib, okb := index[b]
		if !oka || !okb {
			return strings.Compare(a, b)
		}
		return ia - ib
	})
	if diff := cmp.Diff(want, sorted); diff != "" {
		t.Errorf("stream %s: %d messages, want %d once each (in seq order, -want +got):\n%s", stream, len(got), len(want), diff)
	}
	moved := 0
	for i, id := range got {
		if i >= len(want) || want[i] != id {
			moved++
		}
	}
	return moved
}
