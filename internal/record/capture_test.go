package record_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// captureDir holds the text codec's captures, which the native schema must
// carry without loss.
const captureDir = "../../pkg/model/testdata/capture"

// captureLine is one entry line of a capture file.
type captureLine struct {
	file string
	no   int
	text string
	// exact is true for lines a tool printed ("# source: captured" in the
	// file's header), false for hand-made ones such as the tutorials'
	// lines, whose spacing was lost when they were quoted.
	exact bool
	// expect is true in files of expectations ("expect" in the name),
	// which are not connection entries.
	expect bool
}

// captureLines returns every entry line of pkg/model/testdata/capture: real output of
// conntrack-tools and /proc captured from the kernel (see
// testdata/capture/README.md), with each file's header naming the command.
func captureLines(t testing.TB) map[string][]captureLine {
	t.Helper()
	paths, err := filepath.Glob(captureDir + "/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no capture files under " + captureDir)
	}
	files := make(map[string][]captureLine)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		exact := bytes.Contains(data, []byte("\n# source: captured")) || bytes.HasPrefix(data, []byte("# source: captured"))
		expect := strings.Contains(filepath.Base(p), "expect")
		sc := bufio.NewScanner(bytes.NewReader(data))
		for no := 1; sc.Scan(); no++ {
			if model.IsSkippable(sc.Text()) {
				continue
			}
			files[p] = append(files[p], captureLine{p, no, sc.Text(), exact, expect})
		}
		if len(files[p]) == 0 {
			t.Errorf("%s: no entry lines", p)
		}
	}
	return files
}

// TestCaptureJSONRoundTrip checks that the JSON codec loses nothing the text
// forms carry.
func TestCaptureJSONRoundTrip(t *testing.T) {
	for _, lines := range captureLines(t) {
		for _, l := range lines {
			want, _, err := parseCaptured(t, l)
			if err != nil {
				continue
			}
			js := encodeJSON(&want)
			got, err := record.ParseJSON(js)
			if err != nil {
				t.Errorf("%s:%d: ParseJSON(%s): %v", l.file, l.no, js, err)
				continue
			}
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("%s:%d: JSON round trip (-want +got):\n%s", l.file, l.no, diff)
			}
		}
	}
}

// TestCaptureGolden pins the native records of every capture file in
// testdata/capture.
func TestCaptureGolden(t *testing.T) {
	for path, lines := range captureLines(t) {
		// One encoder per file, as one `ctwatch parse` run: its records
		// are numbered 1, 2, ...
		var got bytes.Buffer
		enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&got)})
		for _, l := range lines {
			ev, _, err := parseCaptured(t, l)
			if err != nil {
				continue
			}
			enc.Event(&ev)
		}
		if got.Len() == 0 {
			continue
		}
		golden := filepath.Join("testdata", "capture", strings.TrimSuffix(filepath.Base(path), ".txt")+".jsonl")
		checkGolden(t, golden, got.Bytes())
	}
}

// parseCaptured parses a captured line. It fails the test unless the line
// parses, or is an expectation in an expectation file and fails with
// ErrExpectation; the error tells the caller to skip the line.
func parseCaptured(t *testing.T, l captureLine) (model.Event, model.TextOptions, error) {
	t.Helper()
	ev, form, err := model.ParseText(l.text, time.UTC)
	switch {
	case l.expect && !errors.Is(err, model.ErrExpectation):
		t.Errorf("%s:%d: expectation line: error %v, want ErrExpectation", l.file, l.no, err)
	case !l.expect && err != nil:
		t.Errorf("%s:%d: %v", l.file, l.no, err)
	}
	return ev, form, err
}

// The run id and host name of the tests' encoders, so that the records'
// envelope carries values a test can see.
const (
	testRun  = "run-1"
	testHost = "host-1"
)

// encodeJSON returns ev's native record, as ctwatch parse writes it.
func encodeJSON(ev *model.Event) []byte {
	var buf bytes.Buffer
	record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf)}).Event(ev)
	return buf.Bytes()
}

// checkNativeGolden checks the one native record write makes, as a
// watch's encoder with the test clock (flowStart) writes it, against
// testdata/native-golden/name.json (checkGolden).
func checkNativeGolden(t *testing.T, name string, write func(*record.Encoder)) {
	t.Helper()
	var buf bytes.Buffer
	write(record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf), Clock: func() time.Time { return flowStart }}))
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
		t.Fatalf("wrote %d records, want 1:\n%s", n, buf.Bytes())
	}
	checkGolden(t, filepath.Join("testdata", "native-golden", name+".json"), buf.Bytes())
}

// checkGolden compares got with the golden file, or rewrites it under
// -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
