package main

import (
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/sink"
)

// TestOutputSummary: the stop summary's line for a local output says what was written
// and why the rest was not, naming the errno; nothing when all was written.
func TestOutputSummary(t *testing.T) {
	tests := []struct {
		name string
		st   sink.Stats
		want string
	}{
		{"all written", sink.Stats{Records: 10, Writes: 1}, ""},
		{"disk full", sink.Stats{Records: 20000, Dropped: 68, Failed: 68, Torn: 1, WriteErrors: 3, LastWriteErrno: syscall.ENOSPC},
			"output /var/log/ctwatch.json: 20000 records written in full, 0 dropped while the output was behind, 68 lost to write errors (1 cut short in the output); 3 failed writes, the last: ENOSPC: disk full; free space on the output's file system"},
		{"slow output", sink.Stats{Records: 5, Dropped: 7, Overflow: 7},
			"output /var/log/ctwatch.json: 5 records written in full, 7 dropped while the output was behind, 0 lost to write errors"},
		{"reopen failing", sink.Stats{Records: 5, ReopenErrors: 4, LastReopenErrno: syscall.ENOENT},
			"output /var/log/ctwatch.json: 5 records written in full, 0 dropped while the output was behind, 0 lost to write errors; 4 failed reopens, the last: ENOENT: the output's directory is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, localSummary(output.Spec{Kind: output.File, Name: "/var/log/ctwatch.json"}, tt.st)); diff != "" {
				t.Errorf("outputSummary (-want +got):\n%s", diff)
			}
		})
	}
}
