package netns

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotNetNS is returned (wrapped) by Open when the file named is not a
// network namespace.
var ErrNotNetNS = errors.New("not a network namespace")

// ErrClosed is returned (wrapped) by Do on a closed Handle.
var ErrClosed = errors.New("network namespace handle closed")

// OpenError reports a namespace spec that could not be opened, and how the
// spec was interpreted.
type OpenError struct {
	// Spec is the spec as given to Open.
	Spec string
	// As is the interpretation tried: "own namespace", "name", "path" or
	// "pid".
	As string
	// Path is the file that was opened.
	Path string
	// Err is the underlying error.
	Err error
}

// Error returns "open network namespace SPEC as KIND PATH: ERR".
func (e *OpenError) Error() string {
	return fmt.Sprintf("open network namespace %q as %s %s: %v", e.Spec, e.As, e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *OpenError) Unwrap() error { return e.Err }

// runNetNSDir is where "ip netns add" bind-mounts named namespaces.
const runNetNSDir = "/run/netns/"

// Handle is an open network namespace. Its methods are safe for concurrent
// use, except that Close must not race with the others.
type Handle struct {
	spec string
	// fd is an open descriptor of the namespace file, -1 once closed. For
	// the caller's own namespace it is open too, so that Do can return to
	// it, but FD reports 0.
	fd   int
	self bool
	ino  uint64
	// dev is the device of the namespace file system, which with ino
	// identifies the namespace; path is the file it was opened by, whose
	// stat still showing dev and ino proves it held (Orphaned).
	dev  uint64
	path string
}

// Open opens the network namespace spec names: "" for the caller's own
// namespace (that of the calling thread), a NAME under /run/netns, a PATH
// (containing '/'), or a PID (all digits) for /proc/PID/ns/net. Errors name
// the spec and the interpretation that failed (*OpenError).
func Open(spec string) (*Handle, error) {
	var kind, path string
	switch {
	case spec == "":
		kind, path = "own namespace", "/proc/thread-self/ns/net"
	case strings.ContainsRune(spec, '/'):
		kind, path = "path", spec
	case isDigits(spec):
		kind, path = "pid", "/proc/"+spec+"/ns/net"
	default:
		if spec == "." || spec == ".." {
			return nil, &OpenError{Spec: spec, As: "name", Path: runNetNSDir + spec, Err: unix.EINVAL}
		}
		kind, path = "name", runNetNSDir+spec
	}
	fd, st, err := openNS(path)
	if err != nil {
		return nil, &OpenError{Spec: spec, As: kind, Path: path, Err: err}
	}
	return &Handle{spec: spec, fd: fd, self: spec == "", ino: st.Ino, dev: st.Dev, path: path}, nil
}

// openNS opens path and checks that it is a network namespace.
func openNS(path string) (fd int, st unix.Stat_t, err error) {
	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, st, err
	}
	// NS_GET_NSTYPE (Linux 4.11) rejects a regular file or another kind of
	// namespace here, instead of at the first setns or netlink dial.
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWNET {
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.ENOTTY) {
			return -1, st, fmt.Errorf("%w: %w", ErrNotNetNS, err)
		}
		return -1, st, ErrNotNetNS
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	return fd, st, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FD returns the namespace's descriptor for netlink.Config{NetNS: fd}. It
// is 0 for the caller's own namespace, which netlink takes as "the current
// namespace" and which then needs no privilege to dial.
//
// A nil *Handle stands for the caller's own namespace in every method: FD
// returns 0, Do runs f where it is, String returns "self", Close does
// nothing.
func (h *Handle) FD() int {
	if h == nil || h.self {
		return 0
	}
	return h.fd
}

// ID returns the namespace's inode number, its identity: handles opened
// under different names of one namespace have the same ID.
func (h *Handle) ID() uint64 {
	if h == nil {
		return 0
	}
	return h.ino
}

// String returns the spec the namespace was opened with, as the user named
// it.
func (h *Handle) String() string {
	if h == nil || h.spec == "" {
		return "self"
	}
	return h.spec
}

// Do runs f on an OS thread locked to it and switched into the namespace,
// for work that depends on the current thread's namespace: creating a
// socket there, or reading /proc/sys/net or /proc/thread-self/net files.
// (/proc/self/net shows the main thread's namespace, not the current
// thread's.) The thread is switched back afterwards; if that fails, the
// thread stays locked and the Go runtime discards it instead of reusing a
// thread in the wrong namespace. When the calling process already is in the
// namespace no switch happens, so no privilege is needed.
func (h *Handle) Do(f func() error) error {
	if h == nil {
		return f()
	}
	if h.fd < 0 {
		return fmt.Errorf("enter network namespace %q: %w", h.spec, ErrClosed)
	}
	errc := make(chan error, 1)
	// A fresh goroutine owns the locked thread, so that a thread left in
	// the wrong namespace dies with it.
	go func() {
		runtime.LockOSThread()
		cur, curSt, err := openNS("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer unix.Close(cur)
		if curSt.Ino == h.ino {
			ferr := f()
			runtime.UnlockOSThread()
			errc <- ferr
			return
		}
		if err := unix.Setns(h.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %q: %w", h.spec, err)
			return
		}
		ferr := f()
		if err := unix.Setns(cur, unix.CLONE_NEWNET); err != nil {
			// Returning while locked makes the runtime end the thread.
			errc <- errors.Join(ferr, fmt.Errorf("return from network namespace %q: %w", h.spec, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Close closes the namespace's descriptor. Closing twice is harmless.
func (h *Handle) Close() error {
	if h == nil || h.fd < 0 {
		return nil
	}
	err := unix.Close(h.fd)
	h.fd = -1
	if err != nil {
		return fmt.Errorf("close network namespace %q: %w", h.spec, err)
	}
	return nil
}

// Dup returns a second handle on the same namespace with a descriptor of
// its own, for a receiver that closes it on its own schedule: closing one
// leaves the other open. A nil Handle dups to nil.
func (h *Handle) Dup() (*Handle, error) {
	if h == nil {
		return nil, nil
	}
	if h.fd < 0 {
		return nil, fmt.Errorf("duplicate network namespace %q: %w", h.spec, ErrClosed)
	}
	fd, err := unix.FcntlInt(uintptr(h.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate network namespace %q: %w", h.spec, err)
	}
	return &Handle{spec: h.spec, fd: fd, self: h.self, ino: h.ino, dev: h.dev, path: h.path}, nil
}
