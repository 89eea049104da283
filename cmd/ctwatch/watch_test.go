package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestWatchCommandUsage: flags that cannot work together or hold no valid
// value are usage errors (status 2), found before any socket is opened.
func TestWatchCommandUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"text options with json", []string{"watch", "--text-opts", "id"}},
		{"bad text option", []string{"watch", "--format", "text", "--text-opts", "colour"}},
		{"bad format", []string{"watch", "--format", "xml"}},
		{"no flows", []string{"watch", "--max-flows", "0"}},
		{"negative reconcile interval", []string{"watch", "--reconcile-interval", "-1s"}},
		{"negative coalesce", []string{"watch", "--coalesce", "-1ms"}},
		{"bad events", []string{"watch", "--events", "new,created"}},
		{"arguments", []string{"watch", "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
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
