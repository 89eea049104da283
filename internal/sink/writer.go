package sink

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultBufferSize    = 64 << 10
	DefaultBuffers       = 64
	DefaultFlushInterval = 100 * time.Millisecond
)

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
	// is written (default 100 ms).
	FlushInterval time.Duration
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
	return c
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink is closed")

// Stats counts a Writer's records and writes since it was created.
type Stats struct {
	// Records is the number of records written in full.
	Records uint64
	// Bytes is the number of bytes written, including those of a write
	// that failed midway.
	Bytes uint64
	// Dropped is the number of records dropped whole: no free buffer, a
	// failed write, or output gone for good.
	Dropped uint64
	// Writes is the number of Write calls to the output.
	Writes uint64
	// WriteErrors is the number of those calls that failed.
	WriteErrors uint64
	// Reopens is the number of times the file was reopened.
	Reopens uint64
	// ReopenErrors is the number of reopens that failed; output continued
	// to the file already open.
	ReopenErrors uint64
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

	// Owned by the writer goroutine (and by Close once it has exited).
	out     io.Writer
	file    *os.File // nil for New
	midLine bool     // a failed write stopped inside a line

	records, bytes, dropped, writes, writeErrors, reopens, reopenErrors atomic.Uint64

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
	return start(w, nil, "", cfg)
}

// OpenFile opens path for appending (creating it with mode 0640), and
// returns a Writer writing to it that Reopen can reopen.
func OpenFile(path string, cfg Config) (*Writer, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	return start(f, f, path, cfg), nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
}

func start(out io.Writer, file *os.File, path string, cfg Config) *Writer {
	cfg = cfg.withDefaults()
	w := &Writer{
		cfg:     cfg,
		path:    path,
		free:    make(chan *buffer, cfg.Buffers),
		queue:   make(chan *buffer, cfg.Buffers),
		pending: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
		out:     out,
		file:    file,
	}
	w.progress.L = &w.doneMu
	go w.run()
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
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, ErrClosed
	}
	if w.gone.Load() {
		w.mu.Unlock()
		w.dropped.Add(1)
		return len(p), nil
	}
	b := w.cur
	if b != nil && len(b.data) > 0 && len(b.data)+len(p) > w.cfg.BufferSize {
		w.handOver()
		b = nil
	}
	if b == nil {
		if b = w.freeBuffer(); b == nil {
			w.mu.Unlock()
			w.dropped.Add(1)
			return len(p), nil
		}
		w.cur = b
	}
	first := len(b.data) == 0
	b.data = append(b.data, p...)
	b.ends = append(b.ends, len(b.data))
	w.mu.Unlock()
	if first {
		select {
		case w.pending <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// freeBuffer returns an empty buffer from the pool, allocating one if the
// pool is not at its size yet, or nil. Call with mu held.
func (w *Writer) freeBuffer() *buffer {
	select {
	case b := <-w.free:
		if b.data == nil { // its memory went with an oversized record
			b.data = make([]byte, 0, w.cfg.BufferSize)
		}
		return b
	default:
	}
	if w.alloc < w.cfg.Buffers {
		w.alloc++
		return &buffer{data: make([]byte, 0, w.cfg.BufferSize)}
	}
	return nil
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
	return Stats{
		Records:      w.records.Load(),
		Bytes:        w.bytes.Load(),
		Dropped:      w.dropped.Load(),
		Writes:       w.writes.Load(),
		WriteErrors:  w.writeErrors.Load(),
		Reopens:      w.reopens.Load(),
		ReopenErrors: w.reopenErrors.Load(),
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
