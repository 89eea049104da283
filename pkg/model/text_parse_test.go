package model_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// cmpOpts compares netip.Addr by value and time zones by name (both have
// unexported fields).
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseText(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		want     model.Event
		wantForm model.TextOptions
	}{
		{
			// The iptables tutorial's line really combines [UNREPLIED]
			// and [ASSURED].
			name: "tutorial SYN_SENT unreplied and assured",
			line: "tcp      6 117 SYN_SENT src=192.168.1.6 dst=192.168.1.9 sport=32775 dport=22 [UNREPLIED] src=192.168.1.9 dst=192.168.1.6 sport=22 dport=32775 [ASSURED] use=2",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoTCP,
				Fields:  model.FieldTimeout | model.FieldState | model.FieldUse,
				Timeout: 117, State: model.TCPSynSent, Status: model.StatusAssured,
				Orig:  model.Tuple{Src: addr("192.168.1.6"), Dst: addr("192.168.1.9"), SrcPort: 32775, DstPort: 22},
				Reply: model.Tuple{Src: addr("192.168.1.9"), Dst: addr("192.168.1.6"), SrcPort: 22, DstPort: 32775},
				Use:   2,
			}},
		},
		{
			name: "ESTABLISHED with counters, mark and secmark",
			line: "tcp 6 431999 ESTABLISHED src=192.168.100.50 dst=192.168.10.11 sport=62856 dport=22 packets=2107 bytes=129391 src=192.168.10.11 dst=192.168.100.50 sport=22 dport=62856 packets=2254 bytes=161844 [ASSURED] mark=0 secmark=0 use=1",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoTCP,
				Fields: model.FieldTimeout | model.FieldState | model.FieldOrigCounters | model.FieldReplyCounters |
					model.FieldMark | model.FieldSecmark | model.FieldUse,
				Timeout: 431999, State: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured,
				Orig:  model.Tuple{Src: addr("192.168.100.50"), Dst: addr("192.168.10.11"), SrcPort: 62856, DstPort: 22, Packets: 2107, Bytes: 129391},
				Reply: model.Tuple{Src: addr("192.168.10.11"), Dst: addr("192.168.100.50"), SrcPort: 22, DstPort: 62856, Packets: 2254, Bytes: 161844},
				Use:   1,
			}},
		},
		{
			name: "proc ipv6 zero-padded with zone and delta-time",
			line: "ipv6     10 udp      17 29 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=60248 dport=53 packets=1 bytes=50 [UNREPLIED] src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=53 dport=60248 packets=0 bytes=0 mark=0 zone=0 delta-time=0 use=2",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv6, Proto: model.ProtoUDP,
				Fields: model.FieldTimeout | model.FieldOrigCounters | model.FieldReplyCounters |
					model.FieldMark | model.FieldZone | model.FieldDeltaTime | model.FieldUse,
				Timeout: 29,
				Orig:    model.Tuple{Src: addr("::1"), Dst: addr("::1"), SrcPort: 60248, DstPort: 53, Packets: 1, Bytes: 50},
				Reply:   model.Tuple{Src: addr("::1"), Dst: addr("::1"), SrcPort: 53, DstPort: 60248},
				Use:     2,
			}},
			wantForm: model.TextOptions{Layer3: true, ExpandIPv6: true},
		},
		{
			name: "event with timestamp, id and userspace origin",
			line: "[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] mark=5 zone=7 id=1956469791 [USERSPACE] portid=2236 progname=conntrack",
			want: model.Event{
				Type:   model.EventNew,
				Time:   time.Unix(1795318599, 902978000).UTC(),
				Origin: model.Origin{PortID: 2236, Program: "conntrack"},
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoTCP,
					Fields:  model.FieldTimeout | model.FieldState | model.FieldMark | model.FieldZone | model.FieldID,
					Timeout: 100, State: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured,
					Orig:  model.Tuple{Src: addr("1.1.1.1"), Dst: addr("2.2.2.2"), SrcPort: 1, DstPort: 2},
					Reply: model.Tuple{Src: addr("2.2.2.2"), Dst: addr("1.1.1.1"), SrcPort: 2, DstPort: 1},
					Mark:  5, Zone: 7, ID: 1956469791,
				},
			},
			wantForm: model.TextOptions{Layer3: true, Timestamp: true, ID: true},
		},
		{
			name: "icmp with ktimestamp",
			line: "ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=2233 packets=1 bytes=84 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=2233 packets=1 bytes=84 mark=0 delta-time=0 [start=Sun Nov 22 03:36:39 2026] use=1 id=2634545575",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoICMP,
				Fields: model.FieldTimeout | model.FieldOrigCounters | model.FieldReplyCounters | model.FieldMark |
					model.FieldDeltaTime | model.FieldStart | model.FieldUse | model.FieldID,
				Timeout: 29, Status: model.StatusSeenReply,
				Orig:  model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), ICMPType: 8, ICMPID: 2233, Packets: 1, Bytes: 84},
				Reply: model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), ICMPType: 0, ICMPID: 2233, Packets: 1, Bytes: 84},
				Start: time.Date(2026, 11, 22, 3, 36, 39, 0, time.UTC),
				Use:   1, ID: 2634545575,
			}},
			wantForm: model.TextOptions{Layer3: true, ID: true, KTimestamp: true},
		},
		{
			name: "gre keys, directional zones, helper, labels, offload",
			line: "gre      47 179 src=10.0.0.1 dst=10.0.0.2 srckey=0x1 dstkey=0xbeef zone-orig=3 src=10.0.0.2 dst=10.0.0.1 srckey=0xbeef dstkey=0x1 zone-reply=4 [HW_OFFLOAD] mark=1 secctx=system_u:object_r:unlabeled_t:s0 helper=pptp use=1 labels=0,5",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoGRE,
				Fields: model.FieldTimeout | model.FieldOrigZone | model.FieldReplyZone | model.FieldMark |
					model.FieldSecctx | model.FieldHelper | model.FieldUse | model.FieldLabels,
				Timeout: 179, Status: model.StatusSeenReply | model.StatusHWOffload,
				Orig:  model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 1, DstPort: 0xbeef, Zone: 3},
				Reply: model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), SrcPort: 0xbeef, DstPort: 1, Zone: 4},
				Mark:  1, Secctx: "system_u:object_r:unlabeled_t:s0", Helper: "pptp", Use: 1, Labels: []string{"0", "5"},
			}},
			wantForm: model.TextOptions{Labels: true},
		},
		{
			name: "labels none of which conntrack's connlabel.conf names",
			line: "udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=1 dport=2 src=127.0.0.1 dst=127.0.0.1 sport=2 dport=1 use=1 labels",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoUDP,
				Fields:  model.FieldTimeout | model.FieldUse | model.FieldLabels,
				Timeout: 29, Status: model.StatusSeenReply,
				Orig:  model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), SrcPort: 1, DstPort: 2},
				Reply: model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), SrcPort: 2, DstPort: 1},
				Use:   1,
			}},
			wantForm: model.TextOptions{Labels: true},
		},
		{
			name: "unknown protocol and a program name with spaces",
			line: "[DESTROY] unknown  253 599 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 [USERSPACE] portid=77 progname=Web Content",
			want: model.Event{
				Type:   model.EventDestroy,
				Origin: model.Origin{PortID: 77, Program: "Web Content"},
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: 253, Fields: model.FieldTimeout, Timeout: 599,
					Status: model.StatusSeenReply,
					Orig:   model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2")},
					Reply:  model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1")},
				},
			},
		},
		{
			name: "sctp state and an offloaded entry without timeout",
			line: "ipv4     2 sctp     132 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=6000 src=10.0.0.2 dst=10.0.0.1 sport=6000 dport=5000 [OFFLOAD] mark=0 zone=0 use=2",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoSCTP,
				Fields: model.FieldState | model.FieldMark | model.FieldZone | model.FieldUse,
				State:  model.SCTPEstablished, Status: model.StatusSeenReply | model.StatusOffload,
				Orig:  model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 5000, DstPort: 6000},
				Reply: model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), SrcPort: 6000, DstPort: 5000},
				Use:   2,
			}},
			wantForm: model.TextOptions{Layer3: true},
		},
		{
			name: "CRLF line ending",
			line: "udp      17 30 src=127.0.0.1 dst=127.0.0.1 sport=50732 dport=694 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=694 dport=50732\r\n",
			want: model.Event{Type: model.EventSnapshot, Entry: model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoUDP, Fields: model.FieldTimeout, Timeout: 30,
				Orig:  model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), SrcPort: 50732, DstPort: 694},
				Reply: model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), SrcPort: 694, DstPort: 50732},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, form, err := model.ParseText(tt.line, time.UTC)
			if err != nil {
				t.Fatalf("ParseText: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			tt.wantForm.Location = time.UTC
			if diff := cmp.Diff(tt.wantForm, form, cmpOpts); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTextErrors(t *testing.T) {
	const good = "tcp      6 117 SYN_SENT src=192.168.1.6 dst=192.168.1.9 sport=32775 dport=22 [UNREPLIED] src=192.168.1.9 dst=192.168.1.6 sport=22 dport=32775 use=2"
	tests := []struct {
		name   string
		line   string
		column int
		field  string
	}{
		{"not a protocol", "bad line here", 1, "proto"},
		{"protocol number mismatch", "udp 6 30 src=1.1.1.1 dst=1.1.1.1 sport=1 dport=2 src=1.1.1.1 dst=1.1.1.1 sport=2 dport=1", 1, "proto"},
		{"bad protocol number", "tcp six", 5, "protonum"},
		{"timeout too large", "udp 17 99999999999 src=1.1.1.1", 8, "timeout"},
		{"unknown tcp state", "tcp      6 117 SYN_SNT src=1.1.1.1", 16, "state"},
		{"timeout not a number", "udp 17 2x src=1.1.1.1", 8, "timeout"},
		{"negative timeout before a state", "tcp 6 -5 ESTABLISHED src=1.1.1.1", 7, "timeout"},
		{"port out of range", "tcp 6 117 SYN_SENT src=1.1.1.1 dst=2.2.2.2 sport=70000 dport=22", 44, "orig.sport"},
		{"bad address", "tcp 6 117 SYN_SENT src=1.1.1 dst=2.2.2.2", 20, "orig.src"},
		{"family mismatch", "tcp 6 117 SYN_SENT src=1.1.1.1 dst=::1", 32, "orig.dst"},
		{"layer-3 number mismatch", "ipv4     10 tcp 6", 10, "family"},
		{"reply tuple missing", "tcp 6 117 SYN_SENT src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2", 59, "reply.src"},
		{"counters without bytes", "tcp 6 1 SYN_SENT src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 packets=1 src=2.2.2.2", 68, "orig.bytes"},
		{"mark twice", good + " mark=1 mark=2", len(good) + 9, "mark"},
		{"unknown field", good + " colour=blue", len(good) + 2, "colour"},
		{"stray token", good + " hello", len(good) + 2, ""},
		{"bad event timestamp", "[12.x]\t    [NEW] tcp 6", 1, "time"},
		{"bad ktimestamp", good + " [start=yesterday]", len(good) + 2, "start"},
		{"portid zero", good + " [USERSPACE] portid=0", len(good) + 14, "origin.portid"},
		{"empty", "", 1, "proto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := model.ParseText(tt.line, time.UTC)
			var se *model.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseText(%q) error = %v, want a *SyntaxError", tt.line, err)
			}
			got := struct {
				Column int
				Field  string
			}{se.Column, se.Field}
			want := struct {
				Column int
				Field  string
			}{tt.column, tt.field}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestIsSkippable(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"", true},
		{"   \t", true},
		{"# command: conntrack -E", true},
		{"conntrack v1.4.7 (conntrack-tools): 24 flow events have been shown.", true},
		{"conntrack v1.4.6 (conntrack-tools): 3 flow entries have been shown.", true},
		{"tcp      6 117 SYN_SENT src=1.1.1.1", false},
		{"conntrack is not a line", false},
		{"conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.", true},
		{"conntrack v1.4.7 (conntrack-tools): Operation failed: such conntrack doesn't exist", false},
	}
	for _, tt := range tests {
		if got := model.IsSkippable(tt.line); got != tt.want {
			t.Errorf("IsSkippable(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

// TestSyntaxErrorQuoteBounded: a long bad token is quoted by its first
// 100 bytes and its length, not whole.
func TestSyntaxErrorQuoteBounded(t *testing.T) {
	tests := []struct {
		tok, want string
	}{
		{"short", `column 1: field proto: unknown: "short"`},
		{strings.Repeat("x", 100), `column 1: field proto: unknown: "` + strings.Repeat("x", 100) + `"`},
		{strings.Repeat("x", 64<<10), `column 1: field proto: unknown: "` + strings.Repeat("x", 100) + `"... (65536 bytes)`},
	}
	for _, tt := range tests {
		got := (&model.SyntaxError{Column: 1, Field: "proto", Token: tt.tok, Msg: "unknown"}).Error()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Error() of a %d-byte token (-want +got):\n%s", len(tt.tok), diff)
		}
	}
}
