//go:build integration

package integration

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitFor polls cond until it holds, failing the test after a deadline.
// Polling stands in for an event the kernel offers no way to wait on.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nsInode identifies the namespace a path refers to.
func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}
