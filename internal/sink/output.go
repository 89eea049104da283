package sink

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/ctwatch/ctwatch/internal/safefile"
)

// newline ends a line that a failed write left unfinished.
var newline = []byte{'\n'}

// maxReopenRetry bounds the backoff between attempts of a failing reopen.
const maxReopenRetry = time.Minute

// run is the writer goroutine: the only one that writes to, reopens or
// (until Close) touches the output. started is when the Writer started.
func (w *Writer) run(started time.Time) {
	defer close(w.exited)
	// The flush timer runs only while a partly filled buffer waits, so that
	// an idle watch does not wake up ten times a second; the retry timer
	// only while a reopen keeps failing.
	timer := time.NewTimer(w.cfg.FlushInterval)
	timer.Stop()
	armed := false
	// lastOut is when a buffer was last written (at first, the start).
	// The first record after a quiet FlushInterval is written at once: on
	// a quiet stream batching gains nothing, and the timer's wake-up would
	// cost more than the write itself (and delay a lone record).
	lastOut := started
	retry := time.NewTimer(w.cfg.ReopenRetry)
	retry.Stop()
	backoff := time.Duration(0)
	// tryReopen reopens and, on failure, schedules the next attempt.
	tryReopen := func() {
		retry.Stop()
		if w.reopenFile() {
			backoff = 0
			return
		}
		backoff = min(max(2*backoff, w.cfg.ReopenRetry), maxReopenRetry)
		retry.Reset(backoff)
	}
	for {
		select {
		case b := <-w.queue:
			if w.reopen.Swap(false) {
				backoff = 0 // a new request: start again from the shortest wait
				tryReopen()
			}
			w.output(b)
			lastOut = w.now()
		case <-w.pending:
			switch {
			case armed:
			case w.now().Sub(lastOut) >= w.cfg.FlushInterval && !w.flushTimer():
				// Handed over: the queue has it, the next turn writes it.
			default:
				timer.Reset(w.cfg.FlushInterval)
				armed = true
			}
		case <-timer.C:
			armed = false
			if w.flushTimer() {
				timer.Reset(w.cfg.FlushInterval)
				armed = true
			}
		case <-w.wake:
			if w.reopen.Swap(false) {
				backoff = 0
				tryReopen()
			}
		case <-retry.C:
			tryReopen()
		case <-w.stop:
			return
		}
	}
}

// flushTimer hands over the buffer being filled, if it holds records and
// nothing else waits to be written; it reports whether the timer must run
// again because the buffer still waits. Handing it over while the queue is
// not empty would not write it sooner, and would waste a whole buffer of
// the pool on a few records while output is behind.
func (w *Writer) flushTimer() (again bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == nil || len(w.cur.data) == 0 {
		return false
	}
	if len(w.queue) > 0 {
		return true
	}
	w.handOver()
	return false
}

// output writes one buffer (or drops its records once output is gone) and
// returns it to the pool.
func (w *Writer) output(b *buffer) {
	var err error
	if w.gone.Load() {
		w.failedRecs.Add(uint64(len(b.ends)))
	} else {
		err = w.writeBuffer(b)
	}
	w.queued.Add(-int64(len(b.ends)))
	seq := b.seq // b belongs to Write again once sent back
	if cap(b.data) > w.cfg.BufferSize {
		b.data = nil // grown for an oversized record: let the memory go
	}
	b.data, b.ends = b.data[:0], b.ends[:0]
	w.free <- b // never blocks: the channel holds the whole pool
	if w.hasKept.Load() {
		// A kept record waited for this buffer: it must not wait for the
		// next record, which may not come while the stream is idle.
		w.mu.Lock()
		w.moveKept()
		w.mu.Unlock()
	}

	w.doneMu.Lock()
	w.written = seq
	if err != nil && w.flushErr == nil {
		w.flushErr = err
	}
	w.progress.Broadcast()
	w.doneMu.Unlock()
}

// writeBuffer writes b with one Write call and accounts for its records.
func (w *Writer) writeBuffer(b *buffer) error {
	if w.midLine {
		w.writes.Add(1)
		if _, err := w.out.Write(newline); err != nil {
			return w.failed(b, 0, 0, false, err)
		}
		w.bytes.Add(1)
		w.midLine = false
	}
	w.writes.Add(1)
	n, err := w.out.Write(b.data)
	n = max(0, min(n, len(b.data)))
	if err == nil && n < len(b.data) {
		err = io.ErrShortWrite
	}
	// Records that end within the first n bytes were written whole.
	whole, _ := slices.BinarySearch(b.ends, n+1)
	wholeBytes := 0
	if whole > 0 {
		wholeBytes = b.ends[whole-1]
	}
	torn := false
	if partial := n - wholeBytes; partial > 0 {
		if w.undo(partial) {
			n = wholeBytes
		} else {
			torn = true
		}
	}
	w.bytes.Add(uint64(n))
	w.records.Add(uint64(whole))
	if err != nil {
		return w.failed(b, n, whole, torn, err)
	}
	w.recovered("write", &w.writeState)
	return nil
}

// undo removes the last partial bytes that a failed write left in a
// regular file, so that it ends with a whole record; it reports whether it
// could. A pipe, a terminal or a device cannot take bytes back.
func (w *Writer) undo(partial int) bool {
	f := w.fileOut
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	// With O_APPEND as without, the offset is just past what was written.
	end, err := f.Seek(0, io.SeekCurrent)
	if err != nil || end < int64(partial) {
		return false
	}
	keep := end - int64(partial)
	if f.Truncate(keep) != nil {
		return false
	}
	// Without O_APPEND (stdout redirected with >) the next write goes to
	// the offset: it must not leave a hole where the bytes were.
	_, err = f.Seek(keep, io.SeekStart)
	return err == nil
}

// failed accounts for a write of b that stopped after n bytes, the first
// whole records of which were written (torn: and part of the next, for
// good), and returns the error to report.
func (w *Writer) failed(b *buffer, n, whole int, torn bool, err error) error {
	w.writeErrors.Add(1)
	w.failedRecs.Add(uint64(len(b.ends) - whole))
	if torn {
		w.torn.Add(1)
	}
	if n > 0 && b.data[n-1] != '\n' {
		w.midLine = true
	}
	err = fmt.Errorf("write output: %w", err)
	errno := errnoOf(err)
	w.lastWriteErrno.Store(uint32(errno))
	_ = w.fault(&w.writeState, Fault{Op: "write", Path: w.path, Err: err, Errno: errno, Torn: torn})
	if outputGone(err) {
		w.err = err
		w.gone.Store(true)
		close(w.done)
	}
	return err
}

// outputGone reports whether err means no later write can succeed: the
// reader of a pipe went away, or the output was closed under us.
func outputGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)
}

// reopenFile opens the path anew and switches output to it, reporting
// whether it did. If the open fails, output stays with the file already
// open.
func (w *Writer) reopenFile() bool {
	f, err := safefile.OpenAppend(w.path, w.cfg.File)
	if err != nil {
		w.reopenErrors.Add(1)
		err = fmt.Errorf("reopen output: %w", err)
		errno := errnoOf(err)
		w.lastReopenErrno.Store(uint32(errno))
		// A retry failing as before is counted, not reported again.
		if w.fault(&w.reopenState, Fault{Op: "reopen", Path: w.path, Err: err, Errno: errno}) {
			w.noteErr(err)
		}
		return false
	}
	old := w.file
	w.file, w.fileOut, w.out = f, f, f
	w.midLine = false // a fragment in the old file does not concern the new one
	w.reopens.Add(1)
	w.recovered("reopen", &w.reopenState)
	if err := old.Close(); err != nil {
		// Some file systems (NFS) report a failed write only on close.
		w.writeErrors.Add(1)
		err = fmt.Errorf("close rotated output: %w", err)
		w.noteErr(err)
		_ = w.fault(nil, Fault{Op: "close", Path: w.path, Err: err, Errno: errnoOf(err)})
	}
	return true
}

// noteErr keeps err for the next Flush, unless an earlier failure is kept.
func (w *Writer) noteErr(err error) {
	w.doneMu.Lock()
	if w.flushErr == nil {
		w.flushErr = err
	}
	w.doneMu.Unlock()
}

// faultState is what was last reported of one operation, so that only
// the first failure and each change of errno (or recovery) is reported.
// Owned by the writer goroutine.
type faultState struct {
	failing bool
	errno   syscall.Errno
	torn    bool // a torn record was reported in this run of failures
}

// fault reports f unless st says the same failure was reported already,
// and says whether it did. st nil reports f whatever came before.
func (w *Writer) fault(st *faultState, f Fault) bool {
	if st != nil {
		if st.failing && st.errno == f.Errno && (!f.Torn || st.torn) {
			return false
		}
		st.failing, st.errno, st.torn = true, f.Errno, st.torn || f.Torn
	}
	w.report(f)
	return true
}

// recovered reports that op works again, if it was failing.
func (w *Writer) recovered(op string, st *faultState) {
	if !st.failing {
		return
	}
	*st = faultState{}
	w.report(Fault{Op: op, Path: w.path})
}

// report hands f to the Faults channel, without waiting, and writes it on
// the diagnostic stream.
func (w *Writer) report(f Fault) {
	st := w.Stats()
	f.Lost = st.Failed
	select {
	case w.faults <- f:
	default:
		w.faultsDropped.Add(1)
	}
	w.notify.Call()
	if w.cfg.Diag != nil {
		fmt.Fprintf(w.cfg.Diag, "ctwatch: %s\n", f)
	}
}

// errnoOf returns the errno err wraps, or 0.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}
