//go:build integration

package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReportRoundTrip(t *testing.T) {
	rep := sampleReport()
	path := filepath.Join(t.TempDir(), "results.json")
	if err := writeReport(path, rep); err != nil {
		t.Fatal(err)
	}
	got, err := readReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, got, cmpFloat); diff != "" {
		t.Errorf("report after a round trip (-want +got):\n%s", diff)
	}
	var saved, rendered bytes.Buffer
	writeDocument(&saved, rep)
	writeDocument(&rendered, got)
	if diff := cmp.Diff(saved.String(), rendered.String()); diff != "" {
		t.Errorf("document of the saved report (-want +got):\n%s", diff)
	}
}
