package events

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestHandleDatagram(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	tcp := loadCapture(t, "tcp")
	// The last message of a datagram may lack its padding: this one ends
	// with a 3-byte attribute (a secmark, which Decode skips at that size).
	unpadded := entry4(17, leaf(ctnl.CTASecmark, 1, 2, 3))
	withoutTime := rawMessage(typNew, flagCreate, 0, unpadded[:len(unpadded)-1])
	bad := rawMessage(typNew, flagCreate, 0, append(entry4(17), 1, 2, 3, 4))
	// Three messages in one datagram, the middle one undecodable; then a
	// cut header, and a datagram the kernel had to cut.
	d := append(append(append([]byte(nil), tcp[0].raw...), bad...), withoutTime...)
	b := &Batch{}
	received := handleDatagram(d, false, now, b, nil) +
		handleDatagram(tcp[1].raw[:20], false, now, b, nil) +
		handleDatagram(tcp[2].raw, true, now, b, nil)

	var want [3]model.Event
	for i, m := range [][]byte{tcp[0].raw, withoutTime, tcp[2].raw} {
		if err := DecodeFast(m, &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	want[1].Time = now
	if diff := cmp.Diff(want[:], b.Events, eventOpts); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if len(b.Failures) != 3 {
		t.Fatalf("%d failures, want 3: %v", len(b.Failures), b.Failures)
	}
	for i, f := range []struct {
		raw []byte
		err error
	}{{bad, ErrMalformed}, {tcp[1].raw[:20], ErrTruncated}, {tcp[2].raw, ErrTruncated}} {
		if !errors.Is(b.Failures[i].Err, f.err) {
			t.Errorf("failure %d: %v, want %v", i, b.Failures[i].Err, f.err)
		}
		if diff := cmp.Diff(f.raw, b.Failures[i].Raw); diff != "" {
			t.Errorf("failure %d's bytes (-want +got):\n%s", i, diff)
		}
	}
	// The cut datagram's message is delivered and its datagram failed:
	// it counts twice, so that every count is a delivered message.
	if received != 6 {
		t.Errorf("received %d, want 6", received)
	}
}

// TestHandleDatagramAllocs holds the reader to no allocation per event in
// steady state: its batches' slots are reused, and DecodeFast allocates
// nothing.
func TestHandleDatagramAllocs(t *testing.T) {
	var msgs [][]byte
	for _, name := range captures {
		for _, c := range loadCapture(t, name) {
			msgs = append(msgs, c.raw)
		}
	}
	b := &Batch{Events: make([]model.Event, 0, len(msgs))}
	now := time.Now()
	// Labels named from a table cost nothing either.
	var names model.LabelNames
	names.Add(3, "heartbeat")
	run := func() {
		b.Events = b.Events[:0]
		for _, m := range msgs {
			handleDatagram(m, false, now, b, &names)
		}
	}
	run() // the labels' backing arrays
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Errorf("%v allocations for %d datagrams, want 0", allocs, len(msgs))
	}
	if len(b.Failures) != 0 {
		t.Fatalf("failures: %v", b.Failures)
	}
}

// BenchmarkHandleDatagram is the reader's cost per datagram past the
// system call: splitting, decoding into a reused batch slot, stamping, with
// a clock read per recvSlots datagrams as Receive does when the socket is
// full. Each datagram holds one event, as the kernel multicasts them.
func BenchmarkHandleDatagram(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			raw := loadCapture(b, bm.file)[bm.index].raw
			batch := &Batch{Events: make([]model.Event, 0, DefaultBatchSize)}
			var now time.Time
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if len(batch.Events) == DefaultBatchSize {
					batch.Events = batch.Events[:0]
				}
				if i%recvSlots == 0 {
					now = time.Now()
				}
				handleDatagram(raw, false, now, batch, nil)
			}
			if len(batch.Failures) != 0 {
				b.Fatal(batch.Failures[0].Err)
			}
		})
	}
}

// socketSubscriber is a Subscriber reading the first end of a datagram
// socket pair instead of a netlink socket, as if Receive had already
// detached it; the test writes to the second end.
func socketSubscriber(t *testing.T, batchSize int) (*Subscriber, int) {
	t.Helper()
	return socketSubscriberCtrl(t, batchSize, 0)
}

// socketSubscriberCtrl is socketSubscriber with ctrlSize bytes of control
// messages per datagram, as Config.AllNetNS gives them (0: none).
func socketSubscriberCtrl(t *testing.T, batchSize, ctrlSize int) (*Subscriber, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &Subscriber{batchSize: batchSize, clock: time.Now, recvTimeout: 10 * time.Millisecond, mmsg: newMmsgBuffer(min(batchSize, recvSlots), recvSlotSize, ctrlSize), allNetNS: ctrlSize > 0, detached: true, fd: fds[0]}
	s.raw = fdConn{s: s}
	w, err := newWaiter(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	s.waiter.Store(w)
	t.Cleanup(func() {
		s.closed.Store(true)
		w.close()
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return s, fds[1]
}

// TestReceive reads full batches and then what is left, with sequence
// numbers that continue from batch to batch, an undecodable message as a
// failure counted once, and an empty batch once the socket is empty.
func TestReceive(t *testing.T) {
	s, w := socketSubscriber(t, 3)
	tcp := loadCapture(t, "tcp")
	bad := rawMessage(typNew, flagCreate, 0, append(entry4(17), 1, 2, 3, 4))
	for _, d := range [][]byte{tcp[0].raw, tcp[1].raw, bad, tcp[2].raw, tcp[3].raw} {
		if err := unix.Send(w, d, 0); err != nil {
			t.Fatal(err)
		}
	}
	type read struct{ Seq, Events, Failures int }
	var got []read
	b := NewBatch()
	for _, wait := range []bool{true, false, false} {
		if err := s.Receive(b, wait); err != nil {
			t.Fatal(err)
		}
		got = append(got, read{int(b.Seq), len(b.Events), len(b.Failures)})
	}
	want := []read{{0, 2, 1}, {2, 2, 0}, {4, 0, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Received: 5, DecodeErrors: 1}, Stats{Received: s.received.Load(), DecodeErrors: s.decodeErrors.Load()}); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

// TestReceiveAllocs holds a wake-up of the reader to no allocation, however
// few events it finds: one event per read is the steady state of a quiet
// host.
func TestReceiveAllocs(t *testing.T) {
	s, w := socketSubscriber(t, DefaultBatchSize)
	msg := loadCapture(t, "tcp")[2].raw
	b := NewBatch()
	allocs := testing.AllocsPerRun(100, func() {
		if err := unix.Send(w, msg, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Receive(b, true); err != nil || len(b.Events) != 1 {
			t.Fatalf("Receive: %d events, %v", len(b.Events), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read of one event, want 0", allocs)
	}
}

// TestSubscribeFilterRefused: a program the kernel refuses fails
// Subscribe before it joins any group (so unprivileged), naming the step.
func TestSubscribeFilterRefused(t *testing.T) {
	// No return at the end: the kernel's checker refuses it.
	bad := []bpf.RawInstruction{{Op: 0x28, K: 4}}
	s, err := Subscribe(Config{Filter: bad})
	if err == nil {
		s.Close()
		t.Fatal("Subscribe accepted a program without a return")
	}
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "attach the kernel filter") {
		t.Errorf("Subscribe: %v; want the attach step's EINVAL", err)
	}
}
