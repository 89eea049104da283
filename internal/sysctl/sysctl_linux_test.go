package sysctl

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// These tests read the test process's own namespace; reading and writing
// other namespaces is tested against the kernel in integration/.

func TestReadCurrentNamespace(t *testing.T) {
	got, err := Read(nil, "kernel.ostype")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Linux" {
		t.Errorf("kernel.ostype = %q, want Linux", got)
	}
}

func TestReadMissing(t *testing.T) {
	_, err := Read(nil, "net.core.no_such_sysctl")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "net.core.no_such_sysctl") {
		t.Errorf("error %q does not name the sysctl", err)
	}
	if _, err := ReadInt(nil, "net.core.no_such_sysctl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadInt error = %v, want fs.ErrNotExist", err)
	}
}

func TestReadInvalid(t *testing.T) {
	if _, err := Read(nil, "net/../x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Read error = %v, want ErrInvalidName", err)
	}
	if _, err := ReadInt(nil, "kernel.ostype"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("ReadInt(kernel.ostype) error = %v, want ErrInvalidValue", err)
	}
	if err := Write(nil, "", "1"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Write error = %v, want ErrInvalidName", err)
	}
	if _, err := ReadAll(nil, "kernel.ostype", ".."); !errors.Is(err, ErrInvalidName) {
		t.Errorf("ReadAll error = %v, want ErrInvalidName", err)
	}
}

func TestReadAll(t *testing.T) {
	v, err := ReadAll(nil, "kernel.ostype", "net.core.somaxconn", "net.core.no_such_sysctl")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := v.String("kernel.ostype"); err != nil || s != "Linux" {
		t.Errorf("kernel.ostype = %q, %v", s, err)
	}
	if n, err := v.Int("net.core.somaxconn"); err != nil || n <= 0 {
		t.Errorf("net.core.somaxconn = %d, %v", n, err)
	}
	if _, err := v.Int("net.core.no_such_sysctl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing sysctl: error = %v, want fs.ErrNotExist", err)
	}
	if _, err := v.Int("kernel.ostype"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("text as int: error = %v, want ErrInvalidValue", err)
	}
	if _, err := v.String("net.core.rmem_max"); !errors.Is(err, ErrNotRead) {
		t.Errorf("not requested: error = %v, want ErrNotRead", err)
	}
}

// TestReadThroughSwitch switches into the namespace the test already runs
// in, which exercises the thread switch without another namespace.
func TestReadThroughHandle(t *testing.T) {
	h, err := netns.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	want, err := Read(nil, "net.core.somaxconn")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		got, err := Read(h, "net.core.somaxconn")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("through the handle: %q, directly: %q", got, want)
		}
	}
	h.Close()
	if _, err := Read(h, "net.core.somaxconn"); !errors.Is(err, netns.ErrClosed) {
		t.Errorf("read through a closed handle: %v, want netns.ErrClosed", err)
	}
}
