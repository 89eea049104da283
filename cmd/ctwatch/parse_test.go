package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// runCmd runs ctwatch with args and returns its output and exit status.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestParseCommand(t *testing.T) {
	mixed := filepath.Join("testdata", "parse", "mixed.log")
	second := filepath.Join("testdata", "parse", "second.log")
	tests := []struct {
		name     string
		args     []string
		golden   string
		wantCode int
	}{
		// Bad lines are reported by file, line, column and field; every
		// other line still comes out; the status says something failed.
		{"json", []string{"parse", "--tz", "UTC", "--host-name", "test-host", mixed, second}, "mixed.json", 1},
		// ctwatch's own JSON log reads back whole: its records without an
		// entry (start, gap, unreplied, stats, stop) are counted, not
		// failures.
		{"own log", []string{"parse", "--format", "text", filepath.Join("testdata", "parse", "ctwatch.jsonl")}, "ctwatch.text", 0},
		{"text keeps each line's form", []string{"parse", "--tz", "UTC", "--format", "text", mixed}, "mixed.text", 1},
		{"text in a chosen form", []string{"parse", "--tz", "UTC", "--format", "text", "--text-opts", "extended,id", mixed}, "mixed.extended-id", 1},
		{"all good", []string{"parse", "--host-name", "test-host", second}, "second.json", 0},
		{"missing file does not stop the others", []string{"parse", "--host-name", "test-host", "testdata/parse/nonexistent.log", second}, "missing.json", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			checkGolden(t, filepath.Join("testdata", "parse", tt.golden+".stdout"), oneRun(t, stdout))
			checkGolden(t, filepath.Join("testdata", "parse", tt.golden+".stderr"), stderr)
		})
	}
}

// uuidV4 matches a version 4 UUID.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// runKey matches a record's run id.
var runKey = regexp.MustCompile(`"run":"([^"]*)"`)

// oneRun checks that every record of out carries the same run id, a UUID,
// and returns out with it replaced by RUN, so that a golden file can pin
// the rest.
func oneRun(t *testing.T, out string) string {
	t.Helper()
	var run string
	for _, m := range runKey.FindAllStringSubmatch(out, -1) {
		if run == "" {
			run = m[1]
		}
		if m[1] != run {
			t.Errorf("run ids %q and %q in one run's records", run, m[1])
		}
	}
	if run != "" && !uuidV4.MatchString(run) {
		t.Errorf("run id %q is not a version 4 UUID", run)
	}
	return runKey.ReplaceAllString(out, `"run":"RUN"`)
}

func TestParseCommandStdin(t *testing.T) {
	in, err := os.Open(filepath.Join("testdata", "parse", "second.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = old }()
	stdout, stderr, code := runCmd(t, "parse")
	if code != 0 {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"dport":2`) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want one record", stdout)
	}
}

func TestParseCommandLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.log")
	good, err := os.ReadFile(filepath.Join("testdata", "parse", "second.log"))
	if err != nil {
		t.Fatal(err)
	}
	long := append(bytes.Repeat([]byte("x"), maxLineLen+10), '\n')
	if err := os.WriteFile(path, append(append(append([]byte{}, good...), long...), good...), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCmd(t, "parse", path)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if got := strings.Count(stdout, "\n"); got != 2 {
		t.Errorf("%d records, want the 2 good lines around the long one", got)
	}
	if want := path + ":2: line longer than"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

// parseWithin runs ctwatch parse with args, cancels it after a moment of
// parsing, and fails the test unless it returns within a second of that.
func parseWithin(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = run(ctx, append([]string{"parse"}, args...), io.Discard, io.Discard)
	}()
	time.Sleep(100 * time.Millisecond) // let it get into its input
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatalf("parse %v still running a second after the stop request", args)
	}
}

// TestParseStops: parse stops within a second of the stop request whatever
// its input: no newline ever (/dev/zero, a pipe of zeros), or no data.
func TestParseStops(t *testing.T) {
	t.Run("/dev/zero", func(t *testing.T) {
		parseWithin(t, "/dev/zero")
	})
	t.Run("pipe of zeros on stdin", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		go func() {
			zeros := make([]byte, 64<<10)
			for {
				if _, err := w.Write(zeros); err != nil {
					w.Close()
					return
				}
			}
		}()
		old := os.Stdin
		os.Stdin = r
		defer func() { os.Stdin = old }()
		parseWithin(t)
	})
	t.Run("silent FIFO", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		// Held open for writing, silent: parse's open does not wait, its
		// read does.
		w, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		parseWithin(t, path)
	})
}

// TestParseErrorsBounded: 50 MB of random bytes make a few hundred KB of
// error messages at most, ending with the counts of what was not shown.
func TestParseErrorsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "random")
	data := make([]byte, 50<<20)
	rnd := rand.New(rand.NewChaCha8([32]byte{1}))
	for i := 0; i < len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], rnd.Uint64())
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCmd(t, "parse", path)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if len(stderr) > 300<<10 {
		t.Errorf("%d bytes of errors, want at most 300 KB", len(stderr))
	}
	if !strings.Contains(stderr, "more lines failed") || !strings.Contains(stderr, "lines failed (") {
		t.Errorf("stderr does not end with the unshown failures and the summary:\n%s", tail(stderr, 2000))
	}
}

// TestParseErrorsPerKind: after maxKindReports failures of one kind in a
// file, the rest are counted, and the count is reported at its end.
func TestParseErrorsPerKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.log")
	const n = 50
	if err := os.WriteFile(path, bytes.Repeat([]byte("ipv4 2 tcp 6 notanumber\n"), n), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, _ := runCmd(t, "parse", path)
	if got := strings.Count(stderr, "field state"); got != maxKindReports+1 {
		t.Errorf("%d lines name the failure, want %d reported one by one and the count:\n%s", got, maxKindReports, stderr)
	}
	if want := fmt.Sprintf("%s: %d more lines failed (field state), not shown\n", path, n-maxKindReports); !strings.Contains(stderr, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, stderr)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	return s[max(0, len(s)-n):]
}
