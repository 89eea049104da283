package record

import "syscall"

// OutputError is a failure of the output the records go to: the first
// failure of an operation, or a change of its errno (sink.Fault).
type OutputError struct {
	// Op is the operation that failed: "write", "reopen" or "close".
	Op string
	// Path is the output file, "" for standard output.
	Path string
	// Err is the failure; Errno the errno it wraps, or 0.
	Err   error
	Errno syscall.Errno
	// Hint says what the failure means and what to do (sink.Hint).
	Hint string
	// Torn says that a write left part of a record in the output that
	// could not be taken back.
	Torn bool
	// LostTotal counts the records lost to write errors since the start.
	LostTotal uint64
}

// OutputRecovered reports that an operation of the output works again.
type OutputRecovered struct {
	// Op is the operation: "write" or "reopen".
	Op string
	// Path is the output file, "" for standard output.
	Path string
	// Errno is the errno of the failure it recovered from, or 0.
	Errno syscall.Errno
	// Lost counts the records lost to write errors while it failed;
	// LostTotal since the start.
	Lost, LostTotal uint64
}

// NetnsGone reports that the watched network namespace is gone: no name
// and no process holds it any more, only ctwatch's own descriptor.
type NetnsGone struct {
	// NetNS names the namespace as the user did; Inode is its identity.
	NetNS string
	Inode uint64
	// FlowsEnded counts the tracked flows ended (inferred) with it.
	FlowsEnded uint64
	// Wait says that the watch keeps running (--on-netns-gone wait)
	// rather than stopping.
	Wait bool
}
