package safefile

import (
	"fmt"
	"os"
	"syscall"
)

// DirMode is the permission new directories are created with (before the
// umask).
const DirMode = 0o750

// OpenFile opens path with flag (os.O_RDONLY, os.O_RDWR|os.O_CREATE, ...)
// with the checks of [OpenAppend]: a final symbolic link is refused, and
// an existing file must be ctwatch's own with a single hard link unless
// opt allows it. It never truncates. New files get [Mode].
func OpenFile(path string, flag int, opt Options) (*os.File, error) {
	return open(path, flag, false, opt)
}

// MkdirAll creates path and its missing parents with [DirMode], and
// checks the final directory: it must not be a symbolic link and, unless
// opt allows it, must belong to ctwatch's own user. The check is on an
// open descriptor of the directory (O_NOFOLLOW|O_DIRECTORY), so it cannot
// be swapped between check and use of that descriptor.
func MkdirAll(path string, opt Options) error {
	if err := os.MkdirAll(path, DirMode); err != nil {
		return err // an *os.PathError: it names the path
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		if err == syscall.ELOOP || err == syscall.ENOTDIR {
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
				return &os.PathError{Op: "open", Path: path, Err: ErrSymlink}
			}
		}
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if opt.AllowOtherOwner {
		return nil
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid {
		return &os.PathError{Op: "open", Path: path,
			Err: fmt.Errorf("%w: owned by uid %d, not by ctwatch's uid %d", ErrOtherOwner, st.Uid, uid)}
	}
	return nil
}
