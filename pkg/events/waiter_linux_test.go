package events

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReceiveUntilWaits holds ReceiveUntil to waiting in the netpoller for
// a datagram that comes later, to returning empty once its deadline has
// passed, and to ending a wait without deadline on Wake and on Close.
func TestReceiveUntilWaits(t *testing.T) {
	msg := loadCapture(t, "tcp")[2].raw
	t.Run("datagram", func(t *testing.T) {
		s, w := socketSubscriber(t, DefaultBatchSize)
		go func() {
			time.Sleep(20 * time.Millisecond) // the reader is waiting by then, or the arming sees it
			_ = unix.Send(w, msg, 0)
		}()
		b := NewBatch()
		if err := s.ReceiveUntil(b, time.Time{}); err != nil || len(b.Events) != 1 {
			t.Fatalf("ReceiveUntil: %d events, %v; want 1", len(b.Events), err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		s, _ := socketSubscriber(t, DefaultBatchSize)
		b := NewBatch()
		start := time.Now()
		if err := s.ReceiveUntil(b, start.Add(30*time.Millisecond)); err != nil || len(b.Events) != 0 {
			t.Fatalf("ReceiveUntil: %d events, %v; want none", len(b.Events), err)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("returned after %v, before the deadline", d)
		}
	})
	for _, stop := range []string{"wake", "close"} {
		t.Run(stop, func(t *testing.T) {
			s, _ := socketSubscriber(t, DefaultBatchSize)
			done := make(chan error, 1)
			go func() { done <- s.ReceiveUntil(NewBatch(), time.Time{}) }()
			time.Sleep(20 * time.Millisecond) // into the wait, or the stop is seen before it
			if stop == "wake" {
				s.Wake()
			} else if err := s.waiter.Load().close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ReceiveUntil: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("ReceiveUntil still waiting 5 s after %s", stop)
			}
		})
	}
}

// TestReceiveUntilAllocs holds a wait and the read after it to no
// allocation: each event of a quiet host is one of them.
func TestReceiveUntilAllocs(t *testing.T) {
	s, w := socketSubscriber(t, DefaultBatchSize)
	msg := loadCapture(t, "tcp")[2].raw
	b := NewBatch()
	allocs := testing.AllocsPerRun(50, func() {
		// Empty first: ReceiveUntil waits (briefly: a deadline), then
		// reads what was sent meanwhile.
		if err := s.ReceiveUntil(b, time.Now().Add(time.Millisecond)); err != nil || len(b.Events) != 0 {
			t.Fatalf("ReceiveUntil on an empty socket: %d events, %v", len(b.Events), err)
		}
		if err := unix.Send(w, msg, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.ReceiveUntil(b, time.Time{}); err != nil || len(b.Events) != 1 {
			t.Fatalf("ReceiveUntil: %d events, %v", len(b.Events), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per wait and read, want 0", allocs)
	}
}
