package netns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNSFSMounts(t *testing.T) {
	const info = `22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw
605 29 0:4 net:[4026532451] /run/netns/a rw shared:255 - nsfs nsfs rw
606 29 0:4 net:[4026532999] /run/netns/b rw - nsfs nsfs rw
607 29 0:4 mnt:[4026532000] /tmp/m rw - nsfs nsfs rw
garbage
608 29 0:4 net:[12] /x rw shared:1 master:2
`
	got, errs, err := nsfsMounts(strings.NewReader(info), "mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]bool{4026532451: true, 4026532999: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mounted namespaces (-want +got):\n%s", diff)
	}
	var lines []int
	for _, e := range errs {
		var me *MountError
		if !errors.As(e, &me) || me.Path != "mountinfo" {
			t.Fatalf("error %v: want a *MountError naming the file", e)
		}
		lines = append(lines, me.Line)
	}
	if diff := cmp.Diff([]int{5, 6}, lines); diff != "" {
		t.Errorf("malformed lines reported (-want +got):\n%s", diff)
	}
}

func TestNSFSInode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		ino  uint64
		okay bool
	}{
		{"net:[4026531840]", 4026531840, true},
		{"net:[]", 0, false},
		{"mnt:[4026531840]", 0, false},
		{"net:[12", 0, false},
		{"net:[x1]", 0, false},
		{"", 0, false},
	} {
		ino, ok := nsfsInode([]byte(tt.in))
		if ino != tt.ino || ok != tt.okay {
			t.Errorf("nsfsInode(%q) = %d, %v; want %d, %v", tt.in, ino, ok, tt.ino, tt.okay)
		}
	}
}

// TestOrphaned runs the check on a made-up /proc: process links and a
// mount table decide, and this process's own link does not count.
func TestOrphaned(t *testing.T) {
	proc := t.TempDir()
	link := func(pid, target string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(proc, pid, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(proc, pid, "ns", "net")); err != nil {
			t.Fatal(err)
		}
	}
	link("1", "net:[100]")
	link("42", "net:[200]") // this process
	link("77", "net:[300]")
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	mounts := "605 29 0:4 net:[400] /run/netns/a rw shared:255 - nsfs nsfs rw\n"
	if err := os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte(mounts), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ino  uint64
		want bool
	}{
		{100, false}, // pid 1 lives there
		{200, true},  // only this process
		{300, false}, // pid 77
		{400, false}, // mounted under /run/netns
		{500, true},  // nobody
	} {
		got, err := orphaned(proc, 42, tt.ino)
		if err != nil || got != tt.want {
			t.Errorf("orphaned(ino %d) = %v, %v; want %v", tt.ino, got, err, tt.want)
		}
	}
}

func FuzzNSFSMounts(f *testing.F) {
	f.Add([]byte("605 29 0:4 net:[4026532451] /run/netns/a rw shared:255 - nsfs nsfs rw\n"))
	f.Add([]byte("1 2 3 4 5 6 -\n- - - - - -\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, errs, err := nsfsMounts(strings.NewReader(string(b)), "fuzz")
		if err != nil {
			return // a line beyond the scanner's limit
		}
		for _, e := range errs {
			var me *MountError
			if !errors.As(e, &me) || me.Line < 1 {
				t.Fatalf("error %v: want a *MountError with a line", e)
			}
		}
		for ino := range got {
			if !strings.Contains(string(b), "net:[") || ino == 0 && !strings.Contains(string(b), "net:[0]") {
				t.Fatalf("inode %d from input without it", ino)
			}
		}
	})
}

// TestCensus takes a census of a made-up /proc: the lowest process per
// namespace, this process left out, and the mounted namespaces.
func TestCensus(t *testing.T) {
	proc := t.TempDir()
	link := func(pid, target string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(proc, pid, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(proc, pid, "ns", "net")); err != nil {
			t.Fatal(err)
		}
	}
	link("1", "net:[100]")
	link("300", "net:[300]")
	link("42", "net:[200]") // this process
	link("77", "net:[300]")
	link("9", "mnt:[300]")
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	mounts := "605 29 0:4 net:[400] /run/netns/a rw shared:255 - nsfs nsfs rw\n"
	if err := os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte(mounts), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := takeCensus(proc, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := &Census{LowestPID: map[uint64]int{100: 1, 300: 77}, Mounted: map[uint64]bool{400: true}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("census (-want +got):\n%s", diff)
	}
	for ino, held := range map[uint64]bool{100: true, 200: false, 300: true, 400: true, 500: false} {
		if got := c.Held(ino); got != held {
			t.Errorf("Held(%d) = %v, want %v", ino, got, held)
		}
	}
}

// TestHeldByPath checks the one-stat answer of Orphaned: a path that still
// is the namespace holds it; one removed, or now another file, says nothing.
func TestHeldByPath(t *testing.T) {
	h, err := Open("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	other := t.TempDir() + "/file"
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/proc/self/ns/net", true},
		{other, false},
		{t.TempDir() + "/gone", false},
		{"", false},
	} {
		c := *h
		c.path = tc.path
		if got := c.heldByPath(); got != tc.want {
			t.Errorf("heldByPath of %q = %v, want %v", tc.path, got, tc.want)
		}
	}
	if gone, err := h.Orphaned(); err != nil || gone {
		t.Errorf("Orphaned of the own namespace by path = %v, %v; want false, nil", gone, err)
	}
}
