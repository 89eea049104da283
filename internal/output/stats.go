package output

import (
	"syscall"
	"time"
)

// Stats counts what became of the records handed to one output. Once the
// output is flushed and closed, every record handed to it is in Records or
// in Dropped.
type Stats struct {
	// Name is the output as --output gave it; Kind its sort.
	Name string
	Kind Kind
	// Records counts the records the output took in full: written to the
	// file, or taken by the server.
	Records uint64
	// Queued is the number of records waiting; QueueBytes their size.
	Queued, QueueBytes int
	// Dropped is Overflow + Refused + Failed.
	Dropped uint64
	// Overflow counts records dropped because the output's queue was
	// full: it was behind.
	Overflow uint64
	// Refused counts records the server would never take (too large).
	Refused uint64
	// Failed counts records lost to write errors, or still queued in
	// memory when the watch stopped.
	Failed uint64
	// Retries and Reconnects count a remote output's failed attempts and
	// new connections; Bytes what it took.
	Retries, Reconnects, Bytes uint64
	// Lag is how long the oldest queued record has waited.
	Lag time.Duration
	// Failing says that the output fails now (writes or sends).
	Failing bool
	// LastErrno is the errno of the output's last failure, kept after it
	// works again; 0 if none failed or the failure had none.
	LastErrno syscall.Errno
}
