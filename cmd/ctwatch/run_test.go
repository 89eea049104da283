package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUsageErrors: for every command, flags that hold no valid value or
// cannot work together, and arguments a command does not take, are usage
// errors (exit status 2), found before any socket is opened or file read.
func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"frobnicate"},
		{"parse", "--format", "xml"},
		{"parse", "--format", "text", "--text-opts", "colour"},
		{"parse", "--text-opts", "id"}, // text options without text
		{"parse", "--tz", "Mars/Olympus_Mons"},
		{"parse", "--frobnicate"},
		{"watch", "--text-opts", "id"},
		{"watch", "--format", "text", "--text-opts", "colour"},
		{"watch", "--format", "xml"},
		{"watch", "--max-flows", "0"},
		{"watch", "--reconcile-interval", "-1s"},
		{"watch", "--coalesce", "-1ms"},
		{"watch", "--events", "new,created"},
		{"watch", "extra"},
		{"watch", "--schema", "cef"},
		{"watch", "--schema", "ECS"}, // names are lower case
		{"parse", "--schema", "cef"},
		{"watch", "--heartbeat", "-1s"},
		{"watch", "--heartbeat", "often"},
		{"watch", "--on-netns-gone", "linger"},
		{"watch", "--all-netns", "--netns", "blue"},
		{"watch", "--netns-metrics-max", "0"},
		{"watch", "--host-name", "node 7"},
		{"watch", "--host-name", "node\n7"},
		{"parse", "--host-name", "node\t7"},
		{"watch", "--host-name", strings.Repeat("a", 256)},
		{"stats", "extra"},
		{"stats", "--bogus"},
		{"stats", "--timeout", "0s"},
		{"doctor", "extra"},
		{"doctor", "--rcvbuf", "0"},
		{"doctor", "--nope"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, &out, &errOut)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want a usage error", err)
			}
			if code := exitCode(err, &errOut); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
		})
	}
}
