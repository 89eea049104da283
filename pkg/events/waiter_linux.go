package events

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// waiter is where the detached socket is waited for: an epoll instance of
// its own holding the socket with EPOLLIN|EPOLLONESHOT, itself registered
// in Go's netpoller (an epoll descriptor is pollable like a socket). The
// one-shot registration reports the socket once per arming and never
// again until armed anew, just before the next wait: datagrams that
// arrive while the reader is busy wake nobody. Only the reading goroutine
// waits; wake and close may be called from any goroutine.
type waiter struct {
	sock int      // the socket's descriptor
	ep   *os.File // the epoll instance, in the netpoller
	raw  syscall.RawConn

	// Made once, so that a wait allocates nothing: the functions given
	// to raw, and what arming returns.
	armFn   func(uintptr)
	readyFn func(uintptr) bool
	armErr  error
	events  [1]unix.EpollEvent
	arm     unix.EpollEvent // EPOLLIN|EPOLLONESHOT for the socket
}

func newWaiter(sock int) (*waiter, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create the socket's epoll instance: %w", os.NewSyscallError("epoll_create1", err))
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(sock)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, sock, &ev); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("add the socket to its epoll instance: %w", os.NewSyscallError("epoll_ctl", err))
	}
	// Non-blocking, os.NewFile puts it in the netpoller, where its read
	// deadline bounds a wait.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("make the epoll instance non-blocking: %w", err)
	}
	w := &waiter{sock: sock, ep: os.NewFile(uintptr(epfd), "ctnetlink-wait"), arm: ev}
	if w.raw, err = w.ep.SyscallConn(); err != nil {
		w.ep.Close()
		return nil, fmt.Errorf("epoll instance: %w", err)
	}
	// Both calls are raw, as the socket's reads (mmsgBuffer.recv): they
	// never block.
	w.armFn = func(fd uintptr) {
		w.armErr = nil
		if _, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, fd, unix.EPOLL_CTL_MOD, uintptr(w.sock), uintptr(unsafe.Pointer(&w.arm)), 0, 0); errno != 0 {
			w.armErr = errno
		}
	}
	w.readyFn = func(fd uintptr) bool {
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&w.events[0])), uintptr(len(w.events)), 0, 0, 0)
		if errno != 0 {
			// Any error but an interruption ends the wait: the read
			// that follows says what is wrong.
			return errno != unix.EINTR
		}
		return n > 0
	}
	return w, nil
}

// wait waits until the socket is readable, deadline passes (the zero time:
// none), woken is set or the waiter is closed, and reports whether the
// socket may be read. Arming the one-shot registration reports a socket
// that already holds datagrams at once, so none that came after the last
// read is missed.
func (w *waiter) wait(deadline time.Time, woken *atomic.Bool) bool {
	if err := w.raw.Control(w.armFn); err != nil || w.armErr != nil {
		// Closed, or arming failed: the read says which.
		return true
	}
	if err := w.ep.SetReadDeadline(deadline); err != nil {
		return true
	}
	// After the deadline is set: a wake that came before is seen here,
	// one that comes after moves the deadline into the past.
	if woken.Swap(false) {
		return false
	}
	return w.raw.Read(w.readyFn) == nil
}

// wake ends a wait in progress (a deadline in the past).
func (w *waiter) wake() { _ = w.ep.SetReadDeadline(time.Unix(1, 0)) }

// close closes the epoll instance, ending a wait in progress.
func (w *waiter) close() error { return w.ep.Close() }
