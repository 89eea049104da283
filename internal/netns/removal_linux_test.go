package netns

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWatchRemoval opens the own namespace through a symbolic link, which
// stands for a name under /run/netns: removing another file says nothing,
// removing the link notifies, and Orphaned then looks past it.
func TestWatchRemoval(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ns")
	if err := os.Symlink("/proc/self/ns/net", link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := Open(link)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notified := make(chan struct{}, 8)
	ok, err := h.WatchRemoval(ctx, func() { notified <- struct{}{} })
	if err != nil || !ok {
		t.Fatalf("WatchRemoval = %v, %v; want true, nil", ok, err)
	}
	if !h.heldByPath() {
		t.Fatal("the link does not hold the namespace")
	}
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	// The link's removal comes after the other's in the same queue: a
	// notification for the other would be received first.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of the link's removal")
	}
	if h.heldByPath() {
		t.Error("a removed link still holds the namespace")
	}
	select {
	case <-notified:
		t.Error("notified twice: the other file's removal counted")
	default:
	}
}

// TestWatchRemovalUnwatchable: the own namespace and /proc links are left
// to the periodic check.
func TestWatchRemovalUnwatchable(t *testing.T) {
	h, err := Open("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	for _, h := range []*Handle{nil, h} {
		ok, err := h.WatchRemoval(context.Background(), func() { t.Error("notified") })
		if ok || err != nil {
			t.Errorf("WatchRemoval of %v = %v, %v; want false, nil", h, ok, err)
		}
	}
}

func TestRemovalIn(t *testing.T) {
	event := func(mask uint32, name string) []byte {
		n := (len(name) + 16) / 16 * 16
		b := make([]byte, 16+n)
		binary.NativeEndian.PutUint32(b[4:], mask)
		binary.NativeEndian.PutUint32(b[12:], uint32(n))
		copy(b[16:], name)
		return b
	}
	const inDelete, inDeleteSelf = unix.IN_DELETE, unix.IN_DELETE_SELF
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"other name", event(inDelete, "other"), false},
		{"the name", event(inDelete, "ns"), true},
		{"the name second", append(event(inDelete, "other"), event(inDelete, "ns")...), true},
		{"prefix only", event(inDelete, "nsx"), false},
		{"directory gone", event(inDeleteSelf, ""), true},
		{"cut short", event(inDelete, "ns")[:20], true},
		{"empty", nil, false},
	} {
		if got := removalIn(tc.b, "ns"); got != tc.want {
			t.Errorf("%s: removalIn = %v, want %v", tc.name, got, tc.want)
		}
	}
}
