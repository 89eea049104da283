//go:build integration

package integration

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
)

// TestEventsReceive checks the synchronous reader: a timeout returns an
// empty batch, events come in order with their sequence numbers, the drop
// counter still reads on the detached socket, and a blocked Receive ends
// when the subscriber closes.
func TestEventsReceive(t *testing.T) {
	ns := nstest.New(t)
	const timeout = 50 * time.Millisecond
	sub := evSubscribe(t, ns, events.Config{ReceiveTimeout: timeout, BufferSize: 16 << 10})
	b := events.NewBatch()

	start := time.Now()
	if err := sub.Receive(b, true); err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 0 || time.Since(start) < timeout/2 {
		t.Errorf("an idle Receive returned %d events after %v; want none, after about %v", len(b.Events), time.Since(start), timeout)
	}

	ct := ns.Conntrack()
	const n = 5
	for i := range n {
		evWithin(t, evTimeout, "create", func() error {
			return ct.Create(evFlow(unix.IPPROTO_UDP, "10.9.0.1", "10.9.0.2", uint16(100+i), 53, 30, 0))
		})
	}
	var ports []uint16
	seq := uint64(0)
	deadline := time.Now().Add(evTimeout)
	for len(ports) < n && time.Now().Before(deadline) {
		if err := sub.Receive(b, true); err != nil {
			t.Fatal(err)
		}
		if len(b.Events) > 0 && b.Seq != seq {
			t.Errorf("batch Seq %d, want %d", b.Seq, seq)
		}
		seq += uint64(len(b.Events))
		for _, ev := range b.Events {
			ports = append(ports, ev.Entry.Orig.SrcPort)
		}
	}
	for i, p := range ports {
		if p != uint16(100+i) {
			t.Fatalf("events out of order or missing: %v", ports)
		}
	}
	if len(ports) != n {
		t.Fatalf("received %v, want %d events", ports, n)
	}

	// Overrun the small buffer while nobody reads: the detached socket's
	// drop counter accounts for what the kernel could not queue.
	const burst = 2000
	for i := range burst {
		evWithin(t, evTimeout, "create", func() error {
			return ct.Create(evFlow(unix.IPPROTO_UDP, "10.9.1.1", "10.9.1.2", uint16(1000+i), 53, 30, 0))
		})
	}
	got := 0
	for {
		if err := sub.Receive(b, false); err != nil {
			t.Fatal(err)
		}
		if len(b.Events) == 0 {
			break
		}
		got += len(b.Events)
	}
	st := sub.Stats()
	if st.KernelDrops == 0 || uint64(got)+st.KernelDrops != burst {
		t.Errorf("received %d + kernel drops %d, want %d with some dropped", got, st.KernelDrops, burst)
	}

	// A Receive blocked on the idle socket ends when it is closed.
	done := make(chan error, 1)
	go func() { done <- sub.Receive(events.NewBatch(), true) }()
	// Closing while the read blocks, or just before it starts: either way
	// it returns within the timeout.
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Receive after Close: %v", err)
		}
	case <-time.After(evTimeout):
		t.Fatal("Receive did not return after Close")
	}
}
