package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMkdirAll: missing parents are created with DirMode, an existing
// directory is accepted, and a symbolic link to a directory is refused
// with an error naming the path.
func TestMkdirAll(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "a", "b")
	if err := MkdirAll(path, Options{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&^DirMode != 0 {
		t.Errorf("%s: mode %v, want a directory within %v", path, fi.Mode(), os.FileMode(DirMode))
	}
	if err := MkdirAll(path, Options{}); err != nil {
		t.Errorf("existing directory: %v", err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	err = MkdirAll(link, Options{})
	if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), link) {
		t.Errorf("symlink: error %v, want one naming %s and wrapping %q", err, link, ErrSymlink)
	}
}

// TestOpenFileNoTruncate: OpenFile with O_RDWR keeps the contents and
// refuses a symbolic link like the other openers.
func TestOpenFileNoTruncate(t *testing.T) {
	dir, target := setup(t)
	f, err := OpenFile(target, os.O_RDWR, Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := f.ReadAt(buf, 0)
	f.Close()
	if string(buf[:n]) != "secret\n" {
		t.Errorf("read %q, want the contents kept", buf[:n])
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenFile(link, os.O_RDWR, Options{}); !errors.Is(err, ErrSymlink) {
		if f != nil {
			f.Close()
		}
		t.Errorf("symlink: error %v, want %q", err, ErrSymlink)
	}
}
