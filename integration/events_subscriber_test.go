//go:build integration

package integration

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestEventsBatching reads events queued in the socket before the reader
// starts: Receive returns them in batches of at most Config.BatchSize, in
// order, with sequence numbers that continue from batch to batch, and an
// empty batch once the socket is empty; every message is counted as
// received, none as lost.
func TestEventsBatching(t *testing.T) {
	ns := nstest.New(t)
	sub := evSubscribe(t, ns, events.Config{BatchSize: 3})
	ct := ns.Conntrack()
	for i := range 10 {
		evWithin(t, evTimeout, "create", func() error {
			return ct.Create(evFlow(unix.IPPROTO_UDP, "10.6.0.1", "10.6.0.2", uint16(100+i), 53, 30, 0))
		})
	}
	type read struct {
		Seq   uint64
		Ports []uint16
	}
	var got []read
	b := events.NewBatch()
	for range 5 {
		if err := sub.Receive(b, false); err != nil {
			t.Fatal(err)
		}
		r := read{Seq: b.Seq}
		for _, ev := range b.Events {
			r.Ports = append(r.Ports, ev.Entry.Orig.SrcPort)
		}
		got = append(got, r)
	}
	want := []read{
		{0, []uint16{100, 101, 102}},
		{3, []uint16{103, 104, 105}},
		{6, []uint16{106, 107, 108}},
		{9, []uint16{109}},
		{10, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(events.Stats{Received: 10}, sub.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

// TestEventsSubscriberLifecycle checks the subscription's types, its
// closing rules, and the buffer it is granted.
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

	t.Run("close", func(t *testing.T) {
		sub, err := events.Subscribe(events.Config{NetNS: ns.FD})
		if err != nil {
			t.Fatal(err)
		}
		b := events.NewBatch()
		if err := sub.Receive(b, false); err != nil {
			t.Fatal(err)
		}
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
		if err := sub.Receive(b, true); err != nil || len(b.Events) != 0 {
			t.Errorf("Receive after Close = %d events, %v; want none, nil", len(b.Events), err)
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
