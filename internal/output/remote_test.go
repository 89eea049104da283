package output

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// takeTransport is a Transport for the queue's logic: it takes records in
// batches as a server would, refuses those whose seq is in refuse, and
// fails while fail says so. The end-to-end tests use real servers.
type takeTransport struct {
	mu     sync.Mutex
	taken  []uint64
	refuse map[uint64]bool
	// gate, when not nil, is received from before each batch: the test
	// holds delivery back with it.
	gate chan struct{}
	// failures is how many batches fail before delivery works.
	failures int
	retries  uint64
}

func (t *takeTransport) Run(ctx context.Context, q Reader) error {
	for {
		r, err := q.Next(ctx)
		if err != nil {
			return err
		}
		batch := []Record{r}
		for len(batch) < 8 {
			r, ok := q.TryNext()
			if !ok {
				break
			}
			batch = append(batch, r)
		}
		if t.gate != nil {
			select {
			case <-t.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		t.mu.Lock()
		if t.failures > 0 {
			t.failures--
			t.retries++
			t.mu.Unlock()
			q.Failing(fmt.Errorf("send: %w", syscall.ECONNREFUSED))
			q.Rewind()
			continue
		}
		for _, r := range batch {
			if t.refuse[r.Seq] {
				t.mu.Unlock()
				q.Done(fmt.Errorf("%w: too large", ErrRefused))
				t.mu.Lock()
				continue
			}
			t.taken = append(t.taken, r.Seq)
			t.mu.Unlock()
			q.Done(nil)
			t.mu.Lock()
		}
		t.mu.Unlock()
	}
}

func (t *takeTransport) Stats() TransportStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TransportStats{Retries: t.retries}
}

func (t *takeTransport) Close() error { return nil }

func (t *takeTransport) got() []uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]uint64(nil), t.taken...)
}

func rec(seq uint64, keep bool) Record {
	return Record{Data: []byte(`{"seq":` + strconv.FormatUint(seq, 10) + "}\n"), Seq: seq, Keep: keep}
}

func seqs(lo, hi uint64) []uint64 {
	var s []uint64
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

func flush(t *testing.T, o Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func TestRemoteDeliversInOrderAcrossFailures(t *testing.T) {
	tr := &takeTransport{failures: 3, refuse: map[uint64]bool{7: true}}
	r := NewRemote(Spec{Kind: Syslog, Name: "syslog+tcp://test"}, tr, RemoteConfig{})
	defer r.Close()
	var notified atomic.Int64
	r.NotifyFaults(func() { notified.Add(1) })
	for i := uint64(1); i <= 100; i++ {
		r.Put(rec(i, false))
	}
	flush(t, r)
	want := append(seqs(1, 6), seqs(8, 100)...)
	if diff := cmp.Diff(want, tr.got()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	st := r.Stats()
	if st.Records != 99 || st.Refused != 1 || st.Dropped != 1 || st.Queued != 0 || st.Retries != 3 {
		t.Errorf("stats = %+v; want 99 delivered, 1 refused (the only drop), none queued, 3 retries", st)
	}
	// The failure and the recovery are each one fault.
	var faults []bool
	for len(r.Faults()) > 0 {
		faults = append(faults, (<-r.Faults()).Err != nil)
	}
	if diff := cmp.Diff([]bool{true, false}, faults); diff != "" {
		t.Errorf("faults, failing or not (-want +got):\n%s", diff)
	}
	if got := notified.Load(); got != 2 {
		t.Errorf("NotifyFaults's function called %d times, want 2: once a fault", got)
	}
}

func TestRemoteQueueBound(t *testing.T) {
	gate := make(chan struct{})
	tr := &takeTransport{gate: gate}
	one := len(rec(10, false).Data)
	r := NewRemote(Spec{Kind: NATS, Name: "nats://test/s"}, tr, RemoteConfig{QueueBytes: 10 * one})
	defer r.Close()
	for i := uint64(10); i < 30; i++ {
		r.Put(rec(i, i == 25)) // 25 is a gap record: kept beyond the bound
	}
	st := r.Stats()
	if st.Queued != 11 || st.Overflow != 9 {
		t.Fatalf("while held back: %+v; want 11 queued (10 and the kept one), 9 dropped", st)
	}
	close(gate)
	flush(t, r)
	want := append(seqs(10, 19), 25)
	if diff := cmp.Diff(want, tr.got()); diff != "" {
		t.Errorf("delivered (-want +got): the oldest are kept, and the gap record\n%s", diff)
	}
}

func TestRemoteCloseCountsWhatIsLeft(t *testing.T) {
	tr := &takeTransport{gate: make(chan struct{})} // never opens
	r := NewRemote(Spec{Kind: Syslog, Name: "syslog+udp://test"}, tr, RemoteConfig{})
	for i := uint64(1); i <= 5; i++ {
		r.Put(rec(i, false))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Flush(ctx); err == nil {
		t.Fatal("flush of a stalled output returned nil before its deadline")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Failed != 5 || st.Dropped != 5 || st.Records != 0 {
		t.Errorf("after close: %+v; want the 5 queued records counted as lost", st)
	}
}

func TestMemQueuePutAllocs(t *testing.T) {
	q := newMemQueue(1<<20, time.Now)
	r := rec(1, false)
	allocs := testing.AllocsPerRun(1000, func() {
		q.put(r)
		if _, ok := q.TryNext(); !ok {
			t.Fatal("nothing queued")
		}
		q.done()
	})
	if allocs != 0 {
		t.Errorf("put+next+done: %v allocations per record, want 0", allocs)
	}
}

func TestSetMarksAndNumbers(t *testing.T) {
	tr := &takeTransport{}
	r := NewRemote(Spec{Kind: Syslog, Name: "syslog+tcp://a"}, tr, RemoteConfig{})
	s := NewSet("run-1", r)
	defer s.Close()
	s.Mark(41, false)
	s.Write([]byte("a\n"))
	s.Mark(42, true)
	s.Write([]byte("b\n"))
	s.Write([]byte("c\n")) // unmarked: the Set's own count
	flush(t, r)
	if diff := cmp.Diff([]uint64{41, 42, 1}, tr.got()); diff != "" {
		t.Errorf("seqs (-want +got):\n%s", diff)
	}
}

var _ Output = (*Remote)(nil)
var _ Output = (*Local)(nil)

// TestSetWaitLosesNothing writes many more records than a memory queue
// holds, under Set.Wait, to a transport that takes them one batch at a
// time: every record arrives, in order, and none is counted dropped; the
// same writes outside Wait drop.
func TestSetWaitLosesNothing(t *testing.T) {
	const n = 500
	one := len(rec(100, false).Data)
	for _, wait := range []bool{true, false} {
		t.Run(fmt.Sprintf("wait=%v", wait), func(t *testing.T) {
			gate := make(chan struct{})
			tr := &takeTransport{gate: gate}
			r := NewRemote(Spec{Kind: NATS, Name: "nats://test/s"}, tr, RemoteConfig{QueueBytes: 10 * one})
			s := NewSet("run-1", r)
			defer s.Close()
			// The transport takes a batch each time the gate is given:
			// while the records are written with Wait, only after them
			// without, so that the queue's bound is reached either way.
			stop := make(chan struct{})
			defer close(stop)
			feed := func() {
				for {
					select {
					case gate <- struct{}{}:
					case <-stop:
						return
					}
				}
			}
			if wait {
				go feed()
				end := s.Wait(context.Background())
				defer end()
			}
			for i := uint64(100); i < 100+n; i++ {
				s.Mark(i, false)
				s.Write(rec(i, false).Data)
			}
			if !wait {
				go feed()
			}
			flush(t, r)
			st := r.Stats()
			if !wait {
				if st.Overflow != n-10 {
					t.Errorf("stats = %+v; want %d dropped outside Wait (a queue of 10 records)", st, n-10)
				}
				return
			}
			if diff := cmp.Diff(seqs(100, 100+n-1), tr.got()); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			if st.Records != n || st.Dropped != 0 || st.Overflow != 0 {
				t.Errorf("stats = %+v; want %d delivered, none dropped", st, n)
			}
		})
	}
}

// TestRemotePutWaitGivesUp: a record that finds the queue full waits only
// as long as its context lives, then is dropped and counted.
func TestRemotePutWaitGivesUp(t *testing.T) {
	tr := &takeTransport{gate: make(chan struct{})} // never opens
	one := len(rec(1, false).Data)
	r := NewRemote(Spec{Kind: Syslog, Name: "syslog+udp://test"}, tr, RemoteConfig{QueueBytes: 2 * one})
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r.PutWait(ctx, rec(1, false))
	r.PutWait(ctx, rec(2, false))
	cancel()
	r.PutWait(ctx, rec(3, false))
	if st := r.Stats(); st.Overflow != 1 || st.Queued != 2 {
		t.Errorf("stats = %+v; want 2 queued and the third given up (overflow 1)", st)
	}
}
