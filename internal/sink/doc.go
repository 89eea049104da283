// Package sink is the output side of `ctwatch watch`: a bounded, batching
// writer that never blocks the event path, counts what it drops, and reopens
// its file when logrotate asks it to.
//
// The watch loop encodes each record with zerolog, which calls
// [Writer.Write] once per complete line. Output can be slower than input (a
// slow disk, a pipe whose reader stalls, a terminal), and a watch loop that
// waited for it would stop reading the netlink socket and lose events in the
// kernel instead, where nobody can say which. So Write only copies the
// record into memory, and one writer goroutine per [Writer] does the
// write(2) calls, through the output's os.File. (Raw system calls for
// regular files were measured: no gain within the noise at 100 records a
// second, and a write that blocks, under dirty-page throttling or on NFS,
// would then hold a processor of the runtime.)
//
// # Buffering
//
// A Writer owns a pool of at most [Config.Buffers] buffers of
// [Config.BufferSize] bytes each, allocated as they are first needed and
// reused after. Write appends each record whole to the buffer it is filling;
// when a record does not fit, that buffer is handed to the writer goroutine,
// which writes each buffer with one Write call to the output, in order, and
// returns it to the pool. A partly filled buffer is handed over once it has
// waited [Config.FlushInterval] (the first record after a quiet
// FlushInterval at once), so that an operator watching live sees
// events promptly (unless earlier buffers still wait: they go first anyway,
// and the partly filled one keeps filling meanwhile), and by [Writer.Flush]
// and [Writer.Close]. Memory is thus bounded by Buffers × BufferSize. A
// record larger than BufferSize gets an empty buffer to itself, grown to fit
// and freed after its write.
//
// # Drop policy
//
// When every buffer of the pool waits for (or is being written by) the
// writer goroutine, Write drops the record whole, counts it in
// [Stats.Overflow], and still returns len(p), nil: a drop is the designed
// response to slow output, not an error for zerolog to report. Records are
// never split, so the output never holds part of a dropped record.
//
// A table dump is different: ctwatch pulls it, and the kernel holds what
// is not read yet. [Writer.WriteWait] waits for a free buffer instead of
// dropping, so that a snapshot written to a slow reader slows the dump
// down rather than lose records; it drops (and counts) only once its
// context ends.
//
// # Write errors
//
// A write that fails loses the records of its buffer that it did not write
// in full ([Stats.Failed], with the failure in [Stats.WriteErrors]), and
// writing continues with the next buffer. A write that stopped inside a
// record (ENOSPC once the disk filled up) would leave half a line: in a
// regular file the writer goroutine truncates the file back to the end of
// the last whole record (and seeks there, for a file not opened with
// O_APPEND); a pipe, a terminal or a device cannot take bytes back, so the
// record is counted in [Stats.Torn] and a newline is written first so that
// the next records start on their own lines. [Stats.Records] counts only
// records written in full, and [Stats.Records] + [Stats.Dropped] (which is
// Overflow + Failed) equals the number of records accepted by Write once
// they are flushed.
//
// A write error is an event, not only a count: the first failure, each
// change of its errno and the recovery are each sent as a [Fault] on
// [Writer.Faults] (bounded; a Fault finding it full is counted and
// dropped) and written as a line to [Config.Diag], the diagnostic stream,
// with [Hint]'s reading of the errno ("ENOSPC: disk full"). The errno of
// the last failure stays in [Stats.LastWriteErrno].
//
// # End of output
//
// A write that fails with EPIPE (the reader of `ctwatch watch | head` went
// away), or on a closed pipe or file, means output is impossible for good:
// [Writer.Done] is closed, [Writer.Err] says why, and from then on every
// record is dropped and counted so that the caller can stop. Go kills a
// program that writes to a broken pipe on standard output or standard error
// unless it handles SIGPIPE, so a caller writing to stdout must call
// signal.Ignore(syscall.SIGPIPE) (or signal.Notify for it) to see EPIPE here
// instead.
//
// # Rotation
//
// A Writer from [OpenFile] appends to its file, which it opens (and
// reopens) with package safefile: a symbolic link at the path, or a file of
// another user's, is refused unless [Config.File] allows it.
// [Writer.Reopen], called from a SIGHUP handler after logrotate renamed the
// file, makes the writer goroutine open the path anew before its next
// write. If that fails (the directory was renamed too, a link was planted
// at the path), writing continues to the old file, the failure is a
// [Fault] (and counted in [Stats.ReopenErrors]), and the writer goroutine
// tries again after [Config.ReopenRetry], doubling the wait up to a minute,
// until a reopen succeeds or Reopen is called again.
package sink
