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
// Config.ReceiveTimeout is 0: the caller's timers (loss checks, the
// unreplied detector) and its stop are served at least this often.
const DefaultReceiveTimeout = 100 * time.Millisecond

// NewBatch returns an empty batch for Receive, reused from call to call.
func NewBatch() *Batch { return &Batch{} }

// Receive reads into b (emptied first) what the socket holds, up to
// Config.BatchSize and at most one recvmmsg vector, and returns: the caller
// processes the events on the goroutine that reads them, and only that
// goroutine may call Receive. With wait, it first blocks for up to
// Config.ReceiveTimeout until a datagram arrives, and returns b empty if
// none did; without, it returns at once.
//
// It reads the socket as conntrack-tools does, with a plain blocking
// system call: a recvmmsg with MSG_WAITFORONE, which sleeps until the
// first datagram and then takes what else is queued. The first call takes
// the socket out of Go's netpoller for good (it keeps a duplicate of the
// descriptor and closes the original, which deregisters it): there, every
// datagram arriving while a runtime thread sat in epoll_wait woke that
// thread, whether anyone waited for the socket or not, and the threads
// handed the work to each other, several context switches per wake-up —
// most of what ctwatch cost at a few tens of thousands of events a second.
// The timeout is the socket's SO_RCVTIMEO, so a stop is noticed within it.
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
func (s *Subscriber) Receive(b *Batch, wait bool) error {
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
	flags := unix.MSG_WAITFORONE
	if !wait {
		flags = unix.MSG_DONTWAIT
	}
	want := min(s.batchSize, len(s.mmsg.hdrs))
	s.fdMu.RLock()
	if s.fd < 0 {
		// Closed.
		s.fdMu.RUnlock()
		return nil
	}
	var n int
	var err error
	for {
		n, err = s.mmsg.recv(uintptr(s.fd), want, flags)
		if err != unix.EINTR {
			break
		}
	}
	s.fdMu.RUnlock()
	switch {
	case errors.Is(err, unix.EAGAIN):
		// The timeout passed, or nothing is queued.
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

// detach takes the socket out of Go's netpoller: it keeps a duplicate of
// the descriptor, made blocking with the receive timeout, and closes the
// netlink.Conn, whose close deregisters the original from epoll. The
// socket itself, with its groups, options and queued datagrams, lives on
// in the duplicate.
func (s *Subscriber) detach() error {
	timeout := s.recvTimeout
	if timeout <= 0 {
		timeout = DefaultReceiveTimeout
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	fd := -1
	var serr error
	err := s.raw.Control(func(orig uintptr) {
		if fd, serr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0); serr != nil {
			serr = fmt.Errorf("duplicate the socket: %w", serr)
			return
		}
		if serr = unix.SetNonblock(fd, false); serr != nil {
			serr = fmt.Errorf("make the socket blocking: %w", serr)
			return
		}
		if serr = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); serr != nil {
			serr = fmt.Errorf("set SO_RCVTIMEO: %w", serr)
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
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if err := s.conn.Close(); err != nil {
		unix.Close(fd)
		return fmt.Errorf("close the netpoller's descriptor: %w", err)
	}
	s.fdMu.Lock()
	s.fd, s.raw = fd, fdConn{s: s}
	s.fdMu.Unlock()
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
