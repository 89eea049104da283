package sink

import (
	"io"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// devNull is /dev/null's device number (major 1, minor 3).
var devNull = unix.Mkdev(1, 3)

// rawFD returns f's descriptor when a write to it never waits for a
// reader or a device (a regular file, /dev/null), -1 otherwise (a pipe, a
// terminal, a socket, other devices: those stay with the runtime).
// Writing to such a file with a raw system call does not hand the
// processor over and wake the runtime's monitor thread, which otherwise
// polls for a millisecond after every write: at a few records a second
// that polling cost more than the writing.
func rawFD(f *os.File) int {
	if f == nil {
		return -1
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	raw := -1
	// Control, unlike Fd, leaves a non-blocking descriptor so.
	_ = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			raw = int(fd)
		case unix.S_IFCHR:
			if st.Rdev == devNull {
				raw = int(fd)
			}
		}
	})
	return raw
}

// rawWrite writes p whole to fd with raw system calls, as os.File.Write
// would: a short write is continued, an interrupted one retried, and a
// failure is an *fs.PathError naming the file, with the errno.
func rawWrite(fd int, name string, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			return n, &fs.PathError{Op: "write", Path: name, Err: e}
		case r == 0:
			return n, io.ErrUnexpectedEOF
		}
		n += int(r)
	}
	return n, nil
}
