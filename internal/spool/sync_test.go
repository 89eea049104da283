package spool

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// syncCounts are the sync counters of a Stats.
type syncCounts struct{ Syncs, Unsynced uint64 }

func syncsOf(s *Spool) syncCounts {
	st := s.Stats()
	return syncCounts{st.Syncs, st.Unsynced}
}

// TestSyncLastRecordsOfABurst checks that the records after the last
// sync of a burst are synced by the idle sync once the interval is up, not
// before, and not left to the kernel's writeback.
func TestSyncLastRecordsOfABurst(t *testing.T) {
	const interval = 200 * time.Millisecond
	s := open(t, t.TempDir(), Config{MaxBytes: 64 << 20, SegmentBytes: 64 << 10, SyncInterval: interval})
	defer s.Close()
	// The first append syncs; its sync is after synced, so a time measured
	// from synced is never shorter than the spool's own.
	synced := time.Now()
	appendAll(t, s, recs(1, 1, 100))
	if diff := cmp.Diff(syncCounts{Syncs: 1}, syncsOf(s)); diff != "" {
		t.Fatalf("after the first append (-want +got):\n%s", diff)
	}
	appendAll(t, s, recs(2, 9, 100)) // within the interval: left to the idle sync
	if got := syncsOf(s); got.Unsynced == 0 && time.Since(synced) < interval {
		t.Fatalf("records synced %v after the last sync, before the interval of %v", time.Since(synced), interval)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syncsOf(s).Unsynced != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("records still unsynced after 10 s: %+v", syncsOf(s))
		}
		time.Sleep(5 * time.Millisecond) // polling the counters
	}
	if d := time.Since(synced); d < interval {
		t.Errorf("idle sync %v after the last sync, before the interval of %v", d, interval)
	}
	if diff := cmp.Diff(syncCounts{Syncs: 2}, syncsOf(s)); diff != "" {
		t.Errorf("after the idle sync (-want +got):\n%s", diff)
	}
	checkInvariant(t, s)
}

// TestSyncOnCloseAndWithoutInterval checks that Close syncs what is left
// unsynced, that Sync does nothing when nothing is, and that without
// SyncInterval nothing syncs by itself.
func TestSyncOnCloseAndWithoutInterval(t *testing.T) {
	s := open(t, t.TempDir(), Config{MaxBytes: 64 << 20, SegmentBytes: 64 << 10, SyncInterval: time.Hour})
	appendAll(t, s, recs(1, 3, 100))
	if diff := cmp.Diff(syncCounts{Syncs: 1, Unsynced: 2}, syncsOf(s)); diff != "" {
		t.Fatalf("before Close (-want +got):\n%s", diff)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(syncCounts{Syncs: 2}, syncsOf(s)); diff != "" {
		t.Errorf("after Close (-want +got):\n%s", diff)
	}

	s = open(t, t.TempDir(), Config{MaxBytes: 64 << 20, SegmentBytes: 64 << 10})
	defer s.Close()
	appendAll(t, s, recs(1, 3, 100))
	if diff := cmp.Diff(syncCounts{Unsynced: 3}, syncsOf(s)); diff != "" {
		t.Errorf("without SyncInterval (-want +got):\n%s", diff)
	}
	for range 2 {
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(syncCounts{Syncs: 1}, syncsOf(s)); diff != "" {
		t.Errorf("after two Syncs (-want +got):\n%s", diff)
	}
}
