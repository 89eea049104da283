package netns

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func selfIno(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestOpenOwnNamespace(t *testing.T) {
	want := selfIno(t)
	tests := []struct {
		spec     string
		wantFD   bool // a real descriptor rather than 0 ("current")
		wantName string
	}{
		{spec: "", wantFD: false, wantName: "self"},
		{spec: "/proc/self/ns/net", wantFD: true, wantName: "/proc/self/ns/net"},
		{spec: strconv.Itoa(os.Getpid()), wantFD: true, wantName: strconv.Itoa(os.Getpid())},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			h, err := Open(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if got := h.ID(); got != want {
				t.Errorf("ID() = %d, want %d", got, want)
			}
			if got := h.String(); got != tt.wantName {
				t.Errorf("String() = %q, want %q", got, tt.wantName)
			}
			if got := h.FD(); (got != 0) != tt.wantFD || got < 0 {
				t.Errorf("FD() = %d, want a descriptor: %v", got, tt.wantFD)
			}
			// Already in the namespace: Do needs no privilege and sees it.
			var inDo uint64
			if err := h.Do(func() error {
				var st unix.Stat_t
				if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
					return err
				}
				inDo = st.Ino
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if inDo != want {
				t.Errorf("Do ran in net:[%d], want net:[%d]", inDo, want)
			}
			if err := h.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := h.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := h.Do(func() error { return nil }); !errors.Is(err, ErrClosed) {
				t.Errorf("Do after Close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestDoReturnsFuncError(t *testing.T) {
	h, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	sentinel := errors.New("sentinel")
	if err := h.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do = %v, want the function's error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec string
		want error
	}{
		{spec: "ctwatch-no-such-namespace", want: fs.ErrNotExist},
		{spec: "/nonexistent/ns", want: fs.ErrNotExist},
		{spec: "999999999", want: fs.ErrNotExist},
		{spec: regular, want: ErrNotNetNS},
		{spec: "/proc/self/ns/uts", want: ErrNotNetNS},
		{spec: "..", want: unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			h, err := Open(tt.spec)
			if err == nil {
				h.Close()
				t.Fatalf("Open(%q) succeeded", tt.spec)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open(%q) = %v, want %v", tt.spec, err, tt.want)
			}
		})
	}
}

func TestOpenErrorNamesInterpretation(t *testing.T) {
	tests := []struct{ spec, as, path string }{
		{"ctwatch-no-such-namespace", "name", "/run/netns/ctwatch-no-such-namespace"},
		{"999999999", "pid", "/proc/999999999/ns/net"},
		{"/nonexistent/ns", "path", "/nonexistent/ns"},
		{"..", "name", "/run/netns/.."},
	}
	for _, tt := range tests {
		_, err := Open(tt.spec)
		var oe *OpenError
		if !errors.As(err, &oe) {
			t.Fatalf("Open(%q) = %v, want an *OpenError", tt.spec, err)
		}
		want := OpenError{Spec: tt.spec, As: tt.as, Path: tt.path}
		got := OpenError{Spec: oe.Spec, As: oe.As, Path: oe.Path}
		if got != want {
			t.Errorf("Open(%q) error = %+v, want %+v", tt.spec, got, want)
		}
	}
}

// TestNilHandle checks that a nil *Handle stands for the caller's own
// namespace.
func TestNilHandle(t *testing.T) {
	var h *Handle
	if got := h.FD(); got != 0 {
		t.Errorf("FD() = %d, want 0", got)
	}
	if got := h.String(); got != "self" {
		t.Errorf("String() = %q, want self", got)
	}
	ran := false
	if err := h.Do(func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("Do: ran %v, error %v", ran, err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestDup(t *testing.T) {
	h, err := Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	d, err := h.Dup()
	if err != nil {
		t.Fatal(err)
	}
	if d.FD() == h.FD() || d.FD() <= 0 || d.ID() != h.ID() || d.String() != h.String() {
		t.Errorf("Dup = fd %d id %d %q; want a new descriptor of id %d %q", d.FD(), d.ID(), d, h.ID(), h)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// The duplicate outlives the original.
	if err := d.Do(func() error { return nil }); err != nil {
		t.Errorf("Do on the duplicate after closing the original: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := h.Dup(); !errors.Is(err, ErrClosed) {
		t.Errorf("Dup of a closed handle = %v, want ErrClosed", err)
	}
	var nilh *Handle
	if n, err := nilh.Dup(); n != nil || err != nil {
		t.Errorf("nil Dup = %v, %v; want nil, nil", n, err)
	}
}
