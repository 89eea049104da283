package sysctl

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPath(t *testing.T) {
	tests := []struct {
		name, want string
		wantErr    error
	}{
		{name: "net.netfilter.nf_conntrack_max", want: "/proc/sys/net/netfilter/nf_conntrack_max"},
		{name: "net.core.rmem_max", want: "/proc/sys/net/core/rmem_max"},
		{name: "kernel", want: "/proc/sys/kernel"},
		{name: "net/ipv4/conf/eth0.10/rp_filter", want: "/proc/sys/net/ipv4/conf/eth0.10/rp_filter"},
		{name: "", wantErr: ErrInvalidName},
		{name: "net..core", wantErr: ErrInvalidName},
		{name: ".net.core", wantErr: ErrInvalidName},
		{name: "net.core.", wantErr: ErrInvalidName},
		{name: "net/../../etc/passwd", wantErr: ErrInvalidName},
		{name: "/net/core", wantErr: ErrInvalidName},
		{name: "net/./core", wantErr: ErrInvalidName},
		{name: "net.co\x00re", wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Path(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr error
	}{
		{in: "262144\n", want: 262144},
		{in: "0", want: 0},
		{in: "-1\n", want: -1},
		{in: " 2 ", want: 2},
		{in: "9223372036854775807", want: 9223372036854775807},
		{in: "9223372036854775808", wantErr: ErrInvalidValue},
		{in: "", wantErr: ErrInvalidValue},
		{in: "\n", wantErr: ErrInvalidValue},
		{in: "4096\t131072\t6291456\n", wantErr: ErrInvalidValue},
		{in: "Linux", wantErr: ErrInvalidValue},
		{in: "0x10", wantErr: ErrInvalidValue},
	}
	for _, tt := range tests {
		got, err := ParseInt(tt.in)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseInt(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseInt(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseInts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int64
		wantErr error
	}{
		{in: "4096\t131072\t6291456\n", want: []int64{4096, 131072, 6291456}},
		{in: "1\n", want: []int64{1}},
		{in: "", wantErr: ErrInvalidValue},
		{in: "1\tx", wantErr: ErrInvalidValue},
	}
	for _, tt := range tests {
		got, err := ParseInts(tt.in)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseInts(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseInts(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"262144\n", "-1", "", "4096\t1\t2\n", "x", "+5", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseInt(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("error %v is not ErrInvalidValue", err)
			}
			return
		}
		// What parses is one integer: the kernel's own rendering of it
		// parses to the same value, alone and as a one-element vector.
		back := strconv.FormatInt(n, 10) + "\n"
		if m, err := ParseInt(back); err != nil || m != n {
			t.Fatalf("ParseInt(%q) = %d, but ParseInt(%q) = %d, %v", s, n, back, m, err)
		}
		v, err := ParseInts(s)
		if err != nil || len(v) != 1 || v[0] != n {
			t.Fatalf("ParseInts(%q) = %v, %v; ParseInt gave %d", s, v, err, n)
		}
	})
}

func FuzzParseInts(f *testing.F) {
	for _, s := range []string{"4096\t131072\t6291456\n", "1", "", "1 2 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseInts(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("error %v is not ErrInvalidValue", err)
			}
			return
		}
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.FormatInt(n, 10)
		}
		back := strings.Join(parts, "\t") + "\n"
		w, err := ParseInts(back)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, w); diff != "" {
			t.Fatalf("round trip through %q (-first +second):\n%s", back, diff)
		}
	})
}

func FuzzPath(f *testing.F) {
	for _, s := range []string{"net.core.rmem_max", "net/ipv4/conf/eth0.10/rp_filter", "..", "a/../b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, err := Path(name)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %v is not ErrInvalidName", err)
			}
			return
		}
		rest, ok := strings.CutPrefix(p, "/proc/sys/")
		if !ok {
			t.Fatalf("Path(%q) = %q, not under /proc/sys", name, p)
		}
		for _, c := range strings.Split(rest, "/") {
			if c == "" || c == "." || c == ".." {
				t.Fatalf("Path(%q) = %q has component %q", name, p, c)
			}
		}
	})
}
