package model_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

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

// captureLines returns every entry line of testdata/capture: real output of
// conntrack-tools and /proc captured from the kernel (see
// testdata/capture/README.md), with each file's header naming the command.
func captureLines(t testing.TB) map[string][]captureLine {
	t.Helper()
	paths, err := filepath.Glob("testdata/capture/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no capture files under testdata/capture")
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

// TestCaptureDifferential checks that formatting each parsed captured line
// reproduces it byte for byte: the formatter prints what conntrack -L, -E
// (with every -o combination captured) and /proc print.
func TestCaptureDifferential(t *testing.T) {
	n := 0
	for _, lines := range captureLines(t) {
		for _, l := range lines {
			ev, form, err := parseCaptured(t, l)
			if err != nil || !l.exact {
				continue
			}
			got := string(model.AppendText(nil, &ev, &form))
			if got != l.text {
				t.Errorf("%s:%d: formatting the parsed line differs\nwant %q\ngot  %q", l.file, l.no, l.text, got)
			}
			n++
		}
	}
	t.Logf("%d captured lines reproduced", n)
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
