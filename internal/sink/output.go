package sink

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"time"
)

// newline ends a line that a failed write left unfinished.
var newline = []byte{'\n'}

// run is the writer goroutine: the only one that writes to, reopens or
// (until Close) touches the output.
func (w *Writer) run() {
	defer close(w.exited)
	// The flush timer runs only while a partly filled buffer waits, so that
	// an idle watch does not wake up ten times a second.
	timer := time.NewTimer(w.cfg.FlushInterval)
	timer.Stop()
	armed := false
	for {
		select {
		case b := <-w.queue:
			w.output(b)
		case <-w.pending:
			if !armed {
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
				w.noteErr(w.reopenFile())
			}
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
	if w.reopen.Swap(false) {
		err = w.reopenFile()
	}
	if w.gone.Load() {
		w.dropped.Add(uint64(len(b.ends)))
	} else if werr := w.writeBuffer(b); werr != nil && err == nil {
		err = werr
	}
	seq := b.seq // b belongs to Write again once sent back
	if cap(b.data) > w.cfg.BufferSize {
		b.data = nil // grown for an oversized record: let the memory go
	}
	b.data, b.ends = b.data[:0], b.ends[:0]
	w.free <- b // never blocks: the channel holds the whole pool

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
			return w.failed(b, 0, 0, err)
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
	w.bytes.Add(uint64(n))
	w.records.Add(uint64(whole))
	if err != nil {
		return w.failed(b, n, whole, err)
	}
	return nil
}

// failed accounts for a write of b that stopped after n bytes, the first
// whole records of which were written, and returns the error to report.
func (w *Writer) failed(b *buffer, n, whole int, err error) error {
	w.writeErrors.Add(1)
	w.dropped.Add(uint64(len(b.ends) - whole))
	if n > 0 && b.data[n-1] != '\n' {
		w.midLine = true
	}
	err = fmt.Errorf("write output: %w", err)
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

// reopenFile opens the path anew and switches output to it. If the open
// fails, output stays with the file already open.
func (w *Writer) reopenFile() error {
	f, err := openFile(w.path)
	if err != nil {
		w.reopenErrors.Add(1)
		return fmt.Errorf("reopen output: %w", err)
	}
	old := w.file
	w.file, w.out = f, f
	w.midLine = false // a fragment in the old file does not concern the new one
	w.reopens.Add(1)
	if err := old.Close(); err != nil {
		// Some file systems (NFS) report a failed write only on close.
		w.writeErrors.Add(1)
		return fmt.Errorf("close rotated output: %w", err)
	}
	return nil
}

// noteErr keeps err for the next Flush, unless an earlier failure is kept.
func (w *Writer) noteErr(err error) {
	if err == nil {
		return
	}
	w.doneMu.Lock()
	if w.flushErr == nil {
		w.flushErr = err
	}
	w.doneMu.Unlock()
}
