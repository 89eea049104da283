//go:build integration

package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordNetNS(t *testing.T) {
	tests := []struct {
		line      string
		wantName  string
		wantInode uint64
		wantOK    bool
	}{
		{`{"event":"new","netns":{"inode":4026532290,"nsid":3,"name":"ctbench-a"},"proto":"udp"}`, "ctbench-a", 4026532290, true},
		{`{"event":"new","netns":{"nsid":7},"proto":"udp"}`, "", 0, true},
		{`{"event":"destroy","netns":{"inode":42,"nsid":1,"pid":991,"container_id":"c0ffee"}}`, "", 42, true},
		// The name of a later object is not the namespace's.
		{`{"event":"new","netns":{"inode":5},"orig":{"name":"x"}}`, "", 5, true},
		{`{"event":"start","netns":"ctbench-a"}`, "", 0, false},
		{`{"event":"new","proto":"tcp"}`, "", 0, false},
	}
	for _, tt := range tests {
		name, ino, ok := recordNetNS([]byte(tt.line))
		if diff := cmp.Diff([]any{tt.wantName, tt.wantInode, tt.wantOK}, []any{name, ino, ok}); diff != "" {
			t.Errorf("recordNetNS(%s) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestCountNetNSRecords(t *testing.T) {
	out := strings.Join([]string{
		`{"event":"start","all_netns":true}`,
		`{"event":"netns_added","netns":{"inode":11,"nsid":1,"name":"ctbench-a"},"seeded":0}`,
		`{"event":"new","netns":{"inode":11,"nsid":1,"name":"ctbench-a"}}`,
		`{"event":"update","netns":{"inode":11,"nsid":1,"name":"ctbench-a"}}`,
		`{"event":"destroy","netns":{"inode":11,"nsid":1,"name":"ctbench-a"}}`,
		`{"event":"new","netns":{"inode":22,"nsid":2,"name":"ctbench-b"}}`,
		// ctbench-b's, known by its inode, without its name.
		`{"event":"destroy","netns":{"inode":22,"nsid":2}}`,
		// Another namespace's, and the host's own: not counted.
		`{"event":"new","netns":{"inode":33,"nsid":3,"name":"someone-else"}}`,
		`{"event":"new","netns":{"inode":1,"self":true}}`,
		`{"event":"destroy","inferred":true,"netns":{"inode":11,"nsid":1,"name":"ctbench-a"}}`,
		`{"event":"new","proto":"udp"}`,
		`{"event":"stop"}`,
	}, "\n") + "\n"
	got, err := countNetNSRecords(strings.NewReader(out), map[string]uint64{"ctbench-a": 11, "ctbench-b": 22, "ctbench-c": 44})
	if err != nil {
		t.Fatal(err)
	}
	want := nsRecordCounts{
		PerNS: map[string]eventCounts{
			"ctbench-a": {New: 1, Update: 1, Destroy: 1, Inferred: 1, Other: 1},
			"ctbench-b": {New: 1, Destroy: 1},
		},
		Unnamed:      1,
		Unattributed: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("countNetNSRecords (-want +got):\n%s", diff)
	}
}

func TestNetNSAdded(t *testing.T) {
	out := `{"event":"start"}
{"event":"netns_added","netns":{"inode":11,"nsid":1,"name":"ctbench-a"}}
{"event":"netns_added","netns":{"inode":22,"nsid":2}}
{"event":"netns_added","netns":{"inode":33,"nsid":3,"name":"other"}}
{"event":"new","netns":{"inode":44,"nsid":4,"name":"ctbench-c"}}
{"event":"netns_added","netns":{"inode":55,"nsid":5,"na`
	got := netnsAdded([]byte(out), map[string]uint64{"ctbench-a": 11, "ctbench-b": 22, "ctbench-c": 44})
	want := map[string]bool{"ctbench-a": true, "ctbench-b": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("netnsAdded (-want +got):\n%s", diff)
	}
}
