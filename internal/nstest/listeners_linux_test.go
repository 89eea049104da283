//go:build integration

package nstest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A table as the kernel prints it: an rtnetlink socket, a ctnetlink request
// socket (no groups), conntrack -E (NEW, UPDATE, DESTROY: 0x7), an
// expectation-only listener (EXP_NEW: 0x8) and an nftables monitor (group 7,
// NFNLGRP_NFTABLES: 0x40), which does not count, and a line cut short.
const netlinkTable = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
ffff8f0c41a3c000 0   1          00000551 0        0        0     2        0        1100
ffff8f0c41a3c800 12  4026531    00000000 0        0        0     2        0        1200
ffff8f0c41a3d000 12  777        00000007 2176     0        0     2        3        1300
ffff8f0c41a3d800 12  4294963196 00000008 0        0        0     2        0        1400
ffff8f0c41a3e000 12  900        00000040 0        0        0     2        0        1500
ffff8f0c41a3e800 12  901        00000007 0
`

func TestParseListeners(t *testing.T) {
	tests := []struct {
		name  string
		table string
		want  []Listener
	}{
		{
			name:  "kernel table",
			table: netlinkTable,
			want: []Listener{
				{NetNS: "here", PortID: 777, Groups: 0x7, Inode: 1300},
				{NetNS: "here", PortID: 4294963196, Groups: 0x8, Inode: 1400},
			},
		},
		{name: "header only", table: "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n"},
		{name: "empty"},
		{
			name:  "groups not hexadecimal",
			table: "ffff8f0c41a3d800 12  4100       0000000x 0        0        0     2        0        1400\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseListeners(tt.table, "here")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseListeners (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseListeners(f *testing.F) {
	f.Add(netlinkTable)
	f.Add("ffff 12 1 ffffffff 0 0 0 0 0 1\n")
	f.Fuzz(func(t *testing.T, table string) {
		for _, l := range parseListeners(table, "here") {
			if l.Groups&conntrackGroups == 0 {
				t.Errorf("listener without a conntrack group: %+v", l)
			}
		}
	})
}
