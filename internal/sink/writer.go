package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/safefile"
)

// Defaults for the zero values of Config.
const (
	DefaultBufferSize    = 64 << 10
	DefaultBuffers       = 64
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultReopenRetry   = time.Second
)

// faultQueue is the capacity of the Faults channel.
const faultQueue = 16

// Config sizes a Writer's buffers. Zero (or negative) values take the
// defaults; memory use is bounded by Buffers × BufferSize (4 MiB by
// default).
type Config struct {
	// BufferSize is the size of each buffer in bytes, and so the most one
	// write to the output carries (default 64 KiB).
	BufferSize int
	// Buffers is the number of buffers in the pool: once all of them wait
	// for the writer goroutine, records are dropped (default 64).
	Buffers int
	// FlushInterval is the longest a partly filled buffer waits before it
	// is written (default 100 ms). The first record after FlushInterval
	// without a write (or since the start) does not wait: it is written
	// at once, and those that follow it within FlushInterval are batched.
	FlushInterval time.Duration
	// ReopenRetry is the first wait before a failed reopen is tried again;
	// each further failure doubles it, up to a minute (default 1 s).
	ReopenRetry time.Duration
	// File says how OpenFile and each reopen open the file (by default an
	// existing file must be ctwatch's own; a symbolic link is refused).
	File safefile.Options
	// Diag, if not nil, gets one line for each Fault, as it happens: the
	// diagnostic stream (stderr), which tells a person what the records'
	// stream may be unable to.
	Diag io.Writer
}

func (c Config) withDefaults() Config {
	if c.BufferSize <= 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.Buffers <= 0 {
		c.Buffers = DefaultBuffers
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.ReopenRetry <= 0 {
		c.ReopenRetry = DefaultReopenRetry
	}
	return c
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink is closed")

// Stats counts a Writer's records and writes since it was created. Once
// every record accepted by Write is flushed, Records + Dropped equals their
// number, and Dropped = Overflow + Failed.
type Stats struct {
	// Records is the number of records written in full.
	Records uint64
	// Bytes is the number of bytes written and left in the output,
	// including those of a torn record.
	Bytes uint64
	// Dropped is the number of records not written: Overflow + Failed.
	Dropped uint64
	// Overflow is the number of records dropped whole because no buffer
	// was free: the output was slower than the records came.
	Overflow uint64
	// Failed is the number of records lost to write errors: in a write
	// that failed, or accepted after the output was gone for good.
	Failed uint64
	// Torn is the number of failed writes that left part of a record in
	// the output and could not take it back (a pipe, a device; in a
	// regular file the part is truncated away). The records are in
	// Failed.
	Torn uint64
	// Writes is the number of Write calls to the output.
	Writes uint64
	// WriteErrors is the number of those calls that failed, with failures
	// to close a rotated file.
	WriteErrors uint64
	// LastWriteErrno is the errno of the most recent failed write, kept
	// after writes succeed again; 0 if none failed or it had none.
	LastWriteErrno syscall.Errno
	// Reopens is the number of times the file was reopened.
	Reopens uint64
	// ReopenErrors is the number of reopen attempts that failed (retries
	// included); output continued to the file already open.
	ReopenErrors uint64
	// LastReopenErrno is the errno of the most recent failed reopen, kept
	// after a reopen succeeds; 0 if none failed or it had none.
	LastReopenErrno syscall.Errno
	// FaultsDropped is the number of Faults not delivered because the
	// Faults channel was full.
	FaultsDropped uint64
}

// Fault is a change in the output's health: the first failure of an
// operation, a change of its errno, a torn record, or (Err nil) the
// operation working again.
type Fault struct {
	// Op is the operation: "write", "reopen" (after Reopen: the Writer
	// retries, writing on to the old file meanwhile), "close" (of the
	// rotated file) or, for a remote output (package output), "send".
	Op string
	// Path is the output file's path, "" for a Writer from New; a remote
	// output's name.
	Path string
	// Err is the failure, wrapping the errno; nil when Op works again.
	Err error
	// Errno is the errno Err wraps, or 0.
	Errno syscall.Errno
	// Torn says that a write left part of a record in the output that
	// could not be taken back.
	Torn bool
	// Lost is Stats.Failed when the fault happened.
	Lost uint64
}

// String is the fault for a person: what failed, why, and what to do.
func (f Fault) String() string {
	out := "output"
	if f.Path != "" {
		out += " " + f.Path
	}
	if f.Err == nil {
		switch f.Op {
		case "write":
			return fmt.Sprintf("%s: writing again, after %d records were lost to write errors", out, f.Lost)
		case "reopen":
			return fmt.Sprintf("%s: reopened: records go to the new file", out)
		case "send":
			return fmt.Sprintf("%s: sending again; its queue goes out in order", out)
		}
		return fmt.Sprintf("%s: %s works again", out, f.Op)
	}
	var what string
	switch f.Op {
	case "write":
		what = "records are dropped while writes fail"
		if f.Torn {
			what += "; a record was cut short and the output cannot take it back"
		}
	case "reopen":
		what = "records go on to the file already open (renamed?); retrying"
	case "send":
		what = "records wait in its queue (dropped and counted once it is full); reconnecting with backoff"
	default:
		what = "records written to it may be lost"
	}
	return fmt.Sprintf("%s: %v (%s); %s", out, f.Err, Hint(f.Err), what)
}

// Hint says in a few words what err means for the output and, where it
// can, what to do: "disk full" rather than "no space left on device".
func Hint(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, safefile.ErrSymlink):
		return "a symbolic link is at the output path; ctwatch does not follow it"
	case errors.Is(err, safefile.ErrOtherOwner), errors.Is(err, safefile.ErrHardLink):
		return "the file at the output path is not ctwatch's own"
	case errors.Is(err, os.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return "the output was closed"
	case errors.Is(err, io.ErrShortWrite):
		return "the output took only part of a write"
	case !errors.As(err, &errno):
		return "write error"
	}
	switch errno {
	case syscall.ENOSPC:
		return "ENOSPC: disk full; free space on the output's file system"
	case syscall.EDQUOT:
		return "EDQUOT: disk quota exceeded"
	case syscall.EIO:
		return "EIO: I/O error on the output's device; see the kernel log"
	case syscall.EPIPE:
		return "EPIPE: the reader of the output went away"
	case syscall.EFBIG:
		return "EFBIG: the file is too large; rotate it"
	case syscall.EROFS:
		return "EROFS: the file system is read-only"
	case syscall.ENOENT:
		return "ENOENT: the output's directory is gone"
	case syscall.EACCES, syscall.EPERM:
		return errnoName(errno) + ": permission denied"
	case syscall.EISDIR:
		return "EISDIR: a directory is at the output path"
	}
	return errnoName(errno) + ": write error"
}

// errnoName returns the errno's symbol, such as "ENOSPC".
func errnoName(errno syscall.Errno) string {
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", int(errno))
}

// Writer is the bounded, batching output writer described in the package
// documentation. Its methods are safe for concurrent use, though Write is
// meant to be called by one goroutine, the watch loop.
type Writer struct {
	cfg  Config
	path string // "" for New: Reopen does nothing

	// mu guards the producer side: the buffer being filled and the order
	// of handing buffers over, between Write, Flush, Close and the flush
	// timer. The writer goroutine takes it only on the flush timer, so
	// that a busy Write cannot starve it.
	mu     sync.Mutex
	cur    *buffer // being filled by Write; nil when none was free
	alloc  int     // buffers in existence, at most cfg.Buffers
	handed uint64  // seq of the last buffer handed to the writer goroutine
	closed bool
	// kept holds the records of WriteKeep that found no free buffer, in
	// order, with the end offset of each in keptEnds; they go into the
	// next buffer that frees up, ahead of any later record. Unbounded, but
	// only the rare records that account for the others are kept.
	kept     []byte
	keptEnds []int
	hasKept  atomic.Bool

	// doneMu guards what the writer goroutine reports back to Flush.
	doneMu   sync.Mutex
	written  uint64    // seq of the last buffer the writer goroutine is done with
	progress sync.Cond // on doneMu; broadcast when written advances
	flushErr error     // first failure since the last Flush

	// queue carries buffers, in order, from Write, Flush, Close and the
	// flush timer to the writer goroutine. Its owner is the Writer; it is
	// never closed (the goroutine stops on stop). It holds as many buffers
	// as the pool has and every send is made under mu, so a send never
	// blocks.
	queue chan *buffer
	// free carries written buffers back from the writer goroutine to
	// Write for reuse. Owner: the Writer, never closed. It holds the whole
	// pool, so the writer goroutine's send never blocks; Write's receive
	// does not wait (an empty channel means no free buffer).
	free chan *buffer
	// pending tells the writer goroutine that Write put the first record
	// into an empty buffer, which starts the flush timer. Owner: the
	// Writer, never closed. It holds one signal; when full, the signal
	// already sent stands for the new one and Write moves on.
	pending chan struct{}
	// wake tells the writer goroutine that Reopen was called. Owner: the
	// Writer, never closed; one signal, coalescing like pending.
	wake chan struct{}
	// stop is closed by Close to stop the writer goroutine.
	stop chan struct{}
	// exited is closed by the writer goroutine when it returns.
	exited chan struct{}
	// done is closed by the writer goroutine once output is gone for good;
	// err says why and is set before.
	done chan struct{}
	gone atomic.Bool
	err  error

	reopen atomic.Bool

	// faults carries Faults from the writer goroutine to whoever watches
	// the output's health (the watch loop). Owner: the Writer, never
	// closed. It holds faultQueue Faults; when full, the writer goroutine
	// drops the new one and counts it in Stats.FaultsDropped (Stats still
	// tells the state). Only the first failure of an operation, each
	// change of its errno and each recovery are sent, so it fills only if
	// nobody reads it.
	faults chan Fault
	// now is the writer goroutine's clock.
	now func() time.Time
	// notify is what NotifyFaults was given.
	notify Notify

	// Owned by the writer goroutine (and by Close once it has exited).
	out                     io.Writer
	file                    *os.File // the file OpenFile opened; nil for New
	fileOut                 *os.File // out as a file, to truncate a torn record; nil if it is not one
	midLine                 bool     // a failed write stopped inside a line
	writeState, reopenState faultState

	// queued counts the records accepted by Write and not yet written
	// or dropped by the writer goroutine: what Depth reports.
	queued atomic.Int64

	records, bytes, overflow, failedRecs, torn, writes, writeErrors atomic.Uint64
	reopens, reopenErrors, faultsDropped                            atomic.Uint64
	lastWriteErrno, lastReopenErrno                                 atomic.Uint32

	closeOnce sync.Once
	closeErr  error
}

// buffer is one batch of whole records.
type buffer struct {
	data []byte
	ends []int  // end offset in data of each record, to count a partial write
	seq  uint64 // order in which it was handed to the writer goroutine
}

// New returns a Writer writing to w, such as os.Stdout, and starts its
// writer goroutine. Close does not close w, and Reopen does nothing.
func New(w io.Writer, cfg Config) *Writer {
	return start(w, nil, "", cfg, time.Now)
}

// OpenFile opens path for appending with safefile.OpenAppend and
// cfg.File (creating it with mode 0640), and returns a Writer writing to it
// that Reopen can reopen.
func OpenFile(path string, cfg Config) (*Writer, error) {
	f, err := safefile.OpenAppend(path, cfg.File)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	return start(f, f, path, cfg, time.Now), nil
}

// start starts a Writer whose writer goroutine reads the time from now (to
// tell a quiet stream from a busy one).
func start(out io.Writer, file *os.File, path string, cfg Config, now func() time.Time) *Writer {
	cfg = cfg.withDefaults()
	w := &Writer{
		cfg:     cfg,
		now:     now,
		path:    path,
		free:    make(chan *buffer, cfg.Buffers),
		queue:   make(chan *buffer, cfg.Buffers),
		pending: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
		faults:  make(chan Fault, faultQueue),
		out:     out,
		file:    file,
	}
	w.fileOut, _ = out.(*os.File)
	w.progress.L = &w.doneMu
	go w.run(now())
	return w
}

// Write appends the record p, whole, to the buffer being filled; it never
// waits for output. When no buffer is free it drops the record and counts
// it; it returns len(p), nil either way, so that zerolog does not report a
// drop as a failure. It returns ErrClosed after Close.
func (w *Writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // no record: nothing to count
	}
	if n, done, err := w.offer(p); done {
		return n, err
	}
	w.overflow.Add(1)
	return len(p), nil
}

// offer puts p into the buffer being filled, under mu, and reports
// whether it is done with p: put, counted as failed because the output is
// gone for good, or refused with ErrClosed after Close; n and err are then
// what Write returns. It is not done, and counts nothing, when no buffer
// is free: what then is the caller's choice.
func (w *Writer) offer(p []byte) (n int, done bool, err error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, true, ErrClosed
	}
	if w.gone.Load() {
		w.mu.Unlock()
		w.failedRecs.Add(1)
		return len(p), true, nil
	}
	done = w.put(p, false)
	w.mu.Unlock()
	return len(p), done, nil
}

// WriteWait is Write for a record that may wait for output but must not
// be dropped for want of room: a record of a table dump, which ctwatch
// pulls and can pull more slowly (the kernel holds the rest of the dump
// meanwhile), unlike an event, which would overflow the socket instead.
// When no buffer is free it waits for the writer goroutine to free one, or
// for ctx to end: then it drops the record and counts it like Write. A
// record is lost to a failed write or an output gone for good, and
// counted then like any other. It returns ErrClosed after Close.
func (w *Writer) WriteWait(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if n, done, err := w.offer(p); done {
			return n, err
		}
		select {
		case b := <-w.free:
			// Back into the pool for put to take under mu: free holds
			// the whole pool, so this send never blocks.
			w.free <- b
		case <-w.done:
			// Gone for good: counted as failed at the next turn.
		case <-ctx.Done():
			w.overflow.Add(1)
			return len(p), nil
		}
	}
}

// WriteKeep is Write for a record that must not be dropped (a gap record,
// which accounts for the dropped ones): when no buffer is free, it is kept
// aside and written, in order, ahead of the records that come after it,
// once a buffer frees up. It is lost only to a failed write or an output
// gone for good, and counted then like any other.
func (w *Writer) WriteKeep(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.gone.Load() {
		w.failedRecs.Add(1)
		return len(p), nil
	}
	w.put(p, true)
	return len(p), nil
}

// put appends p to the buffer being filled, starting a new one when it
// does not fit, and reports whether it found room. With keep, a record
// that finds no free buffer is kept aside instead. Call with mu held.
func (w *Writer) put(p []byte, keep bool) bool {
	b := w.cur
	if b != nil && len(b.data) > 0 && len(b.data)+len(p) > w.cfg.BufferSize {
		w.handOver()
		b = nil
	}
	if b == nil {
		if b = w.freeBuffer(); b == nil {
			if !keep {
				return false
			}
			w.kept = append(w.kept, p...)
			w.keptEnds = append(w.keptEnds, len(w.kept))
			w.hasKept.Store(true)
			w.queued.Add(1)
			return true
		}
		w.cur = b
	}
	first := len(b.data) == 0
	b.data = append(b.data, p...)
	b.ends = append(b.ends, len(b.data))
	w.queued.Add(1)
	if first {
		w.signalPending()
	}
	return true
}

// signalPending tells the writer goroutine that a buffer began to fill.
func (w *Writer) signalPending() {
	select {
	case w.pending <- struct{}{}:
	default:
	}
}

// moveKept puts the kept records into a free buffer, if there is one, so
// that they are written before anything written after them. Call with mu
// held.
func (w *Writer) moveKept() {
	if len(w.keptEnds) == 0 {
		return
	}
	if w.cur == nil {
		if w.cur = w.freeBuffer(); w.cur == nil {
			return
		}
	}
	b := w.cur
	first := len(b.data) == 0
	base := len(b.data)
	b.data = append(b.data, w.kept...) // may grow past BufferSize: freed after its write
	for _, end := range w.keptEnds {
		b.ends = append(b.ends, base+end)
	}
	w.kept, w.keptEnds = w.kept[:0], w.keptEnds[:0]
	w.hasKept.Store(false)
	if first {
		w.signalPending()
	}
}

// freeBuffer returns an empty buffer from the pool, allocating one if the
// pool is not at its size yet, or nil. Call with mu held.
func (w *Writer) freeBuffer() *buffer {
	var b *buffer
	select {
	case b = <-w.free:
		if b.data == nil { // its memory went with an oversized record
			b.data = make([]byte, 0, w.cfg.BufferSize)
		}
	default:
		if w.alloc >= w.cfg.Buffers {
			return nil
		}
		w.alloc++
		b = &buffer{data: make([]byte, 0, w.cfg.BufferSize)}
	}
	if len(w.keptEnds) > 0 {
		// Kept records go first, ahead of the record that asked.
		w.cur = b
		w.moveKept()
	}
	return b
}

// handOver queues the buffer being filled for the writer goroutine. Call
// with mu held and w.cur non-nil.
func (w *Writer) handOver() {
	w.handed++
	w.cur.seq = w.handed
	w.queue <- w.cur // never blocks: the queue holds the whole pool
	w.cur = nil
}

// Flush waits until every record Write accepted before the call has been
// written or dropped. It returns the first write or reopen failure since the
// previous Flush, or, once output is gone for good, the reason. Flush waits
// as long as the output blocks.
func (w *Writer) Flush() error {
	return w.flush(false)
}

// flush hands over the buffer being filled, marking the Writer closed if
// close is set, and waits until the writer goroutine is done with it.
func (w *Writer) flush(close bool) error {
	w.mu.Lock()
	if close {
		w.closed = true
	}
	for len(w.keptEnds) > 0 && !w.gone.Load() {
		// Kept records wait for a buffer: wait for the writer goroutine
		// to free one, as Flush waits for it anyway.
		if w.cur != nil && len(w.cur.data) > 0 {
			w.handOver()
		}
		w.moveKept()
		if len(w.keptEnds) == 0 {
			break
		}
		w.doneMu.Lock()
		seen := w.written
		w.mu.Unlock()
		for w.written == seen {
			w.progress.Wait()
		}
		w.doneMu.Unlock()
		w.mu.Lock()
	}
	if w.gone.Load() && len(w.keptEnds) > 0 {
		w.failedRecs.Add(uint64(len(w.keptEnds)))
		w.queued.Add(-int64(len(w.keptEnds)))
		w.kept, w.keptEnds = w.kept[:0], w.keptEnds[:0]
		w.hasKept.Store(false)
	}
	if w.cur != nil && len(w.cur.data) > 0 {
		w.handOver()
	}
	target := w.handed
	w.mu.Unlock()

	w.doneMu.Lock()
	defer w.doneMu.Unlock()
	for w.written < target {
		w.progress.Wait()
	}
	err := w.flushErr
	w.flushErr = nil
	if err == nil && w.gone.Load() {
		err = w.err
	}
	return err
}

// Reopen makes the writer goroutine reopen the file of a Writer from
// OpenFile before its next write, so that after logrotate renamed the file
// new records go to a new file at the same path. It does not wait, so a
// signal handler can call it; records accepted before may go to either
// file, none is lost. It does nothing for a Writer from New.
func (w *Writer) Reopen() {
	if w.path == "" {
		return
	}
	w.reopen.Store(true)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close flushes, stops the writer goroutine and closes the file of a Writer
// from OpenFile (not the writer given to New). It returns what Flush would,
// joined with the file's close error; later calls return the same. Like
// Flush, it waits as long as the output blocks; after Close, Write returns
// ErrClosed.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		err := w.flush(true)
		close(w.stop)
		<-w.exited
		if w.file != nil {
			if cerr := w.file.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close output: %w", cerr))
			}
		}
		w.closeErr = err
	})
	return w.closeErr
}

// Stats returns the Writer's counters. The counters are read one by one, so
// a snapshot taken while records flow may be off by the records in flight.
func (w *Writer) Stats() Stats {
	s := Stats{
		Records:         w.records.Load(),
		Bytes:           w.bytes.Load(),
		Overflow:        w.overflow.Load(),
		Failed:          w.failedRecs.Load(),
		Torn:            w.torn.Load(),
		Writes:          w.writes.Load(),
		WriteErrors:     w.writeErrors.Load(),
		LastWriteErrno:  syscall.Errno(w.lastWriteErrno.Load()),
		Reopens:         w.reopens.Load(),
		ReopenErrors:    w.reopenErrors.Load(),
		LastReopenErrno: syscall.Errno(w.lastReopenErrno.Load()),
		FaultsDropped:   w.faultsDropped.Load(),
	}
	s.Dropped = s.Overflow + s.Failed
	return s
}

// Depth returns the number of records Write accepted that the writer
// goroutine has not yet written or dropped: the records waiting in the
// buffers, the one being filled included.
func (w *Writer) Depth() int { return int(w.queued.Load()) }

// Faults returns the channel on which the writer goroutine reports each
// Fault: the first failure of a write or reopen, each change of its errno,
// a torn record, and recovery. It holds 16 Faults and is never closed; a
// Fault that finds it full is dropped and counted in Stats.FaultsDropped.
// The caller reads it without waiting (select with default in its loop):
// a Fault is a change of state, and Stats holds the state itself.
func (w *Writer) Faults() <-chan Fault { return w.faults }

// NotifyFaults has f called, by the writer goroutine, after each Fault it
// reports (queued on the Faults channel or, that full, dropped): the reader
// of Faults can then wait for something else and still take each Fault at
// once. f must not block; nil stops the calls.
func (w *Writer) NotifyFaults(f func()) { w.notify.Set(f) }

// Notify holds the function a NotifyFaults gave, for the goroutine that
// reports faults to call. The zero value calls nothing.
type Notify struct{ f atomic.Pointer[func()] }

// Set makes f the function Call calls; nil stops the calls.
func (n *Notify) Set(f func()) { n.f.Store(&f) }

// Call calls the function Set gave, if any.
func (n *Notify) Call() {
	if f := n.f.Load(); f != nil && *f != nil {
		(*f)()
	}
}

// Done returns a channel that is closed when output has become impossible
// for good (EPIPE: the reader went away), so that the caller can stop
// watching. It is not closed by Close.
func (w *Writer) Done() <-chan struct{} { return w.done }

// Err returns why Done was closed, wrapping the write error (test it with
// errors.Is(err, syscall.EPIPE)), or nil while output is possible.
func (w *Writer) Err() error {
	if !w.gone.Load() {
		return nil
	}
	return w.err
}
