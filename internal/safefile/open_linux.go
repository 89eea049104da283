package safefile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Mode is the permission new files are created with (before the umask).
const Mode = 0o640

// ErrSymlink is wrapped by the error for a path whose last element is a
// symbolic link.
var ErrSymlink = errors.New("is a symbolic link, which is not followed")

// ErrOtherOwner is wrapped by the error for an existing file that belongs
// to another user.
var ErrOtherOwner = errors.New("belongs to another user")

// ErrHardLink is wrapped by the error for an existing regular file with
// more than one hard link: it may be another file's second name.
var ErrHardLink = errors.New("has more than one hard link")

// Options loosens the checks.
type Options struct {
	// AllowOtherOwner accepts an existing file owned by another user, or
	// with more than one hard link (ErrOtherOwner, ErrHardLink). A final symbolic link is refused
	// whatever this says.
	AllowOtherOwner bool
}

// OpenAppend opens path for appending, creating it if it does not exist.
func OpenAppend(path string, opt Options) (*os.File, error) {
	return open(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, false, opt)
}

// Create opens path for writing and empties it, creating it if it does not
// exist. It checks the file before it truncates it, so that a refused file
// keeps its contents.
func Create(path string, opt Options) (*os.File, error) {
	return open(path, os.O_WRONLY|os.O_CREATE, true, opt)
}

func open(path string, flag int, truncate bool, opt Options) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, Mode)
	if err != nil {
		// ELOOP also comes from a loop of links among the directories:
		// say "symbolic link" only when the last element is one.
		if errors.Is(err, syscall.ELOOP) {
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
				return nil, &os.PathError{Op: "open", Path: path, Err: ErrSymlink}
			}
		}
		return nil, err // an *os.PathError: it names the path
	}
	if err := check(f, opt); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if truncate {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// check refuses an open file that belongs to another user or has another
// hard link, unless opt allows it.
func check(f *os.File, opt Options) error {
	// f.Stat, not Fd and fstat: Fd would put the file in blocking mode.
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("no owner in %T", fi.Sys())
	}
	if opt.AllowOtherOwner || st.Mode&syscall.S_IFMT == syscall.S_IFCHR {
		return nil
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid {
		return fmt.Errorf("%w: owned by uid %d, not by ctwatch's uid %d", ErrOtherOwner, st.Uid, uid)
	}
	// A hard link to a file elsewhere (another user's, planted where the
	// file was expected) would let root write to it under this name.
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Nlink > 1 {
		return fmt.Errorf("%w (%d): it may be another file's second name", ErrHardLink, st.Nlink)
	}
	return nil
}
