//go:build integration

package events

import (
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/nstest"
)

// BenchmarkReadEvents measures the reader's CPU time per event against the
// real kernel, reading with Receive's recvmmsg (recvmmsg-64) or with other
// vector sizes, and with the recvmsg loops it replaced (one datagram per
// system call, through the netpoller), kept here to measure against. Each runs in a fresh
// namespace whose table is filled through batched ctnetlink requests (a
// NEW event each):
//
//   - prefilled: the events of a round are queued in the socket before the
//     reader starts, the burst case where every read finds the socket full;
//   - live: a creator on another thread makes entries as fast as it can (32
//     per request) while the reader keeps up, so that reads find a few
//     dozen events at most.
//
// The time the benchmark reports is the reader's wall time; cpu-ns/event is
// the reader thread's CPU time, user and system, per event: the number
// that decides. events/fill is the mean size of the batches read. Run as
// root:
//
//	go test -tags integration -run '^$' -bench ReadEvents -benchtime 200000x -count 6 ./pkg/events/
func BenchmarkReadEvents(b *testing.B) {
	readers := []struct {
		name  string
		slots int // recvmmsg's vector; 0 for the recvmsg readers
		raw   bool
	}{
		// x/sys's Recvmsg, as the reader once used it: it asks for the sender's
		// address and allocates a SockaddrNetlink for it per datagram.
		{name: "recvmsg"},
		// A recvmsg without the address: no allocation, one datagram
		// per system call.
		{name: "recvmsg-noaddr", raw: true},
		{name: "recvmmsg-16", slots: 16},
		{name: "recvmmsg-64", slots: 64},
		{name: "recvmmsg-256", slots: 256},
	}
	for _, live := range []bool{false, true} {
		mode := "prefilled"
		if live {
			mode = "live"
		}
		for _, r := range readers {
			b.Run(mode+"/"+r.name, func(b *testing.B) {
				fill := receive
				switch {
				case r.raw:
					fill = fillNoAddr
				case r.slots == 0:
					fill = fillRecvmsg
				}
				benchRead(b, r.slots, fill, live)
			})
		}
	}
}

// receive is the reader ctwatch uses: Receive, one blocking recvmmsg
// that waits for the first datagram and takes what else is queued.
func receive(s *Subscriber, _ []byte, b *Batch) error { return s.Receive(b, true) }

// fillRecvmsg is the reader as it was before recvmmsg: one x/sys Recvmsg
// and one clock read per datagram, waiting in the netpoller.
func fillRecvmsg(s *Subscriber, buf []byte, b *Batch) error {
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		for len(b.Events)+len(b.Failures) < s.batchSize {
			n, _, flags, _, err := unix.Recvmsg(int(fd), buf, nil, unix.MSG_DONTWAIT)
			switch {
			case err == unix.EAGAIN:
				return len(b.Events)+len(b.Failures) > 0
			case err == unix.EINTR:
				continue
			case err != nil:
				rerr = err
				return true
			}
			handleDatagram(buf[:n], flags&unix.MSG_TRUNC != 0, s.clock(), b, nil)
		}
		return true
	})
	if err != nil {
		return err
	}
	return rerr
}

// fillNoAddr is fillRecvmsg reading with a recvmsg(2) of its own, without
// the sender's address.
func fillNoAddr(s *Subscriber, buf []byte, b *Batch) error {
	var iov unix.Iovec
	iov.Base = &buf[0]
	iov.SetLen(len(buf))
	var msg unix.Msghdr
	msg.Iov = &iov
	msg.SetIovlen(1)
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		for len(b.Events)+len(b.Failures) < s.batchSize {
			n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
			switch {
			case errno == unix.EAGAIN:
				return len(b.Events)+len(b.Failures) > 0
			case errno == unix.EINTR:
				continue
			case errno != 0:
				rerr = errno
				return true
			}
			handleDatagram(buf[:n], msg.Flags&unix.MSG_TRUNC != 0, s.clock(), b, nil)
		}
		return true
	})
	if err != nil {
		return err
	}
	return rerr
}

// readRound is how many entries a round creates (and its reader reads)
// before the table is flushed.
const readRound = 32768

func benchRead(b *testing.B, slots int, fill func(*Subscriber, []byte, *Batch) error, live bool) {
	ns := nstest.New(b)
	// Room for a whole round in the socket: an event's buffer costs about
	// 1280 bytes of it.
	sub, err := Subscribe(Config{NetNS: ns.FD, Types: TypeNew, BufferSize: 2 * readRound * 1280})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if slots > 0 {
		sub.mmsg = newMmsgBuffer(slots, recvSlotSize, 0)
	}
	creator, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD})
	if err != nil {
		b.Fatal(err)
	}
	defer creator.Close()

	// The reader's CPU time is its thread's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, recvBufferSize)
	var cpu time.Duration
	var reads, read int
	// A live creator sends fewer requests at a time, so that events
	// trickle in rather than come in bursts of a thousand.
	createBatch := 1024
	if live {
		createBatch = 32
	}
	b.ResetTimer()
	b.StopTimer()
	for round := 0; read < b.N; round++ {
		k := min(readRound, b.N-read)
		created := make(chan error, 1)
		create := func() { created <- createEntries(creator, round, k, createBatch) }
		if live {
			go create()
		} else {
			create()
			if err := <-created; err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		c0 := threadCPU(b)
		n, calls := drainEvents(b, sub, fill, buf, k)
		cpu += threadCPU(b) - c0
		b.StopTimer()
		if live {
			if err := <-created; err != nil {
				b.Fatal(err)
			}
		}
		read += n
		reads += calls
		if err := flushTable(ns); err != nil {
			b.Fatal(err)
		}
	}
	st := sub.Stats()
	if st.KernelDrops != 0 || st.DecodeErrors != 0 {
		b.Fatalf("kernel drops %d, decode errors %d", st.KernelDrops, st.DecodeErrors)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(read), "cpu-ns/event")
	b.ReportMetric(float64(read)/float64(reads), "events/fill")
}

// drainEvents reads k events with fill into one reused batch, and returns
// how many it read and in how many fills that found events.
func drainEvents(b *testing.B, sub *Subscriber, fill func(*Subscriber, []byte, *Batch) error, buf []byte, k int) (n, fills int) {
	deadline := time.Now().Add(30 * time.Second)
	if !sub.detached {
		// The recvmsg readers wait in the netpoller, bounded by this.
		if err := sub.conn.SetReadDeadline(deadline); err != nil {
			b.Fatal(err)
		}
	}
	batch := NewBatch()
	for n < k {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events within 30 s", n, k)
		}
		batch.Events = batch.Events[:0]
		batch.Failures = batch.Failures[:0]
		if err := fill(sub, buf, batch); err != nil {
			b.Fatalf("after %d of %d events: %v", n, k, err)
		}
		if len(batch.Events) > 0 {
			n += len(batch.Events)
			fills++
		}
	}
	return n, fills
}

// threadCPU is the calling thread's CPU time, user and system. It is read
// from CLOCK_THREAD_CPUTIME_ID, the scheduler's exact account, rather than
// getrusage(RUSAGE_THREAD), whose split of it into user and system time is
// sampled at ticks and held monotonic, so that short intervals read as 0.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// createEntries creates k UDP entries, batch requests per sendmsg, without
// acknowledgements (the NEW events are the evidence). Tuples differ by
// round, so that a flush that lags cannot collide.
func createEntries(c *netlink.Conn, round, k, batch int) error {
	msgs := make([]netlink.Message, 0, batch)
	for i := 0; i < k; i += batch {
		msgs = msgs[:0]
		for j := i; j < min(i+batch, k); j++ {
			src := [4]byte{10, byte(round), byte(j >> 8), byte(j)}
			dst := [4]byte{10, 255, 0, 1}
			data := append([]byte{unix.AF_INET, 0, 0, 0},
				tuple4(ctnl.CTATupleOrig, unix.IPPROTO_UDP, src, dst, 1000, 53)...)
			data = append(data, tuple4(ctnl.CTATupleReply, unix.IPPROTO_UDP, dst, src, 53, 1000)...)
			data = append(data, leaf(ctnl.CTATimeout, be32(600)...)...)
			msgs = append(msgs, netlink.Message{
				Header: netlink.Header{
					Type:  netlink.HeaderType(typNew),
					Flags: netlink.Request | netlink.Create | netlink.Excl,
				},
				Data: data,
			})
		}
		if err := c.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return err
		}
		if _, err := c.SendMessages(msgs); err != nil {
			return err
		}
	}
	return nil
}

// flushTable empties ns's table (an IPCTNL_MSG_CT_DELETE without a tuple)
// and waits for the acknowledgement.
func flushTable(ns *nstest.NS) error {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(typDelete),
			Flags: netlink.Request | netlink.Acknowledge,
		},
		Data: []byte{unix.AF_INET, 0, 0, 0},
	}
	_, err = c.Execute(req)
	return err
}
