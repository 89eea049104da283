//go:build integration

package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// evPoll waits until cond holds, checking it every few milliseconds, and
// fails the test after evTimeout. It is for state that nothing signals
// (counters).
func evPoll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(evTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, evTimeout)
		}
		<-tick.C
	}
}

// evRecvBatch receives one batch within evTimeout.
func evRecvBatch(t testing.TB, ch <-chan *events.Batch) *events.Batch {
	t.Helper()
	select {
	case b, ok := <-ch:
		if !ok {
			t.Fatal("batch channel closed")
		}
		return b
	case <-time.After(evTimeout):
		t.Fatalf("no batch within %v", evTimeout)
	}
	return nil
}

// TestEventsQueueDrop fills the consumer's channel: whole batches are
// dropped without blocking the reader, counted, and visible as a gap in
// the sequence numbers.
func TestEventsQueueDrop(t *testing.T) {
	ns := nstest.New(t)
	sub := evSubscribe(t, ns, events.Config{BatchSize: 3})
	ct := ns.Conntrack()
	create := func(sport uint16) {
		evWithin(t, evTimeout, "create", func() error {
			return ct.Create(evFlow(unix.IPPROTO_UDP, "10.6.0.1", "10.6.0.2", sport, 53, 30, 0))
		})
	}
	// Queued in the socket before the reader starts, so that it reads
	// them as batches of 3, 3, 3 and 1.
	for i := range 10 {
		create(uint16(100 + i))
	}
	out := make(chan *events.Batch, 1)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- sub.Run(ctx, out) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The first batch waits in the channel; the three after it find it
	// full.
	evPoll(t, "7 events dropped", func() bool { return sub.Stats().QueueDropped == 7 })
	b := evRecvBatch(t, out)
	if b.Seq != 0 || len(b.Events) != 3 {
		t.Errorf("first batch: seq %d, %d events; want 0 and 3", b.Seq, len(b.Events))
	}
	b.Release()

	create(200)
	b = evRecvBatch(t, out)
	if b.Seq != 10 || len(b.Events) != 1 || b.Events[0].Entry.Orig.SrcPort != 200 {
		t.Errorf("batch after the drop: seq %d, %d events; want seq 10 (7 dropped) with the new event", b.Seq, len(b.Events))
	}
	b.Release()
	if diff := cmp.Diff(events.Stats{Received: 11, QueueDropped: 7}, sub.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

// TestEventsSubscriberLifecycle checks the subscription's types, Run's
// stopping and closing rules, and Close during Run.
func TestEventsSubscriberLifecycle(t *testing.T) {
	ns := nstest.New(t)

	t.Run("types", func(t *testing.T) {
		w := evWatch(t, ns, events.Config{Types: events.TypeDestroy})
		ct := ns.Conntrack()
		f := evFlow(unix.IPPROTO_UDP, "10.5.0.1", "10.5.0.2", 1, 53, 30, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
		evDelete(t, ct, f)
		ev, before := w.waitFor("DESTROY", evTuple(model.ProtoUDP, "10.5.0.1", "10.5.0.2", 1, 53))
		if ev.Type != model.EventDestroy || len(before) != 0 {
			t.Errorf("got %s after %d other events, want only the DESTROY", evText(&ev), len(before))
		}
	})

	t.Run("invalid types", func(t *testing.T) {
		if _, err := events.Subscribe(events.Config{NetNS: ns.FD, Types: 1 << model.EventSnapshot}); !errors.Is(err, events.ErrInvalidTypes) {
			t.Errorf("Subscribe = %v, want ErrInvalidTypes", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		sub := evSubscribe(t, ns, events.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan *events.Batch, 1)
		runErr := make(chan error, 1)
		go func() { runErr <- sub.Run(ctx, out) }()
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(evTimeout):
			t.Fatal("Run did not return after cancel")
		}
		if _, ok := <-out; ok {
			t.Error("out not closed")
		}
		out2 := make(chan *events.Batch)
		if err := sub.Run(context.Background(), out2); !errors.Is(err, events.ErrAlreadyRunning) {
			t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
		}
		if _, ok := <-out2; ok {
			t.Error("second Run did not close its channel")
		}
	})

	t.Run("close while running", func(t *testing.T) {
		sub, err := events.Subscribe(events.Config{NetNS: ns.FD})
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan *events.Batch, 1)
		runErr := make(chan error, 1)
		go func() { runErr <- sub.Run(context.Background(), out) }()
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run after Close = %v, want nil", err)
			}
		case <-time.After(evTimeout):
			t.Fatal("Run did not return after Close")
		}
		if err := sub.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
		_ = sub.Stats() // the last reading, without a socket
	})

	t.Run("buffer size", func(t *testing.T) {
		sub := evSubscribe(t, ns, events.Config{BufferSize: 8 << 20})
		// Forced past rmem_max, doubled by the kernel.
		if got := sub.BufferSize(); got != 16<<20 {
			t.Errorf("BufferSize() = %d, want %d", got, 16<<20)
		}
	})
}
