package nsdiscover

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// TestWatcherOwnNamespace runs a Watcher without privilege: its own
// namespace is reported first, with a descriptor meaning "current", and
// cancelling the context stops Run at once and closes the channel.
func TestWatcherOwnNamespace(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Not a namespace: ignored, and not a reason to fail.
	if err := os.WriteFile(filepath.Join(dir, "placeholder"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w := New(Config{Log: zerolog.Nop(), RunNetNS: dir})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	var ev Event
	select {
	case ev = <-w.Events():
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10 s")
	}
	if ev.Kind != Added || ev.Handle == nil {
		t.Fatalf("first event %v with handle %v: want Added with a handle", ev.Kind, ev.Handle)
	}
	defer ev.Handle.Close()
	want := NS{Inode: st.Ino, NSID: ev.NS.NSID, PID: os.Getpid(), Container: readContainer(os.Getpid()), Self: true}
	if diff := cmp.Diff(want, ev.NS); diff != "" {
		t.Errorf("own namespace (-want +got):\n%s", diff)
	}
	if ev.Handle.FD() != 0 || ev.Handle.ID() != st.Ino {
		t.Errorf("handle FD %d ID %d; want 0 (current) and %d", ev.Handle.FD(), ev.Handle.ID(), st.Ino)
	}
	if got, ok := w.Inode(st.Ino); !ok || got != ev.NS {
		t.Errorf("Inode(%d) = %+v, %v; want the event's namespace", st.Ino, got, ok)
	}
	if ev.NS.NSID != NoNSID {
		if got, ok := w.Lookup(ev.NS.NSID); !ok || got.Inode != st.Ino {
			t.Errorf("Lookup(%d) = %+v, %v; want the own namespace", ev.NS.NSID, got, ok)
		}
	}
	if _, ok := w.Lookup(1 << 30); ok {
		t.Errorf("Lookup of an unused id found a namespace")
	}

	start := time.Now()
	cancel()
	for range w.Events() {
		// Other namespaces, when run as root: drained until closed.
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Run took %v to stop, want well under its 2 s interval", took)
	}
}

// TestLookupAllocs keeps Lookup, called per message by the reader, free of
// allocations.
func TestLookupAllocs(t *testing.T) {
	w := New(Config{})
	w.state.Store(&state{byInode: map[uint64]NS{}, byNSID: map[int32]NS{3: {Inode: 9, NSID: 3, Name: "a"}}})
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := w.Lookup(3); !ok {
			t.Fatal("not found")
		}
	}); n != 0 {
		t.Errorf("Lookup: %v allocations, want 0", n)
	}
}
