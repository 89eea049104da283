package events

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultReceiveTimeout is how long Receive waits for a first datagram when
// Config.ReceiveTimeout is 0. The watch loop does not use it: it waits with
// ReceiveUntil until its next timer is due.
const DefaultReceiveTimeout = 100 * time.Millisecond

// NewBatch returns an empty batch for Receive, reused from call to call.
func NewBatch() *Batch { return &Batch{} }

// Receive reads into b (emptied first) what the socket holds, up to
// Config.BatchSize and at most one recvmmsg vector, and returns: the caller
// processes the events on the goroutine that reads them, and only that
// goroutine may call Receive. With wait, it first waits for up to
// Config.ReceiveTimeout until a datagram arrives, and returns b empty if
// none did; without, it returns at once. It is ReceiveUntil with a
// deadline of now plus the timeout, or none at all.
func (s *Subscriber) Receive(b *Batch, wait bool) error {
	if !wait {
		return s.receive(b, false, time.Time{})
	}
	timeout := s.recvTimeout
	if timeout <= 0 {
		timeout = DefaultReceiveTimeout
	}
	return s.receive(b, true, time.Now().Add(timeout))
}

// ReceiveUntil is Receive that waits for a first datagram until deadline
// (the zero time: until one comes, Close or Wake), and returns b empty if
// none came by then.
//
// It reads the socket with a non-blocking recvmmsg, which takes what is
// queued, up to the batch size, in one system call: a reader that keeps
// up with a high rate never waits. Only when the socket is empty does it
// wait, and then in Go's netpoller, which costs no thread and no wake-up
// while nothing comes. The socket is not in the netpoller itself: the
// first call takes it out (it keeps a duplicate of the descriptor and
// closes the original, which deregisters it), because there every
// datagram arriving while a runtime thread sat in epoll_wait woke that
// thread, whether anyone waited for the socket or not. Instead the socket
// is in an epoll instance of its own with EPOLLONESHOT, armed only just
// before a wait, and that instance is what the netpoller watches: one
// wake-up per wait, none while the reader is busy. A plain blocking
// recvmmsg, as conntrack-tools reads, would leave the thread in a system
// call that the runtime's monitor (sysmon) keeps polling every 20 µs to
// 10 ms to take its processor back: most of what an idle or quiet ctwatch
// cost.
//
// With Config.AllNetNS, each event's NetNS is read from its datagram's
// control message; a datagram whose namespace cannot be told is a failure.
// Without, every event is local.
//
// Events the kernel did not timestamp are stamped with the receive time,
// read once per recvmmsg for all the datagrams it returned (a clock read
// costs as much as decoding an event on a VM's kvm-clock). Messages that do
// not decode are delivered as b's Failures. Nothing is dropped between the
// socket and the caller: what the kernel could not queue is counted in
// Stats.KernelDrops. An ENOBUFS error is counted and returns b empty.
func (s *Subscriber) ReceiveUntil(b *Batch, deadline time.Time) error {
	return s.receive(b, true, deadline)
}

// Wake makes the wait of a ReceiveUntil or Receive in progress, or of the
// next one, return at once: a stop is served through it. Any goroutine may
// call it.
func (s *Subscriber) Wake() {
	s.woken.Store(true)
	if w := s.waiter.Load(); w != nil {
		w.wake()
	}
}

func (s *Subscriber) receive(b *Batch, wait bool, deadline time.Time) error {
	if !s.detached {
		if s.closed.Load() {
			return nil
		}
		if err := s.detach(); err != nil {
			return fmt.Errorf("receive conntrack events: %w", err)
		}
		s.detached = true
	}
	b.Seq = s.nextSeq
	b.Events = b.Events[:0]
	b.Expects = b.Expects[:0]
	clear(b.Failures)
	b.Failures = b.Failures[:0]
	n, err := s.recv()
	if errors.Is(err, unix.EAGAIN) && wait {
		if w := s.waiter.Load(); w != nil && w.wait(deadline, &s.woken) {
			n, err = s.recv()
		}
	}
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, os.ErrClosed):
		// Nothing is queued (and nothing came in time), or closed.
		return nil
	case errors.Is(err, unix.ENOBUFS):
		s.enobufs.Add(1)
		return nil
	case err != nil:
		return fmt.Errorf("receive conntrack events: %w", os.NewSyscallError("recvmmsg", err))
	}
	now := s.clock()
	var received uint64
	if s.allNetNS {
		for i := range n {
			d, truncated := s.mmsg.datagram(i)
			ctrl, ctrunc := s.mmsg.control(i)
			received += uint64(handlePeerDatagram(d, truncated, ctrl, ctrunc, now, b, s.labels))
		}
	} else {
		for i := range n {
			d, truncated := s.mmsg.datagram(i)
			received += uint64(handleDatagram(d, truncated, now, b, s.labels))
		}
	}
	s.received.Add(received)
	if len(b.Expects) > 0 {
		s.expects.Add(uint64(len(b.Expects)))
	}
	s.decodeErrors.Add(uint64(len(b.Failures)))
	s.nextSeq += uint64(len(b.Events))
	return nil
}

// recv is one non-blocking recvmmsg of the detached socket: EAGAIN when it
// is empty, os.ErrClosed once closed.
func (s *Subscriber) recv() (int, error) {
	want := min(s.batchSize, len(s.mmsg.hdrs))
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fd < 0 {
		return 0, os.ErrClosed
	}
	for {
		n, err := s.mmsg.recv(uintptr(s.fd), want, unix.MSG_DONTWAIT)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// detach takes the socket out of Go's netpoller: it keeps a duplicate of
// the descriptor, puts it in an epoll instance of its own (the waiter) and
// closes the netlink.Conn, whose close deregisters the original from the
// netpoller. The socket itself, with its groups, options and queued
// datagrams, lives on in the duplicate.
func (s *Subscriber) detach() error {
	fd := -1
	var serr error
	err := s.raw.Control(func(orig uintptr) {
		if fd, serr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0); serr != nil {
			serr = fmt.Errorf("duplicate the socket: %w", serr)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return err
	}
	w, err := newWaiter(fd)
	if err != nil {
		unix.Close(fd)
		return err
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if err := s.conn.Close(); err != nil {
		w.close()
		unix.Close(fd)
		return fmt.Errorf("close the netpoller's descriptor: %w", err)
	}
	s.fdMu.Lock()
	s.fd, s.raw = fd, fdConn{s: s}
	s.fdMu.Unlock()
	s.waiter.Store(w)
	return nil
}

// fdConn is the syscall.RawConn of a detached socket, for the code written
// against one (drop counter, options); it holds fdMu while f runs, so that
// Close cannot close the descriptor under it.
type fdConn struct{ s *Subscriber }

func (c fdConn) Control(f func(fd uintptr)) error {
	c.s.fdMu.RLock()
	defer c.s.fdMu.RUnlock()
	if c.s.fd < 0 {
		return os.ErrClosed
	}
	f(uintptr(c.s.fd))
	return nil
}

func (c fdConn) Read(f func(fd uintptr) bool) error {
	return fmt.Errorf("read a detached socket: %w", errors.ErrUnsupported)
}

func (c fdConn) Write(f func(fd uintptr) bool) error {
	return fmt.Errorf("write a detached socket: %w", errors.ErrUnsupported)
}

var _ syscall.RawConn = fdConn{}
