package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recSize is the size of record(i): fixed, so that tests can size buffers
// in records.
const recSize = 16

func record(i int) []byte { return fmt.Appendf(nil, "record %08d\n", i) }

// records returns the concatenation of record(from) to record(to-1).
func records(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.Write(record(i))
	}
	return b.String()
}

// deadline bounds every wait of these tests, so that a bug fails a test
// instead of hanging it.
const deadline = 10 * time.Second

// wait fails the test unless ch delivers within the deadline.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// recorder is an output that keeps what it is given and the size of each
// write.
type recorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes []int
	closed bool
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, len(p))
	return r.buf.Write(p)
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		in, want Config
	}{
		{Config{}, Config{BufferSize: 64 << 10, Buffers: 64, FlushInterval: 100 * time.Millisecond, ReopenRetry: time.Second}},
		{Config{BufferSize: -1, Buffers: -1, FlushInterval: -1, ReopenRetry: -1}, Config{BufferSize: 64 << 10, Buffers: 64, FlushInterval: 100 * time.Millisecond, ReopenRetry: time.Second}},
		{Config{BufferSize: 1, Buffers: 1, FlushInterval: time.Second, ReopenRetry: time.Millisecond}, Config{BufferSize: 1, Buffers: 1, FlushInterval: time.Second, ReopenRetry: time.Millisecond}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.in.withDefaults()); diff != "" {
			t.Errorf("%+v.withDefaults() (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestWriteInOrder(t *testing.T) {
	const n = 1000
	tests := []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		// The pool holds every record, so that nothing can be dropped
		// however slowly the writer goroutine runs.
		{"ten records per buffer", Config{BufferSize: 10 * recSize, Buffers: n / 10}},
		{"uneven buffers", Config{BufferSize: 10*recSize - 1, Buffers: n/9 + 1}},
		{"one record per buffer", Config{BufferSize: recSize, Buffers: n}},
		{"smaller than a record", Config{BufferSize: 3, Buffers: n}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out recorder
			w := New(&out, tt.cfg)
			for i := range n {
				if m, err := w.Write(record(i)); m != recSize || err != nil {
					t.Fatalf("Write(record %d) = %d, %v", i, m, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if diff := cmp.Diff(records(0, n), out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			size := tt.cfg.withDefaults().BufferSize
			for i, s := range out.writes {
				if s%recSize != 0 || (s > size && s != recSize) {
					t.Errorf("write %d is %d bytes: not whole records within a %d-byte buffer", i, s, size)
				}
			}
			want := Stats{Records: n, Bytes: n * recSize, Writes: uint64(len(out.writes))}
			if diff := cmp.Diff(want, w.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
			if out.closed {
				t.Error("Close closed the writer given to New")
			}
		})
	}
}

func TestOversizedRecord(t *testing.T) {
	var out recorder
	w := New(&out, Config{BufferSize: 2 * recSize, Buffers: 8})
	big := strings.Repeat("x", 10*recSize-1) + "\n"
	want := string(record(0)) + big + string(record(1)) + big + big
	for _, r := range []string{string(record(0)), big, string(record(1)), big, big} {
		if _, err := w.Write([]byte(r)); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if got := w.Stats(); got.Records != 5 || got.Dropped != 0 {
		t.Errorf("Stats = %+v, want 5 records, none dropped", got)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.alloc != len(w.free) {
		t.Errorf("pool has %d buffers, %d free after Flush", w.alloc, len(w.free))
	}
	for range len(w.free) {
		b := <-w.free
		if cap(b.data) > 2*recSize {
			t.Errorf("pool kept a buffer grown to %d bytes", cap(b.data))
		}
		w.free <- b
	}
}

// TestBlockedOutput checks that Write does not wait for an output that
// does not move, and drops and counts exactly the records that do not fit.
func TestBlockedOutput(t *testing.T) {
	const (
		n         = 1000
		perBuffer = 10
		buffers   = 3
	)
	pr, pw := io.Pipe()
	// No flush timer: it could hand over a partly filled buffer and make
	// the count depend on scheduling.
	w := New(pw, Config{BufferSize: perBuffer * recSize, Buffers: buffers, FlushInterval: time.Hour})

	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := range n {
			if m, err := w.Write(record(i)); m != recSize || err != nil {
				t.Errorf("Write(record %d) = %d, %v", i, m, err)
			}
		}
	}()
	wait(t, wrote, "Write to return while nobody reads the output")

	// Every buffer of the pool took records; the rest were dropped.
	kept := perBuffer * buffers
	if got := w.Stats(); got.Dropped != n-uint64(kept) || got.Records != 0 {
		t.Errorf("while blocked: Stats = %+v, want %d dropped, 0 records", got, n-kept)
	}
	// The records kept wait in the buffers, the one being written too.
	if got := w.Depth(); got != kept {
		t.Errorf("while blocked: Depth = %d, want %d", got, kept)
	}

	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(pr)
		read <- b
	}()
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	pw.Close()
	got := wait(t, read, "the output")
	if diff := cmp.Diff(records(0, kept), string(got)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if got := w.Depth(); got != 0 {
		t.Errorf("after Flush: Depth = %d, want 0", got)
	}
	st := w.Stats()
	if st.Records != uint64(kept) || st.Records+st.Dropped != n {
		t.Errorf("Stats = %+v, want %d records and %d dropped", st, kept, n-kept)
	}
}

// gate is an output whose writes wait until the test opens it.
type gate struct {
	entered chan struct{} // receives once per write that started
	open    chan struct{}
	recorder
}

func (g *gate) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.open
	return g.recorder.Write(p)
}

func TestFlushWaits(t *testing.T) {
	g := &gate{entered: make(chan struct{}, 1), open: make(chan struct{})}
	w := New(g, Config{FlushInterval: time.Hour})
	for i := range 5 {
		w.Write(record(i))
	}
	flushed := make(chan error)
	go func() { flushed <- w.Flush() }()

	wait(t, g.entered, "the write Flush starts")
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while its write was blocked", err)
	default:
	}
	close(g.open)
	if err := wait(t, flushed, "Flush"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if diff := cmp.Diff(records(0, 5), g.String()); diff != "" {
		t.Errorf("output when Flush returned (-want +got):\n%s", diff)
	}
	w.Close()
}

// TestPeriodicFlush checks that records reach the output within the flush
// interval without Flush, and more than once.
func TestPeriodicFlush(t *testing.T) {
	pr, pw := io.Pipe()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text() + "\n"
		}
		close(lines)
	}()
	w := New(pw, Config{FlushInterval: 10 * time.Millisecond})
	for i := range 3 {
		w.Write(record(i))
		if got, want := wait(t, lines, fmt.Sprintf("record %d", i)), string(record(i)); got != want {
			t.Errorf("read %q, want %q", got, want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pw.Close()
	select {
	case extra, ok := <-lines:
		if ok {
			t.Errorf("more output than written: %q", extra)
		}
	case <-time.After(deadline):
		t.Fatal("timed out waiting for the end of output")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReopen simulates logrotate: rename the file, then Reopen.
func TestReopen(t *testing.T) {
	t.Run("flushed before rename", func(t *testing.T) {
		dir := t.TempDir()
		path, rotated := filepath.Join(dir, "ct.log"), filepath.Join(dir, "ct.log.1")
		w, err := OpenFile(path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			w.Write(record(i))
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		w.Reopen()
		for i := 10; i < 20; i++ {
			w.Write(record(i))
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if diff := cmp.Diff(records(0, 10), readFile(t, rotated)); diff != "" {
			t.Errorf("rotated file (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(records(10, 20), readFile(t, path)); diff != "" {
			t.Errorf("new file (-want +got):\n%s", diff)
		}
		if st := w.Stats(); st.Reopens != 1 || st.ReopenErrors != 0 || st.Records != 20 {
			t.Errorf("Stats = %+v, want 1 reopen, 20 records", st)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
			t.Errorf("new file mode %v, want at most 0640", perm)
		}
	})

	t.Run("records in flight", func(t *testing.T) {
		dir := t.TempDir()
		path, rotated := filepath.Join(dir, "ct.log"), filepath.Join(dir, "ct.log.1")
		w, err := OpenFile(path, Config{BufferSize: 4 * recSize, Buffers: 100})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			w.Write(record(i))
			if i == 50 {
				if err := os.Rename(path, rotated); err != nil {
					t.Fatal(err)
				}
				w.Reopen()
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Each record is in one file or the other, in order, none lost.
		if diff := cmp.Diff(records(0, 100), readFile(t, rotated)+readFile(t, path)); diff != "" {
			t.Errorf("rotated and new file (-want +got):\n%s", diff)
		}
	})

	t.Run("reopen fails", func(t *testing.T) {
		dir := t.TempDir()
		path, rotated := filepath.Join(dir, "ct.log"), filepath.Join(dir, "ct.log.1")
		w, err := OpenFile(path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o755); err != nil { // cannot be opened for writing
			t.Fatal(err)
		}
		w.Reopen()
		w.Write(record(0))
		if err := w.Flush(); !errors.Is(err, syscall.EISDIR) {
			t.Errorf("Flush = %v, want EISDIR", err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		w.Reopen()
		w.Write(record(1))
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if diff := cmp.Diff(records(0, 1), readFile(t, rotated)); diff != "" {
			t.Errorf("old file, written while reopening failed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(records(1, 2), readFile(t, path)); diff != "" {
			t.Errorf("new file (-want +got):\n%s", diff)
		}
		if st := w.Stats(); st.Reopens != 1 || st.ReopenErrors != 1 || st.Records != 2 {
			t.Errorf("Stats = %+v, want 1 reopen, 1 reopen error, 2 records", st)
		}
	})

	t.Run("New ignores Reopen", func(t *testing.T) {
		var out recorder
		w := New(&out, Config{})
		w.Reopen()
		w.Write(record(0))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Reopens != 0 || st.ReopenErrors != 0 || st.Records != 1 {
			t.Errorf("Stats = %+v, want no reopen, 1 record", st)
		}
	})
}

func TestOpenFileError(t *testing.T) {
	_, err := OpenFile(filepath.Join(t.TempDir(), "missing", "ct.log"), Config{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenFile in a missing directory = %v, want ErrNotExist", err)
	}
}

func TestOutputGone(t *testing.T) {
	tests := []struct {
		name string
		out  func(t *testing.T) io.Writer // with its reader gone
		want error
	}{
		{"EPIPE", func(t *testing.T) io.Writer {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			t.Cleanup(func() { w.Close() })
			return w
		}, syscall.EPIPE},
		{"closed io.Pipe", func(*testing.T) io.Writer {
			r, w := io.Pipe()
			r.Close()
			return w
		}, io.ErrClosedPipe},
		{"closed file", func(t *testing.T) io.Writer {
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			return f
		}, os.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(tt.out(t), Config{})
			if w.Err() != nil {
				t.Fatalf("Err before any write = %v", w.Err())
			}
			w.Write(record(0))
			w.Write(record(1))
			// No Flush: the flush timer writes, and Done must close
			// without the caller's help.
			wait(t, w.Done(), "Done")
			if !errors.Is(w.Err(), tt.want) {
				t.Errorf("Err = %v, want %v", w.Err(), tt.want)
			}
			if m, err := w.Write(record(2)); m != recSize || err != nil {
				t.Errorf("Write after output is gone = %d, %v, want %d, nil", m, err, recSize)
			}
			if err := w.Flush(); !errors.Is(err, tt.want) {
				t.Errorf("Flush = %v, want %v", err, tt.want)
			}
			want := Stats{Dropped: 3, Failed: 3, Writes: 1, WriteErrors: 1, LastWriteErrno: errnoOf(tt.want)}
			if diff := cmp.Diff(want, w.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
			if err := w.Close(); !errors.Is(err, tt.want) {
				t.Errorf("Close = %v, want %v", err, tt.want)
			}
		})
	}
}

// script is an output whose i-th write (0-based) writes only n[i] bytes
// and fails with err[i] when one is given.
type script struct {
	recorder
	calls int
	n     map[int]int
	err   map[int]error
}

func (s *script) Write(p []byte) (int, error) {
	i := s.calls
	s.calls++
	if err, ok := s.err[i]; ok {
		n := min(s.n[i], len(p))
		s.recorder.Write(p[:n])
		return n, err
	}
	return s.recorder.Write(p)
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		out  *script
		// Three batches of three records, flushed one by one.
		wantFlush []error
		wantOut   string
		wantStats Stats
	}{
		{
			name:      "failed write drops its buffer",
			out:       &script{err: map[int]error{1: syscall.ENOSPC}},
			wantFlush: []error{nil, syscall.ENOSPC, nil},
			wantOut:   records(0, 3) + records(6, 9),
			wantStats: Stats{Records: 6, Bytes: 6 * recSize, Dropped: 3, Failed: 3, Writes: 3, WriteErrors: 1, LastWriteErrno: syscall.ENOSPC},
		},
		{
			name:      "write failing at a record boundary",
			out:       &script{n: map[int]int{0: 2 * recSize}, err: map[int]error{0: syscall.EIO}},
			wantFlush: []error{syscall.EIO, nil, nil},
			wantOut:   records(0, 2) + records(3, 9),
			wantStats: Stats{Records: 8, Bytes: 8 * recSize, Dropped: 1, Failed: 1, Writes: 3, WriteErrors: 1, LastWriteErrno: syscall.EIO},
		},
		{
			name:      "write failing midway through a line",
			out:       &script{n: map[int]int{0: recSize + 4}, err: map[int]error{0: syscall.ENOSPC}},
			wantFlush: []error{syscall.ENOSPC, nil, nil},
			wantOut:   records(0, 1) + "reco\n" + records(3, 9),
			wantStats: Stats{Records: 7, Bytes: 8*recSize - 11, Dropped: 2, Failed: 2, Torn: 1, Writes: 4, WriteErrors: 1, LastWriteErrno: syscall.ENOSPC},
		},
		{
			name:      "short write without error",
			out:       &script{n: map[int]int{2: 1}, err: map[int]error{2: nil}},
			wantFlush: []error{nil, nil, io.ErrShortWrite},
			wantOut:   records(0, 6) + "r",
			wantStats: Stats{Records: 6, Bytes: 6*recSize + 1, Dropped: 3, Failed: 3, Torn: 1, Writes: 3, WriteErrors: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(tt.out, Config{})
			var flushes []error
			for batch := range 3 {
				for i := 3 * batch; i < 3*batch+3; i++ {
					w.Write(record(i))
				}
				flushes = append(flushes, w.Flush())
			}
			for i, want := range tt.wantFlush {
				if got := flushes[i]; (want == nil) != (got == nil) || !errors.Is(got, want) {
					t.Errorf("Flush %d = %v, want %v", i, got, want)
				}
			}
			if diff := cmp.Diff(tt.wantOut, tt.out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStats, w.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
			select {
			case <-w.Done():
				t.Errorf("Done closed by a write error that is not for good: %v", w.Err())
			default:
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ct.log")
	w, err := OpenFile(path, Config{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(record(0))
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if diff := cmp.Diff(records(0, 1), readFile(t, path)); diff != "" {
		t.Errorf("file after Close (-want +got):\n%s", diff)
	}
	if m, err := w.Write(record(1)); m != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %d, %v, want 0, ErrClosed", m, err)
	}
	if err := w.Flush(); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	w.Reopen() // must not block or panic with the goroutine gone
	if st := w.Stats(); st.Records != 1 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want 1 record", st)
	}
}

// TestConcurrentUse runs Stats, Reopen and Flush against a busy Write for
// the race detector, and checks that every record is accounted for.
func TestConcurrentUse(t *testing.T) {
	const n = 20000
	path := filepath.Join(t.TempDir(), "ct.log")
	w, err := OpenFile(path, Config{BufferSize: 1 << 10, Buffers: 4, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, f := range []func(){
		func() { w.Stats() },
		w.Reopen,
		func() {
			if err := w.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		},
	} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					f()
				}
			}
		})
	}
	for i := range n {
		w.Write(record(i))
	}
	close(stop)
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := w.Stats()
	if st.Records+st.Dropped != n {
		t.Errorf("Stats = %+v: %d records and drops, want %d", st, st.Records+st.Dropped, n)
	}
	// Reopening the same path appends to the same file: all of it is
	// there, in order, with gaps only where records were dropped.
	got := readFile(t, path)
	if uint64(len(got)) != st.Records*recSize {
		t.Fatalf("file holds %d bytes, want %d records", len(got), st.Records)
	}
	last := -1
	for line := range strings.Lines(got) {
		var i int
		if _, err := fmt.Sscanf(line, "record %d\n", &i); err != nil || i <= last {
			t.Fatalf("line %q after record %d", line, last)
		}
		last = i
	}
}

func TestWriteAllocs(t *testing.T) {
	w := New(io.Discard, Config{BufferSize: 1 << 10, Buffers: 4})
	defer w.Close()
	rec := record(0)
	// Warm up: let the pool reach its size and the record offsets their
	// capacity.
	for range 1000 {
		w.Write(rec)
	}
	w.Flush()
	if allocs := testing.AllocsPerRun(10000, func() { w.Write(rec) }); allocs != 0 {
		t.Errorf("Write allocates %v times per record, want 0", allocs)
	}
}

func BenchmarkWrite(b *testing.B) {
	rec := []byte(`{"time":"2025-01-02T03:04:05.123456789Z","event":"new","family":"ipv4","proto":"tcp","protonum":6,"timeout":120,"state":"SYN_SENT","orig":{"src":"192.168.1.6","dst":"192.168.1.9","sport":32775,"dport":22},"reply":{"src":"192.168.1.9","dst":"192.168.1.6","sport":22,"dport":32775},"status":["UNREPLIED"]}` + "\n")
	bench := func(b *testing.B, out io.Writer, flushEvery int, unblock func()) {
		w := New(out, Config{})
		b.ReportAllocs()
		b.SetBytes(int64(len(rec)))
		for i := 0; b.Loop(); i++ {
			w.Write(rec)
			if flushEvery > 0 && i%flushEvery == flushEvery-1 {
				w.Flush()
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(w.Stats().Dropped)/float64(b.N), "dropped/op")
		unblock()
		w.Close()
	}
	// Output keeps up: Flush every few buffers, so that the cost of handing
	// buffers over and writing them is in the figure and nothing drops.
	b.Run("kept", func(b *testing.B) { bench(b, io.Discard, 1000, func() {}) })
	// Records come as fast as Write takes them: the writer goroutine
	// cannot keep up on every machine, and some are dropped.
	b.Run("flood", func(b *testing.B) { bench(b, io.Discard, 0, func() {}) })
	// Output blocked for good: after the pool fills, every record is
	// dropped; the cost of a drop.
	b.Run("blocked", func(b *testing.B) {
		pr, pw := io.Pipe()
		bench(b, pw, 0, func() { pr.Close() })
	})
}

// FuzzWriter writes records of fuzzed sizes through a Writer of fuzzed
// size, with Flush, Reopen and Stats calls in between, and checks the
// invariants: whole records in order, each written or counted as dropped.
func FuzzWriter(f *testing.F) {
	f.Add(uint16(64), uint8(2), []byte{10, 20, 0, 200, 255, 1, 3, 2, 30})
	f.Add(uint16(1), uint8(1), []byte{5, 5, 5, 0, 5})
	f.Add(uint16(4096), uint8(0), []byte{100, 100, 100, 100})
	f.Fuzz(func(t *testing.T, size uint16, buffers uint8, ops []byte) {
		var out recorder
		w := New(&out, Config{BufferSize: int(size), Buffers: int(buffers), FlushInterval: time.Millisecond})
		var recs []string
		for _, op := range ops {
			switch op {
			case 0:
				if err := w.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			case 1:
				w.Reopen()
			case 2:
				w.Stats()
			default:
				r := fmt.Sprintf("%d:%s\n", len(recs), strings.Repeat("x", int(op)))
				if m, err := w.Write([]byte(r)); m != len(r) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", r, m, err)
				}
				recs = append(recs, r)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got := out.String()
		st := w.Stats()
		if st.Records+st.Dropped != uint64(len(recs)) || st.Bytes != uint64(len(got)) {
			t.Fatalf("Stats = %+v for %d records, %d bytes out", st, len(recs), len(got))
		}
		next, lines := 0, uint64(0)
		for line := range strings.Lines(got) {
			var i int
			if _, err := fmt.Sscanf(line, "%d:", &i); err != nil || i < next || i >= len(recs) || recs[i] != line {
				t.Fatalf("line %q: not a whole record after record %d", line, next-1)
			}
			next, lines = i+1, lines+1
		}
		if lines != st.Records {
			t.Errorf("%d lines out, Stats.Records = %d", lines, st.Records)
		}
	})
}

// TestWriteKeep holds that a kept record (a gap record) is never dropped:
// with every buffer waiting for a blocked output, Write drops, WriteKeep
// keeps, and once the output takes writes again the kept record comes
// after what was queued before it and before what came after.
func TestWriteKeep(t *testing.T) {
	const (
		perBuffer = 10
		buffers   = 2
	)
	pr, pw := io.Pipe()
	w := New(pw, Config{BufferSize: perBuffer * recSize, Buffers: buffers, FlushInterval: time.Hour})
	for i := range perBuffer*buffers + 5 { // the last 5 find no buffer
		w.Write(record(i))
	}
	kept := record(1000)
	if n, err := w.WriteKeep(kept); n != len(kept) || err != nil {
		t.Fatalf("WriteKeep = %d, %v", n, err)
	}
	if st := w.Stats(); st.Overflow != 5 || w.Depth() != perBuffer*buffers+1 {
		t.Fatalf("while blocked: Stats = %+v, Depth = %d; want 5 dropped and the kept record queued", st, w.Depth())
	}
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(pr)
		read <- b
	}()
	w.Write(record(1001))
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	pw.Close()
	got := wait(t, read, "the output")
	want := records(0, perBuffer*buffers) + string(kept)
	// record 1001 came while the buffers were still blocked (dropped) or
	// after they freed up (written after the kept one): never before it.
	if s := string(got); s != want && s != want+string(record(1001)) {
		t.Errorf("output:\n%s\nwant:\n%s[%s]", s, want, record(1001))
	}
	st := w.Stats()
	if st.Records+st.Dropped != perBuffer*buffers+5+2 {
		t.Errorf("Stats = %+v: records and drops do not add up to the %d written", st, perBuffer*buffers+7)
	}
}

// slowReader reads a pipe in small pieces, yielding between them, so that
// the writer's buffers fill faster than they drain.
func slowReader(r io.Reader, out chan<- []byte) {
	var all []byte
	buf := make([]byte, recSize)
	for {
		n, err := r.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			out <- all
			return
		}
		runtime.Gosched()
	}
}

func TestWriteWaitLosesNothing(t *testing.T) {
	const (
		n         = 5000
		perBuffer = 10
		buffers   = 2
	)
	pr, pw := io.Pipe()
	w := New(pw, Config{BufferSize: perBuffer * recSize, Buffers: buffers, FlushInterval: time.Hour})
	read := make(chan []byte, 1)
	go slowReader(pr, read)
	for i := range n {
		if m, err := w.WriteWait(context.Background(), record(i)); m != recSize || err != nil {
			t.Fatalf("WriteWait(record %d) = %d, %v", i, m, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	pw.Close()
	got := wait(t, read, "the output")
	if diff := cmp.Diff(records(0, n), string(got)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if st := w.Stats(); st.Records != n || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want %d records, none dropped", st, n)
	}
}

func TestWriteWaitGivesUpWithCtx(t *testing.T) {
	const perBuffer, buffers = 10, 2
	g := &gate{entered: make(chan struct{}, 1), open: make(chan struct{})}
	w := New(g, Config{BufferSize: perBuffer * recSize, Buffers: buffers, FlushInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	// Fill the pool: the writer goroutine holds the first buffer in its
	// write, the second fills up.
	kept := perBuffer * buffers
	for i := range kept {
		if _, err := w.WriteWait(ctx, record(i)); err != nil {
			t.Fatalf("WriteWait(record %d): %v", i, err)
		}
	}
	wait(t, g.entered, "the first write")
	// With every buffer taken, a record waits only as long as ctx lives.
	cancel()
	if m, err := w.WriteWait(ctx, record(kept)); m != recSize || err != nil {
		t.Fatalf("WriteWait after ctx ended = %d, %v", m, err)
	}
	if st := w.Stats(); st.Overflow != 1 {
		t.Errorf("Stats = %+v, want the record given up counted in Overflow", st)
	}
	close(g.open)
	go func() {
		for range g.entered {
		}
	}()
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if diff := cmp.Diff(records(0, kept), g.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestQuietWrite checks that the first record after a quiet flush interval
// is written at once, without the flush timer or Flush, and that records
// following it within the interval are batched for the timer. The clock is
// the test's, and the interval an hour, so that only the quiet rule can
// write anything before Flush.
func TestQuietWrite(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	g := &gate{entered: make(chan struct{}, 1), open: make(chan struct{})}
	close(g.open)
	w := start(g, nil, "", Config{FlushInterval: time.Hour}, clock)
	defer w.Close()

	advance(2 * time.Hour)
	w.Write(record(0))
	wait(t, g.entered, "the write of the first record after a quiet interval")
	if diff := cmp.Diff(records(0, 1), g.String()); diff != "" {
		t.Errorf("output after the first record (-want +got):\n%s", diff)
	}

	// Within the interval of that write: batched, written by Flush in one
	// write.
	for i := 1; i < 4; i++ {
		w.Write(record(i))
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	<-g.entered
	if diff := cmp.Diff(records(0, 4), g.String()); diff != "" {
		t.Errorf("output after Flush (-want +got):\n%s", diff)
	}
	if got := w.Stats().Writes; got != 2 {
		t.Errorf("Stats.Writes = %d, want 2 (the quiet record alone, then the batch)", got)
	}
}
