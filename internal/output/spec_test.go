package output

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		name string
		err  bool
	}{
		{in: "-", kind: Stdout, name: "stdout"},
		{in: "/var/log/ctwatch/events.json", kind: File, name: "/var/log/ctwatch/events.json"},
		{in: "events.json", kind: File, name: "events.json"},
		{in: "syslog+tcp://127.0.0.1:6514", kind: Syslog, name: "syslog+tcp://127.0.0.1:6514"},
		{in: "syslog+udp://[::1]:514", kind: Syslog, name: "syslog+udp://[::1]:514"},
		{in: "syslog+unix:///dev/log", kind: Syslog, name: "syslog+unix:///dev/log"},
		{in: "nats://127.0.0.1:4222/ctwatch.node1", kind: NATS, name: "nats://127.0.0.1:4222/ctwatch.node1"},
		{in: "nats://agent:secret@127.0.0.1/ctwatch.node1", kind: NATS, name: "nats://agent:xxxxx@127.0.0.1/ctwatch.node1"},
		{in: "", err: true},
		{in: "http://example.invalid/x", err: true},
		{in: "syslog+tcp://", err: true},
		{in: "nats://127.0.0.1:4222/", err: true},
		{in: "nats://127.0.0.1:4222/a.*", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err {
				if !errors.Is(err, ErrSpec) {
					t.Fatalf("Parse(%q) = %+v, %v; want an error wrapping ErrSpec", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff([]any{tt.kind, tt.name, tt.in}, []any{got.Kind, got.Name, got.Raw}); diff != "" {
				t.Errorf("Parse(%q) kind, name, raw (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	got, err := ParseAll(nil)
	if err != nil || len(got) != 1 || got[0].Kind != Stdout {
		t.Fatalf("ParseAll(nil) = %+v, %v; want standard output alone", got, err)
	}
	if _, err := ParseAll([]string{"-", "a.json", "-"}); !errors.Is(err, ErrSpec) {
		t.Fatalf("ParseAll with - twice: %v, want an error wrapping ErrSpec", err)
	}
	got, err = ParseAll([]string{"a.json", "syslog+udp://127.0.0.1:514"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Kind{File, Syslog}, []Kind{got[0].Kind, got[1].Kind}); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

// FuzzParse holds that Parse never panics, that what it accepts it names,
// and that a remote spec's name hides no more than the password.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"-", "x.json", "syslog+tcp://h:1", "nats://u:p@h:1/s.t", "a://b", "nats://h/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrSpec", s, err)
			}
			return
		}
		if sp.Raw != s || sp.Name == "" {
			t.Fatalf("Parse(%q) = %+v: raw or name wrong", s, sp)
		}
		if sp.Kind != NATS && sp.Kind != Stdout && sp.Name != s {
			t.Fatalf("Parse(%q) renamed a %v output to %q", s, sp.Kind, sp.Name)
		}
	})
}
