package sink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/safefile"
)

// lockedBuffer is a diagnostic stream the writer goroutine writes to while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDevFull: every write to /dev/full fails with ENOSPC; the first
// failure is reported once, with its errno, on Faults and the diagnostic
// stream; no record counts as written.
func TestDevFull(t *testing.T) {
	var diag lockedBuffer
	w, err := OpenFile("/dev/full", Config{BufferSize: 4 * recSize, Diag: &diag})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		w.Write(record(i))
	}
	if err := w.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Flush = %v, want ENOSPC", err)
	}
	f := wait(t, w.Faults(), "the fault")
	if f.Op != "write" || f.Errno != syscall.ENOSPC || !errors.Is(f.Err, syscall.ENOSPC) || f.Path != "/dev/full" {
		t.Errorf("fault %+v, want a write failing with ENOSPC on /dev/full", f)
	}
	select {
	case f := <-w.Faults():
		t.Errorf("second fault %+v for the same errno", f)
	default:
	}
	st := w.Stats()
	want := Stats{Dropped: n, Failed: n, Writes: st.Writes, WriteErrors: st.Writes, LastWriteErrno: syscall.ENOSPC}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if got := diag.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "/dev/full") || !strings.Contains(got, "ENOSPC: disk full") {
		t.Errorf("diagnostic stream %q, want one line naming /dev/full and ENOSPC: disk full", got)
	}
	w.Close()
}

// TestFaultChanges: a change of errno and a recovery are each reported;
// a repeat of the same errno is not.
func TestFaultChanges(t *testing.T) {
	out := &script{err: map[int]error{0: syscall.ENOSPC, 1: syscall.ENOSPC, 2: syscall.EIO}}
	w := New(out, Config{})
	for batch := range 4 {
		w.Write(record(batch))
		w.Flush()
	}
	var got []string
	for range 3 {
		f := wait(t, w.Faults(), "a fault")
		got = append(got, fmt.Sprintf("%s %v %v", f.Op, f.Errno, f.Err == nil))
	}
	want := []string{
		"write " + syscall.ENOSPC.Error() + " false",
		"write " + syscall.EIO.Error() + " false",
		"write errno 0 true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	if st := w.Stats(); st.Records != 1 || st.Failed != 3 || st.LastWriteErrno != syscall.EIO {
		t.Errorf("Stats %+v, want 1 record, 3 failed, last errno EIO", st)
	}
	w.Close()
}

// TestTornRecordTruncated: a write that stops inside a record, in a
// regular file, is cut back to the last whole record; the records after it
// start on their own line, and the count of written records is exact. A
// file size limit (RLIMIT_FSIZE: EFBIG) stands in for a full disk.
func TestTornRecordTruncated(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ct.log")
	w, err := OpenFile(path, Config{BufferSize: 10 * recSize})
	if err != nil {
		t.Fatal(err)
	}
	// The limit falls inside record 2 of the first buffer.
	limit := syscall.Rlimit{Cur: 2*recSize + 5, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	for i := range 10 {
		w.Write(record(i))
	}
	if err := w.Flush(); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("Flush = %v, want EFBIG", err)
	}
	restore()
	for i := 10; i < 12; i++ {
		w.Write(record(i))
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if diff := cmp.Diff(records(0, 2)+records(10, 12), readFile(t, path)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	st := w.Stats()
	if st.Records != 4 || st.Failed != 8 || st.Torn != 0 || st.Bytes != 4*recSize || st.LastWriteErrno != syscall.EFBIG {
		t.Errorf("Stats %+v, want 4 records (%d bytes), 8 failed, none torn, EFBIG", st, 4*recSize)
	}
}

// TestReopenFailureReported: logrotate's directory renamed away (or a
// symbolic link planted at the path) makes the reopen fail: it is reported
// with its errno, records go on to the old file, and the reopen is retried
// until it succeeds, which is reported too.
func TestReopenFailureReported(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, dir, path string) // after the rename
		mend    func(t *testing.T, dir, path string)
		want    error
	}{
		{"directory renamed", func(t *testing.T, dir, path string) {}, func(t *testing.T, dir, path string) {
			if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
		}, syscall.ENOENT},
		{"symlink planted", func(t *testing.T, dir, path string) {
			if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(dir, "elsewhere"), path); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, safefile.ErrSymlink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logDir := filepath.Join(dir, "log")
			if err := os.Mkdir(logDir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(logDir, "ct.log")
			var diag lockedBuffer
			w, err := OpenFile(path, Config{ReopenRetry: time.Millisecond, Diag: &diag})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(record(0))
			if err := os.Rename(logDir, logDir+".old"); err != nil {
				t.Fatal(err)
			}
			tt.breakIt(t, dir, path)
			w.Reopen()
			f := wait(t, w.Faults(), "the reopen fault")
			if f.Op != "reopen" || !errors.Is(f.Err, tt.want) || f.Path != path {
				t.Errorf("fault %+v, want a reopen of %s failing with %v", f, path, tt.want)
			}
			w.Write(record(1))
			if err := w.Flush(); !errors.Is(err, tt.want) {
				t.Errorf("Flush = %v, want the reopen's failure, %v", err, tt.want)
			}
			if got := diag.String(); !strings.Contains(got, path) || !strings.Contains(got, "retrying") {
				t.Errorf("diagnostic stream %q, want the failed reopen of %s", got, path)
			}
			// Retries keep failing (counted) but are not reported again.
			for w.Stats().ReopenErrors < 3 {
				time.Sleep(time.Millisecond)
			}
			tt.mend(t, dir, path)
			f = wait(t, w.Faults(), "the recovery")
			if f.Op != "reopen" || f.Err != nil {
				t.Errorf("fault %+v, want the reopen's recovery", f)
			}
			w.Write(record(2))
			if err := w.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if diff := cmp.Diff(records(0, 2), readFile(t, filepath.Join(logDir+".old", "ct.log"))); diff != "" {
				t.Errorf("old file (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(records(2, 3), readFile(t, path)); diff != "" {
				t.Errorf("new file (-want +got):\n%s", diff)
			}
			if st := w.Stats(); st.Reopens != 1 || st.FaultsDropped != 0 {
				t.Errorf("Stats %+v, want 1 reopen and no fault dropped", st)
			}
		})
	}
}

// TestOpenFileRefused: OpenFile goes through safefile: a symbolic link at
// the path is refused, naming the path.
func TestOpenFileRefused(t *testing.T) {
	dir := t.TempDir()
	target, path := filepath.Join(dir, "target"), filepath.Join(dir, "ct.log")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFile(path, Config{})
	if !errors.Is(err, safefile.ErrSymlink) || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenFile(symlink) = %v, want ErrSymlink naming %s", err, path)
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("write output: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), "ENOSPC: disk full"},
		{syscall.EDQUOT, "EDQUOT: disk quota exceeded"},
		{syscall.EIO, "EIO: I/O error"},
		{syscall.EPIPE, "EPIPE: the reader"},
		{&os.PathError{Op: "open", Path: "x", Err: safefile.ErrSymlink}, "a symbolic link"},
		{syscall.ENOTCONN, "ENOTCONN: write error"},
	}
	for _, tt := range tests {
		if got := Hint(tt.err); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Hint(%v) = %q, want it to start %q", tt.err, got, tt.want)
		}
	}
}

// fullTmpfsEnv tells the test binary that it runs as the child of
// TestFullTmpfs, in its own mount namespace.
const fullTmpfsEnv = "CTWATCH_SINK_FULL_TMPFS"

// TestFullTmpfs fills a 64 KiB tmpfs, mounted in a private mount
// namespace of a child process: the errno is reported, the file holds only
// whole lines, and the count of written records is exact. It needs root.
func TestFullTmpfs(t *testing.T) {
	if dir := os.Getenv(fullTmpfsEnv); dir != "" {
		fullTmpfsChild(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run this test as root")
		}
		t.Skip("needs root to mount a tmpfs in a mount namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestFullTmpfs$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fullTmpfsEnv+"="+t.TempDir())
	// Go makes the new namespace's mounts private before exec.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFullTmpfs") {
		t.Errorf("child: %v\n%s", err, out)
	}
}

func fullTmpfsChild(t *testing.T, dir string) {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, 0)
	path := filepath.Join(dir, "ct.log")
	var diag lockedBuffer
	// 64 KiB does not hold 5000 records of 16 bytes; buffers of 1000 bytes
	// do not end on a record boundary.
	w, err := OpenFile(path, Config{BufferSize: 1000, Buffers: 5000, Diag: &diag})
	if err != nil {
		t.Fatal(err)
	}
	// 64 KiB is a multiple of 16: a head of another size puts the end of
	// the space inside a record.
	const head = "start\n"
	w.Write([]byte(head))
	const n = 5000
	for i := range n {
		w.Write(record(i))
	}
	if err := w.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close = %v, want ENOSPC", err)
	}
	f := wait(t, w.Faults(), "the fault")
	if f.Errno != syscall.ENOSPC {
		t.Errorf("fault %+v, want ENOSPC", f)
	}
	got := readFile(t, path)
	st := w.Stats()
	whole := (len(got) - len(head)) / recSize
	if diff := cmp.Diff(head+records(0, whole), got); diff != "" {
		t.Errorf("file is not the head and whole records 0 to %d (-want +got):\n%s", whole, diff)
	}
	if st.Records != uint64(whole)+1 || st.Records+st.Failed != n+1 || st.Torn != 0 || st.Bytes != uint64(len(got)) {
		t.Errorf("Stats %+v, want %d records (the file's) + failed = %d, none torn", st, whole+1, n+1)
	}
	if !strings.Contains(diag.String(), "ENOSPC: disk full") {
		t.Errorf("diagnostic stream %q, want ENOSPC: disk full", diag.String())
	}
}
