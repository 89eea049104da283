package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		{"json", []string{"parse", "--tz", "UTC", mixed, second}, "mixed.json", 1},
		{"text keeps each line's form", []string{"parse", "--tz", "UTC", "--format", "text", mixed}, "mixed.text", 1},
		{"text in a chosen form", []string{"parse", "--tz", "UTC", "--format", "text", "--text-opts", "extended,id", mixed}, "mixed.extended-id", 1},
		{"all good", []string{"parse", second}, "second.json", 0},
		{"missing file does not stop the others", []string{"parse", "testdata/parse/nonexistent.log", second}, "missing.json", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			checkGolden(t, filepath.Join("testdata", "parse", tt.golden+".stdout"), stdout)
			checkGolden(t, filepath.Join("testdata", "parse", tt.golden+".stderr"), stderr)
		})
	}
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
