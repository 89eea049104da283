package netns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// removalMask is what inotify reports on the directory of the path a
// handle was opened by: the name's removal or renaming ("ip netns del"
// unmounts, then unlinks), and the directory's own end.
const removalMask = unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_UNMOUNT | unix.IN_ONLYDIR

// WatchRemoval calls notify, from a goroutine of its own, whenever the file
// the handle was opened by may have stopped naming the namespace: it was
// removed or renamed, its directory went, or the kernel's queue of
// notifications overflowed. Orphaned then tells whether the namespace is
// gone. Between notifications nothing runs: a watch of a named namespace
// costs no periodic check. It watches until ctx ends.
//
// ok is false when the handle's path cannot be watched so (the caller's
// own namespace, a /proc/PID/ns/net link, a file system without inotify):
// the caller then checks Orphaned periodically. A notification comes at
// once when the path no longer holds the namespace by the time the watch
// is armed. An unmount that leaves the file in place is not seen.
func (h *Handle) WatchRemoval(ctx context.Context, notify func()) (ok bool, err error) {
	if h == nil || h.self || h.path == "" || strings.HasPrefix(h.path, "/proc/") {
		return false, nil
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return false, fmt.Errorf("watch network namespace %q: %w", h.spec, err)
	}
	dir, base := filepath.Split(h.path)
	if dir == "" {
		dir = "."
	}
	if _, err := unix.InotifyAddWatch(fd, dir, removalMask); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			notify()
			return true, nil
		}
		return false, fmt.Errorf("watch network namespace %q: %w", h.spec, err)
	}
	// Non-blocking, the file waits in the netpoller and Close wakes it.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	context.AfterFunc(ctx, func() { _ = f.Close() })
	if !h.heldByPath() {
		notify()
	}
	go func() {
		buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				// Closed at ctx's end; any other failure leaves the
				// caller to the periodic check it falls back to.
				if ctx.Err() == nil {
					notify()
				}
				return
			}
			if removalIn(buf[:n], base) {
				notify()
			}
		}
	}()
	return true, nil
}

// removalIn reports whether the inotify events in b say that name, or the
// directory, may be gone.
func removalIn(b []byte, name string) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		// struct inotify_event: wd, mask, cookie, len, then name.
		mask := binary.NativeEndian.Uint32(b[4:8])
		end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:16]))
		if end > len(b) {
			return true
		}
		if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_UNMOUNT|unix.IN_Q_OVERFLOW|unix.IN_IGNORED) != 0 {
			return true
		}
		got := string(b[unix.SizeofInotifyEvent:end])
		if i := strings.IndexByte(got, 0); i >= 0 {
			got = got[:i]
		}
		if got == name {
			return true
		}
		b = b[end:]
	}
	return false
}
