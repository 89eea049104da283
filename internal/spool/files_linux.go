package spool

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/safefile"
)

// lockDir creates dir if needed and takes its lock file with flock, so
// that a second ctwatch (or a second Spool) on the same directory fails
// at once instead of corrupting the first one's queue. The lock goes with
// the process: a killed process leaves no stale lock.
func lockDir(dir string) (*os.File, error) {
	if err := safefile.MkdirAll(dir, safefile.Options{}); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	path := filepath.Join(dir, lockName)
	f, err := safefile.OpenFile(path, os.O_RDWR|os.O_CREATE, safefile.Options{})
	if err != nil {
		return nil, fmt.Errorf("spool: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("spool %s: %w (lock %s)", dir, ErrLocked, path)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", path, err)
	}
	return f, nil
}

// createFile creates a new segment file; one that exists already is an
// error (O_EXCL), never overwritten.
func createFile(path string) (*os.File, error) {
	return safefile.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, safefile.Options{})
}

// fdatasync writes f's data to the disk.
func fdatasync(f *os.File) error {
	return unix.Fdatasync(int(f.Fd()))
}

// syncDir makes the directory's entries (a new or removed segment)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
