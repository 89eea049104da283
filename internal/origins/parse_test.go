package origins

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// procNetNetlink is /proc/net/netlink of a namespace with one conntrack
// subscriber (protocol 12), as Linux 6.18 prints it.
const procNetNetlink = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000c1a28323 0   0          00000000 0        0        0     2        0        4       
0000000069f9b0e4 12  3891935553 0000000e 0        0        0     2        0        71203   
00000000a1c52d55 12  0          00000000 0        0        0     2        0        1444    
000000003de016fe 4   0          00000000 0        0        0     2        0        1440    
`

func TestParseNetlinkLine(t *testing.T) {
	tests := []struct {
		line   string
		want   netlinkSocket
		wantOK bool
	}{
		{
			line:   "0000000069f9b0e4 12  3891935553 0000000e 0        0        0     2        0        71203   ",
			want:   netlinkSocket{Protocol: 12, PortID: 3891935553, Inode: 71203},
			wantOK: true,
		},
		{line: "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode"},
		{line: ""},
		{line: "0000000069f9b0e4 12  3891935553 0000000e 0 0 0 2 0"},             // a field short
		{line: "0000000069f9b0e4 12  3891935553 0000000e 0 0 0 2 0 71203 extra"}, // a field long
		{line: "0000000069f9b0e4 12  4294967296 0000000e 0 0 0 2 0 71203"},       // port id overflows
		{line: "0000000069f9b0e4 x   1 0000000e 0 0 0 2 0 71203"},
		{line: "0000000069f9b0e4 12  1 0000000e 0 0 0 2 0 -1"},
	}
	for _, tt := range tests {
		got, ok := parseNetlinkLine(tt.line)
		if ok != tt.wantOK {
			t.Errorf("parseNetlinkLine(%q) ok = %v, want %v", tt.line, ok, tt.wantOK)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseNetlinkLine(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestParseNetlinkTable(t *testing.T) {
	want := map[uint32]uint64{3891935553: 71203, 0: 1444}
	if diff := cmp.Diff(want, parseNetlinkTable([]byte(procNetNetlink), 12)); diff != "" {
		t.Errorf("parseNetlinkTable (-want +got):\n%s", diff)
	}
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"socket:[71203]", 71203, true},
		{"socket:[]", 0, false},
		{"socket:[12", 0, false},
		{"pipe:[71203]", 0, false},
		{"/dev/null", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSocketLink(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseSocketLink(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseNetlinkLine(f *testing.F) {
	f.Add("0000000069f9b0e4 12  3891935553 0000000e 0        0        0     2        0        71203   ")
	f.Add("sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		s, ok := parseNetlinkLine(line)
		if !ok {
			return
		}
		// What parses must survive being printed as the kernel does.
		again, ok := parseNetlinkLine(fmt.Sprintf("%016x %-3d %-10d %08x %-8d %-8d %-5d %-8d %-8d %-8d",
			0, s.Protocol, s.PortID, 0, 0, 0, 0, 2, 0, s.Inode))
		if !ok || again != s {
			t.Errorf("reparse of %+v: %+v, %v", s, again, ok)
		}
	})
}

func FuzzParseSocketLink(f *testing.F) {
	f.Add("socket:[71203]")
	f.Add("socket:[007]")
	f.Add("pipe:[1]")
	f.Fuzz(func(t *testing.T, s string) {
		ino, ok := parseSocketLink(s)
		if !ok {
			return
		}
		// Only leading zeros may differ from the canonical form.
		num := strings.TrimSuffix(strings.TrimPrefix(s, "socket:["), "]")
		if strings.TrimLeft(num, "0") != strings.TrimLeft(strconv.FormatUint(ino, 10), "0") {
			t.Errorf("parseSocketLink(%q) = %d", s, ino)
		}
	})
}
