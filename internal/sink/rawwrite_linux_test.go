package sink

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRawFD: only files whose writes never wait are written raw.
func TestRawFD(t *testing.T) {
	reg, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	open := func(path string) *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Skipf("open %s: %v", path, err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	for _, tc := range []struct {
		name string
		f    *os.File
		raw  bool
	}{
		{"regular file", reg, true},
		{"/dev/null", open("/dev/null"), true},
		{"/dev/full", open("/dev/full"), false},
		{"pipe", pw, false},
		{"none", nil, false},
	} {
		if got := rawFD(tc.f) >= 0; got != tc.raw {
			t.Errorf("%s: written raw %v, want %v", tc.name, got, tc.raw)
		}
	}
}

// TestRawWrite: the whole buffer lands, and a failure is a PathError with
// the errno, as os.File.Write returns it.
func TestRawWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 200<<10)
	for i := range data {
		data[i] = byte(i)
	}
	n, err := rawWrite(rawFD(f), path, data)
	if err != nil || n != len(data) {
		t.Fatalf("rawWrite = %d, %v; want %d, nil", n, err, len(data))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Errorf("file holds %d bytes, not those written", len(got))
	}

	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = rawWrite(int(ro.Fd()), path, []byte("x\n"))
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "write" || pe.Path != path || !errors.Is(err, syscall.EBADF) {
		t.Errorf("write to a read-only descriptor: %v, want a write PathError of %s with EBADF", err, path)
	}
}
