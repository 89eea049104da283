package output

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/spool"
)

// TestRemoteSpoolSurvivesRestart: records put while the server takes
// nothing stay in the spool when the output stops, and a new output on the
// same spool (the next run of ctwatch) delivers them first, in order, with
// their own run's id, then its own.
func TestRemoteSpoolSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	sp := Spec{Kind: NATS, Name: "nats://test/s", Raw: "nats://test/s"}
	s, err := OpenSpool(dir, sp, spool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	held := &takeTransport{gate: make(chan struct{})} // a server that takes nothing
	r := NewRemote(sp, held, RemoteConfig{Spool: s})
	for i := uint64(1); i <= 50; i++ {
		rec := rec(i, false)
		rec.Run = "run-1"
		r.Put(rec)
	}
	if st := r.Stats(); st.Queued != 50 {
		t.Fatalf("before the stop: %+v, want 50 queued", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("after the stop: %+v; a spool loses nothing at the stop", st)
	}

	s, err = OpenSpool(dir, sp, spool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &takeTransport{}
	r = NewRemote(sp, tr, RemoteConfig{Spool: s})
	for i := uint64(1); i <= 10; i++ {
		rec := rec(i, false)
		rec.Run = "run-2"
		r.Put(rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := append(seqs(1, 50), seqs(1, 10)...)
	if diff := cmp.Diff(want, tr.got()); diff != "" {
		t.Errorf("delivered after the restart (-want +got):\n%s", diff)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// All acked: a third run finds nothing to deliver.
	s, err = OpenSpool(dir, sp, spool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.Queued != 0 {
		t.Errorf("spool after everything was delivered: %+v, want nothing queued", st)
	}
}

// TestRemoteSpoolOverflow: a full spool drops its oldest records, and the
// output counts each one.
func TestRemoteSpoolOverflow(t *testing.T) {
	sp := Spec{Kind: Syslog, Name: "syslog+tcp://test", Raw: "syslog+tcp://test"}
	s, err := OpenSpool(t.TempDir(), sp, spool.Config{MaxBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tr := &takeTransport{gate: make(chan struct{})}
	r := NewRemote(sp, tr, RemoteConfig{Spool: s})
	const n = 20000
	for i := uint64(1); i <= n; i++ {
		r.Put(rec(i, false))
	}
	st := r.Stats()
	if st.Overflow == 0 || uint64(st.Queued)+st.Overflow != n {
		t.Errorf("full spool: %+v; want the oldest dropped and queued + dropped = %d", st, n)
	}
	close(tr.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := tr.got()
	if uint64(len(got))+r.Stats().Overflow != n || got[len(got)-1] != n {
		t.Errorf("%d delivered (last %d) + %d dropped, want %d in all ending with the newest", len(got), got[len(got)-1], r.Stats().Overflow, n)
	}
	r.Close()
}
