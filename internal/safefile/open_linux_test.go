package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the uid other-owner files are given.
const nobody = 65534

// setup returns a directory holding "target", a file with "secret" in it,
// and the paths a test may plant things at.
func setup(t *testing.T) (dir, target string) {
	t.Helper()
	dir = t.TempDir()
	target = filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

// opener is OpenAppend or Create.
type opener struct {
	name string
	open func(string, Options) (*os.File, error)
}

var openers = []opener{{"OpenAppend", OpenAppend}, {"Create", Create}}

// TestRefused: a final symbolic link and a hard link are refused by both
// functions, with an error naming the path and the reason, and the file
// they point to keeps its contents.
func TestRefused(t *testing.T) {
	for _, o := range openers {
		for _, plant := range []struct {
			name string
			make func(target, path string) error
			want error
		}{
			{"symlink", os.Symlink, ErrSymlink},
			{"hard link", os.Link, ErrHardLink},
		} {
			t.Run(o.name+"/"+plant.name, func(t *testing.T) {
				dir, target := setup(t)
				path := filepath.Join(dir, "out")
				if err := plant.make(target, path); err != nil {
					t.Fatal(err)
				}
				f, err := o.open(path, Options{})
				if err == nil {
					f.Close()
					t.Fatalf("%s(%s) succeeded, want %v", o.name, plant.name, plant.want)
				}
				if !errors.Is(err, plant.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q, want one naming %s and wrapping %q", err, path, plant.want)
				}
				if got, _ := os.ReadFile(target); string(got) != "secret\n" {
					t.Errorf("target now holds %q", got)
				}
			})
		}
	}
}

// TestSymlinkRefusedEvenIfAllowed: AllowOtherOwner does not make a
// symbolic link acceptable.
func TestSymlinkRefusedEvenIfAllowed(t *testing.T) {
	dir, target := setup(t)
	path := filepath.Join(dir, "out")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenAppend(path, Options{AllowOtherOwner: true}); !errors.Is(err, ErrSymlink) {
		if f != nil {
			f.Close()
		}
		t.Errorf("OpenAppend(symlink, AllowOtherOwner) error %v, want ErrSymlink", err)
	}
}

// TestSymlinkedDirectoryFollowed: only the last element must not be a
// link; a link among the directories (/var/log -> /data/log) is fine.
func TestSymlinkedDirectoryFollowed(t *testing.T) {
	dir, _ := setup(t)
	link := filepath.Join(dir, "linkdir")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	f, err := OpenAppend(filepath.Join(link, "new"), Options{})
	if err != nil {
		t.Fatalf("OpenAppend through a linked directory: %v", err)
	}
	f.Close()
}

// TestHardLinkAllowed: AllowOtherOwner accepts a hard link.
func TestHardLinkAllowed(t *testing.T) {
	dir, target := setup(t)
	path := filepath.Join(dir, "out")
	if err := os.Link(target, path); err != nil {
		t.Fatal(err)
	}
	f, err := OpenAppend(path, Options{AllowOtherOwner: true})
	if err != nil {
		t.Fatalf("OpenAppend(hard link, AllowOtherOwner): %v", err)
	}
	f.Close()
}

// TestOtherOwner: a file of nobody's is refused unless allowed. It needs
// root to chown; tests run as root in CI.
func TestOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run this test as root")
		}
		t.Skip("needs root to chown a file to nobody")
	}
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			_, target := setup(t)
			if err := os.Chown(target, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			f, err := o.open(target, Options{})
			if err == nil {
				f.Close()
				t.Fatal("opened a file owned by nobody")
			}
			if !errors.Is(err, ErrOtherOwner) || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "uid 65534") {
				t.Errorf("error %q, want one naming %s and uid 65534 and wrapping ErrOtherOwner", err, target)
			}
			if got, _ := os.ReadFile(target); string(got) != "secret\n" {
				t.Errorf("refused file now holds %q", got)
			}
			f, err = o.open(target, Options{AllowOtherOwner: true})
			if err != nil {
				t.Fatalf("with AllowOtherOwner: %v", err)
			}
			f.Close()
		})
	}
}

// TestCreateAndAppend: a new file is created 0640 or stricter; OpenAppend
// keeps what an own file holds, Create empties it.
func TestCreateAndAppend(t *testing.T) {
	dir, target := setup(t)
	path := filepath.Join(dir, "new")
	f, err := OpenAppend(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^Mode != 0 {
		t.Errorf("new file mode %v, want 0640 or stricter", perm)
	}

	f, err = OpenAppend(target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("more\n")
	f.Close()
	if got, _ := os.ReadFile(target); string(got) != "secret\nmore\n" {
		t.Errorf("after OpenAppend and a write: %q", got)
	}
	f, err = Create(target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, _ := os.ReadFile(target); len(got) != 0 {
		t.Errorf("after Create: %q, want it empty", got)
	}
}

// TestCharDevice: /dev/null is opened whoever owns it.
func TestCharDevice(t *testing.T) {
	f, err := OpenAppend(os.DevNull, Options{})
	if err != nil {
		t.Fatalf("OpenAppend(%s): %v", os.DevNull, err)
	}
	f.Close()
}

// TestMissingDirectory: an ordinary failure keeps its errno and the path.
func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone", "out")
	_, err := OpenAppend(path, Options{})
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want ENOENT naming %s", err, path)
	}
}
