package watch

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time, user and system, the calling thread has
// used (getrusage RUSAGE_THREAD).
func threadCPU() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
