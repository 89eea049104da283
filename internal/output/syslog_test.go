package output

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSyslogKind: the MSGID of a record's message is its kind, in each
// schema and in conntrack -E text, and "-" (empty) when there is none.
func TestSyslogKind(t *testing.T) {
	tr := &SyslogTransport{kinds: map[string]string{}}
	tests := map[string]string{
		`{"level":"info","time":"2026-12-07T06:00:00Z","event":"new","seq":1}`:                "new",
		`{"@timestamp":"x","event":{"kind":"event","action":"conntrack-gap","sequence":2}}`:   "gap",
		`{"class_uid":4001,"unmapped":{"conntrack":{"event":"destroy","run":"r"}}}`:           "destroy",
		"    [NEW] udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED]":      "",
		"[NEW] udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED]":          "new",
		"[1733551200.123456]\t[DESTROY] tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2": "destroy",
		`{"no":"kind"}`: "",
		`{"event":"` + string(make([]byte, 40)) + `"}`: "",
	}
	got := map[string]string{}
	for line := range tests {
		got[line] = tr.kind([]byte(line))
	}
	if diff := cmp.Diff(tests, got); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	for _, line := range [][]byte{[]byte(`{"event":"update","seq":3}`), []byte("[UPDATE] tcp      6 src=10.0.0.1")} {
		tr.kind(line)
		if n := testing.AllocsPerRun(100, func() { tr.kind(line) }); n != 0 {
			t.Errorf("kind of a known kind in %q: %v allocations, want 0", line, n)
		}
	}
}
