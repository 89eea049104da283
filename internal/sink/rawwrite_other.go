//go:build !linux

package sink

import (
	"errors"
	"os"
)

// rawFD is -1 off Linux: every write goes through the os.File.
func rawFD(f *os.File) int { return -1 }

// rawWrite is never called off Linux (rawFD is -1).
func rawWrite(fd int, name string, p []byte) (int, error) { return 0, errors.ErrUnsupported }
