package filter

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// This file tests the flags taken from conntrack -E: reply direction, NAT,
// labels, per-direction zones, ICMP, secmark and address masks.

// natDone are the status bits every entry that went through the NAT hooks
// has, NATed or not (a null binding); text lines do not carry them.
const natDone = model.StatusSrcNATDone | model.StatusDstNATDone

// ctCorpus are entries for the conntrack -E flags, with the status bits
// text cannot carry.
var ctCorpus = []struct {
	name, line string
	status     model.Status
}{
	{"snat", "tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=93.184.216.34 sport=51000 dport=443 src=93.184.216.34 dst=203.0.113.7 sport=443 dport=51000 [ASSURED] use=1", natDone},
	{"snat-pat", "udp      17 29 src=10.0.0.6 dst=8.8.8.8 sport=4000 dport=53 src=8.8.8.8 dst=203.0.113.7 sport=53 dport=61000 use=1", natDone},
	{"dnat-pat", "udp      17 29 src=10.0.0.9 dst=198.51.100.1 sport=5000 dport=53 src=10.1.1.1 dst=10.0.0.9 sport=5353 dport=5000 use=1", natDone},
	{"spat6", "ipv6     10 tcp      6 100 ESTABLISHED src=2001:db8::10 dst=2001:db8::20 sport=1000 dport=80 src=2001:db8::20 dst=2001:db8::10 sport=80 dport=61000 [ASSURED] use=1", natDone},
	{"snat6", "ipv6     10 udp      17 30 src=fd00::1 dst=2001:db8::53 sport=1000 dport=53 src=2001:db8::53 dst=2001:db8::ff sport=53 dport=1000 use=1", natDone},
	// Tuples that differ without NAT (as IPVS leaves them): not NAT for
	// conntrack, whose IS_SNAT and IS_DNAT want the NAT_DONE bits.
	{"nat-not-done", "tcp      6 100 ESTABLISHED src=10.9.0.1 dst=10.9.0.2 sport=1 dport=2 src=10.9.0.3 dst=10.9.0.1 sport=2 dport=1 use=1", 0},
	{"null-binding", "tcp      6 100 ESTABLISHED src=10.8.0.1 dst=10.8.0.2 sport=3000 dport=22 src=10.8.0.2 dst=10.8.0.1 sport=22 dport=3000 zone-reply=9 secmark=7 labels=red,blue use=1", natDone},
	{"icmp-nat", "icmp     1 29 src=192.168.1.7 dst=8.8.4.4 type=8 code=0 id=100 src=8.8.4.4 dst=203.0.113.7 type=0 code=0 id=200 use=1", natDone},
	{"icmp6-echo", "ipv6     10 icmpv6   58 29 src=2001:db8::1 dst=2001:db8::9 type=128 code=0 id=55 [UNREPLIED] src=2001:db8::9 dst=2001:db8::1 type=129 code=0 id=55 secmark=16 zone=4 labels=3 use=1", natDone},
	{"tcp-zones", "tcp      6 120 SYN_SENT src=172.16.0.1 dst=172.16.0.2 sport=1234 dport=8080 zone-orig=7 [UNREPLIED] src=172.16.0.2 dst=172.16.0.1 sport=8080 dport=1234 zone-reply=8 use=1", 0},
	{"gre-keys", "gre      47 179 src=10.3.0.1 dst=10.3.0.2 srckey=0x10 dstkey=0x20 src=10.3.0.2 dst=10.3.0.1 srckey=0x30 dstkey=0x10 use=1", 0},
}

// testLabels is the --connlabel-file table of the tests.
func testLabels(t testing.TB) *model.LabelNames {
	t.Helper()
	var n model.LabelNames
	for bit, name := range []string{"red", "blue", "green"} {
		if !n.Add(bit, name) {
			t.Fatalf("Add(%d, %q)", bit, name)
		}
	}
	return &n
}

func ctEvents(t testing.TB) []model.Event {
	t.Helper()
	evs := make([]model.Event, len(ctCorpus))
	for i, c := range ctCorpus {
		evs[i] = parseCorpusLine(t, c.name, c.line)
		evs[i].Entry.Status |= c.status
	}
	return evs
}

// ctName names the entries of ctEvents.
func ctName(i int) string { return ctCorpus[i].name }

func TestMatchConntrackFlags(t *testing.T) {
	evs := ctEvents(t)
	v4 := []string{"snat", "snat-pat", "dnat-pat", "nat-not-done", "null-binding", "icmp-nat", "tcp-zones", "gre-keys"}
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"reply-src host", Spec{ReplySrc: "93.184.216.34"}, []string{"snat"}},
		{"reply-src ORed", Spec{ReplySrc: "8.8.8.8, 8.8.4.4"}, []string{"snat-pat", "icmp-nat"}},
		{"reply-src prefix", Spec{ReplySrc: "10.0.0.0/8"}, []string{"dnat-pat", "nat-not-done", "null-binding", "gre-keys"}},
		{"reply-src v6 prefix", Spec{ReplySrc: "2001:db8::/32"}, []string{"spat6", "snat6", "icmp6-echo"}},
		{"reply-src not orig src", Spec{ReplySrc: "10.0.0.5"}, nil},
		{"reply-dst", Spec{ReplyDst: "203.0.113.7"}, []string{"snat", "snat-pat", "icmp-nat"}},
		{"reply-dst v6", Spec{ReplyDst: "2001:db8::ff"}, []string{"snat6"}},
		{"reply-dst v4 prefix never v6", Spec{ReplyDst: "0.0.0.0/0"}, v4},
		{"reply-sport", Spec{ReplySPort: "53"}, []string{"snat-pat", "snat6"}},
		{"reply-sport NATed port", Spec{ReplySPort: "5353"}, []string{"dnat-pat"}},
		{"reply-sport never icmp", Spec{ReplySPort: "0-65535"}, []string{"snat", "snat-pat", "dnat-pat", "spat6", "snat6", "nat-not-done", "null-binding", "tcp-zones"}},
		{"reply-dport", Spec{ReplyDPort: "61000"}, []string{"snat-pat", "spat6"}},
		{"reply-dport range", Spec{ReplyDPort: "1-1000"}, []string{"snat6", "nat-not-done"}},
		{"reply ports ANDed", Spec{ReplySPort: "53", ReplyDPort: "61000"}, []string{"snat-pat"}},

		{"src-nat", Spec{SrcNAT: true}, []string{"snat", "snat-pat", "spat6", "snat6", "icmp-nat"}},
		{"dst-nat", Spec{DstNAT: true}, []string{"dnat-pat"}},
		{"any-nat", Spec{AnyNAT: true}, []string{"snat", "snat-pat", "dnat-pat", "spat6", "snat6", "icmp-nat"}},
		{"src-nat and dst-nat ANDed", Spec{SrcNAT: true, DstNAT: true}, nil},
		{"src-nat address", Spec{SrcNATAddr: "203.0.113.7"}, []string{"snat", "snat-pat", "icmp-nat"}},
		{"src-nat address and port", Spec{SrcNATAddr: "203.0.113.7:61000"}, []string{"snat-pat"}},
		{"src-nat prefix and range", Spec{SrcNATAddr: "203.0.113.0/24:60000-62000"}, []string{"snat-pat"}},
		{"src-nat icmp id", Spec{SrcNATAddr: "203.0.113.7:200"}, []string{"icmp-nat"}},
		{"src-nat v6", Spec{SrcNATAddr: "2001:db8::ff"}, []string{"snat6"}},
		{"src-nat v6 brackets", Spec{SrcNATAddr: "[2001:db8::ff]"}, []string{"snat6"}},
		{"src-nat port without address NAT", Spec{SrcNATAddr: "[2001:db8::10]:61000"}, nil},
		{"src-nat v4 never v6", Spec{SrcNATAddr: "0.0.0.0/0"}, []string{"snat", "snat-pat", "icmp-nat"}},
		{"dst-nat address", Spec{DstNATAddr: "10.1.1.1"}, []string{"dnat-pat"}},
		{"dst-nat address and port", Spec{DstNATAddr: "10.1.1.1:5353"}, []string{"dnat-pat"}},
		{"dst-nat wrong port", Spec{DstNATAddr: "10.1.1.1:53"}, nil},
		{"dst-nat not the original dst", Spec{DstNATAddr: "198.51.100.1"}, nil},
		{"any-nat addresses", Spec{AnyNATAddr: "203.0.113.7,10.1.1.1"}, []string{"snat", "snat-pat", "dnat-pat", "icmp-nat"}},
		{"nat and reply-dst", Spec{SrcNAT: true, ReplyDst: "2001:db8::/32"}, []string{"spat6", "snat6"}},

		{"label", Spec{Label: "red"}, []string{"null-binding"}},
		{"label all required", Spec{Label: "red,blue"}, []string{"null-binding"}},
		{"label all required missing", Spec{Label: "red,green"}, nil},
		{"label by bit", Spec{Label: "blue,0"}, []string{"null-binding"}},
		{"label unnamed bit", Spec{Label: "3"}, []string{"icmp6-echo"}},

		{"orig-zone", Spec{OrigZone: "7"}, []string{"tcp-zones"}},
		{"orig-zone 0", Spec{OrigZone: "0"}, []string{"snat", "snat-pat", "dnat-pat", "spat6", "snat6", "nat-not-done", "null-binding", "icmp-nat", "gre-keys"}},
		{"orig-zone not reply", Spec{OrigZone: "9"}, nil},
		{"reply-zone", Spec{ReplyZone: "9,8"}, []string{"null-binding", "tcp-zones"}},
		{"zones for both directions", Spec{OrigZone: "4", ReplyZone: "4"}, []string{"icmp6-echo"}},
		{"orig-zone and reply-zone ANDed", Spec{OrigZone: "7", ReplyZone: "9"}, nil},

		{"icmp-type", Spec{ICMPType: "8"}, []string{"icmp-nat"}},
		{"icmp-type ORed", Spec{ICMPType: "128,8"}, []string{"icmp-nat", "icmp6-echo"}},
		{"icmp-type is the original's", Spec{ICMPType: "0,129"}, nil},
		{"icmp-code never port protocols", Spec{ICMPCode: "0"}, []string{"icmp-nat", "icmp6-echo"}},
		{"icmp-id", Spec{ICMPID: "55"}, []string{"icmp6-echo"}},
		{"icmp-id is the original's", Spec{ICMPID: "200"}, nil},
		{"icmp flags ANDed", Spec{ICMPType: "8", ICMPID: "100"}, []string{"icmp-nat"}},

		{"srckey", Spec{GRESrcKey: "0x10"}, []string{"gre-keys"}},
		{"srckey decimal ORed", Spec{GRESrcKey: "1,16"}, []string{"gre-keys"}},
		{"srckey is the original's", Spec{GRESrcKey: "0x30"}, nil},
		{"dstkey", Spec{GREDstKey: "32"}, []string{"gre-keys"}},
		{"reply keys", Spec{GREReplySrcKey: "0x30", GREReplyDstKey: "0x10"}, []string{"gre-keys"}},
		{"reply key not the original's", Spec{GREReplyDstKey: "0x20"}, nil},
		{"keys never ports", Spec{GRESrcKey: "1000"}, nil},

		{"secmark", Spec{Secmark: "7"}, []string{"null-binding"}},
		{"secmark 0 is none", Spec{Secmark: "0"}, []string{"snat", "snat-pat", "dnat-pat", "spat6", "snat6", "nat-not-done", "icmp-nat", "tcp-zones", "gre-keys"}},
		{"secmark mask", Spec{Secmark: "0x10/0x10"}, []string{"icmp6-echo"}},

		{"mask-src", Spec{Src: "10.0.0.0", MaskSrc: "255.0.0.0"}, []string{"snat", "snat-pat", "dnat-pat", "nat-not-done", "null-binding", "gre-keys"}},
		{"mask-src masks the address", Spec{Src: "10.1.2.3", MaskSrc: "255.0.0.0"}, []string{"snat", "snat-pat", "dnat-pat", "nat-not-done", "null-binding", "gre-keys"}},
		{"mask-src non-contiguous", Spec{Src: "10.0.0.1", MaskSrc: "255.0.0.255"}, []string{"nat-not-done", "null-binding", "gre-keys"}},
		{"mask-src v6", Spec{Src: "2001:db8::", MaskSrc: "ffff:ffff::"}, []string{"spat6", "icmp6-echo"}},
		{"mask-src v6 non-contiguous", Spec{Src: "::10", MaskSrc: "::ffff"}, []string{"spat6"}},
		{"mask-src one family, prefix other", Spec{Src: "10.0.0.1,2001:db8::/32", MaskSrc: "255.0.0.255"}, []string{"spat6", "nat-not-done", "null-binding", "icmp6-echo", "gre-keys"}},
		{"mask-dst", Spec{Dst: "8.8.0.0", MaskDst: "255.255.0.0"}, []string{"snat-pat", "icmp-nat"}},
		{"mask-dst non-contiguous", Spec{Dst: "0.0.0.2", MaskDst: "0.0.0.255"}, []string{"nat-not-done", "null-binding", "tcp-zones", "gre-keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.LabelNames = testLabels(t)
			f, err := New(tt.spec)
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.spec, err)
			}
			if f.Empty() {
				t.Errorf("%s is Empty", f)
			}
			if diff := cmp.Diff(tt.want, matching(f, evs, ctName)); diff != "" {
				t.Errorf("%s matches (-want +got):\n%s", f, diff)
			}
			checkRoundTrip(t, tt.spec, evs)
		})
	}
}

func TestStringConntrackFlags(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{ReplySrc: "10.0.0.1/8,::1", ReplyDst: "1.2.3.4/32"}, "--reply-src=10.0.0.0/8,::1 --reply-dst=1.2.3.4"},
		{Spec{ReplySPort: "2,1,3-5", ReplyDPort: "80"}, "--reply-sport=1-5 --reply-dport=80"},
		{Spec{Src: "10.1.2.3", MaskSrc: "255.255.0.0"}, "--src=10.1.0.0/16"},
		{Spec{Src: "10.1.2.3,10.9.2.3", MaskSrc: "255.0.255.0"}, "--src=10.0.2.0 --mask-src=255.0.255.0"},
		{Spec{Dst: "2001:db8::1,10.0.0.0/8", MaskDst: "::ffff"}, "--dst=10.0.0.0/8,::1 --mask-dst=::ffff"},
		{Spec{SrcNAT: true}, "--src-nat"},
		{Spec{SrcNAT: true, SrcNATAddr: "1.2.3.4"}, "--src-nat=1.2.3.4"},
		{Spec{DstNAT: true, SrcNATAddr: "[2001:db8::1]:80,1.2.3.0/24:1-9,1.2.3.4"}, "--src-nat=1.2.3.0/24:1-9,1.2.3.4,[2001:db8::1]:80 --dst-nat"},
		{Spec{AnyNATAddr: "2001:db8::/32"}, "--any-nat=2001:db8::/32"},
		{Spec{Label: "green,red,0,3"}, "--label=red,green,3"},
		{Spec{OrigZone: "3,1", ReplyZone: "0"}, "--orig-zone=1,3 --reply-zone=0"},
		{Spec{ICMPType: "8,0,08", ICMPCode: "3", ICMPID: "7,1"}, "--icmp-type=0,8 --icmp-code=3 --icmp-id=1,7"},
		{Spec{Secmark: "16,0x1/1"}, "--secmark=0x1/0x1,0x10"},
		{Spec{GRESrcKey: "16,0x10,1", GREDstKey: "0", GREReplySrcKey: "0xffff", GREReplyDstKey: "2"}, "--srckey=0x1,0x10 --dstkey=0x0 --reply-key-src=0xffff --reply-key-dst=0x2"},
	}
	for _, tt := range tests {
		tt.spec.LabelNames = testLabels(t)
		f, err := New(tt.spec)
		if err != nil {
			t.Fatalf("New(%+v): %v", tt.spec, err)
		}
		if diff := cmp.Diff(tt.want, f.String()); diff != "" {
			t.Errorf("New(%+v).String() (-want +got):\n%s", tt.spec, diff)
		}
		checkRoundTrip(t, tt.spec, ctEvents(t))
	}
}

func TestNewErrorsConntrackFlags(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []FlagError
	}{
		{"reply addresses", Spec{ReplySrc: "x,10.0.0.1", ReplyDst: "1.2.3.4/40"}, []FlagError{{Flag: "--reply-src", Item: "x"}, {Flag: "--reply-dst", Item: "1.2.3.4/40"}}},
		{"reply ports", Spec{ReplySPort: "70000", ReplyDPort: "9-1"}, []FlagError{{Flag: "--reply-sport", Item: "70000"}, {Flag: "--reply-dport", Item: "9-1"}}},
		{"mask without src", Spec{MaskSrc: "255.0.0.0"}, []FlagError{{Flag: "--mask-src", Item: "255.0.0.0"}}},
		{"mask of the other family", Spec{Dst: "10.0.0.1", MaskDst: "ffff::"}, []FlagError{{Flag: "--mask-dst", Item: "ffff::"}}},
		{"mask not an address", Spec{Src: "10.0.0.1", MaskSrc: "24,fe80::%eth0,::ffff:255.0.0.0"}, []FlagError{{Flag: "--mask-src", Item: "24"}, {Flag: "--mask-src", Item: "fe80::%eth0"}, {Flag: "--mask-src", Item: "::ffff:255.0.0.0"}}},
		{"two masks of a family", Spec{Src: "10.0.0.1", MaskSrc: "255.0.0.0,255.255.0.0"}, []FlagError{{Flag: "--mask-src", Item: "255.255.0.0"}}},
		{"mask and prefix", Spec{Src: "10.0.0.0/8", MaskSrc: "255.255.0.0"}, []FlagError{{Flag: "--mask-src", Item: "255.255.0.0"}}},
		{"nat items", Spec{SrcNATAddr: "1.2.3.4:,[::1,1.2.3.4:x,[::1]80,[]:1,host", DstNATAddr: "1.2.3.4:9-1"}, []FlagError{
			{Flag: "--src-nat", Item: "1.2.3.4:"}, {Flag: "--src-nat", Item: "[::1"}, {Flag: "--src-nat", Item: "1.2.3.4:x"},
			{Flag: "--src-nat", Item: "[::1]80"}, {Flag: "--src-nat", Item: "[]:1"}, {Flag: "--src-nat", Item: "host"},
			{Flag: "--dst-nat", Item: "1.2.3.4:9-1"},
		}},
		{"any-nat with src-nat", Spec{SrcNAT: true, AnyNAT: true}, []FlagError{{Flag: "--any-nat", Item: ""}}},
		{"any-nat with dst-nat", Spec{DstNATAddr: "1.2.3.4", AnyNATAddr: "5.6.7.8"}, []FlagError{{Flag: "--any-nat", Item: "5.6.7.8"}}},
		{"label", Spec{Label: "red,purple,128,-1,Red"}, []FlagError{{Flag: "--label", Item: "purple"}, {Flag: "--label", Item: "128"}, {Flag: "--label", Item: "-1"}, {Flag: "--label", Item: "Red"}}},
		{"zones", Spec{OrigZone: "65536", ReplyZone: "x"}, []FlagError{{Flag: "--orig-zone", Item: "65536"}, {Flag: "--reply-zone", Item: "x"}}},
		{"icmp", Spec{ICMPType: "256", ICMPCode: "-1", ICMPID: "65536,0x1"}, []FlagError{{Flag: "--icmp-type", Item: "256"}, {Flag: "--icmp-code", Item: "-1"}, {Flag: "--icmp-id", Item: "65536"}, {Flag: "--icmp-id", Item: "0x1"}}},
		{"secmark", Spec{Secmark: "1/2,x"}, []FlagError{{Flag: "--secmark", Item: "1/2"}, {Flag: "--secmark", Item: "x"}}},
		{"gre keys", Spec{GRESrcKey: "0x10000", GREDstKey: "x", GREReplySrcKey: "-1", GREReplyDstKey: "010_0"}, []FlagError{
			{Flag: "--srckey", Item: "0x10000"}, {Flag: "--dstkey", Item: "x"}, {Flag: "--reply-key-src", Item: "-1"}, {Flag: "--reply-key-dst", Item: "010_0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.LabelNames = testLabels(t)
			f, err := New(tt.spec)
			if err == nil {
				t.Fatalf("New(%+v) = %s, want an error", tt.spec, f)
			}
			if diff := cmp.Diff(tt.want, flagErrors(t, err)); diff != "" {
				t.Errorf("New(%+v) errors (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}

// TestLabelWithoutTable: without a connlabel table only bit numbers name
// labels, and they match entries whose labels are written by number.
func TestLabelWithoutTable(t *testing.T) {
	if _, err := New(Spec{Label: "red"}); err == nil {
		t.Error(`New(--label red) without a table: no error`)
	}
	f, err := New(Spec{Label: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"icmp6-echo"}, matching(f, ctEvents(t), ctName)); diff != "" {
		t.Errorf("%s matches (-want +got):\n%s", f, diff)
	}
	if got := f.labels[0].bit; got != 3 {
		t.Errorf("compiled bit = %d, want 3", got)
	}
}

// TestEmptyConntrackFlags: each new flag alone makes the filter non-empty.
func TestEmptyConntrackFlags(t *testing.T) {
	for _, spec := range []Spec{
		{ReplySrc: "::/0"}, {ReplyDst: "::/0"}, {ReplySPort: "0-65535"}, {ReplyDPort: "1"},
		{Src: "10.0.0.1", MaskSrc: "255.0.0.255"}, {Dst: "10.0.0.1", MaskDst: "255.0.0.255"},
		{SrcNAT: true}, {DstNAT: true}, {AnyNAT: true}, {SrcNATAddr: "::/0"},
		{Label: "0"}, {OrigZone: "0"}, {ReplyZone: "0"}, {ICMPType: "0"}, {ICMPCode: "0"}, {ICMPID: "0"}, {Secmark: "0/0"},
		{GRESrcKey: "0"}, {GREDstKey: "0"}, {GREReplySrcKey: "0"}, {GREReplyDstKey: "0"},
	} {
		f, err := New(spec)
		if err != nil {
			t.Fatalf("New(%+v): %v", spec, err)
		}
		if f.Empty() {
			t.Errorf("New(%+v) is Empty", spec)
		}
	}
}

func TestMatchConntrackFlagsAllocs(t *testing.T) {
	evs := append(events(t), ctEvents(t)...)
	spec := Spec{
		ReplySrc: "10.0.0.0/8,2001:db8::/32", ReplyDPort: "1-65535", Src: "10.0.0.1,::1", MaskSrc: "255.0.0.255,::ffff",
		AnyNATAddr: "203.0.113.0/24,[2001:db8::ff]:53", Label: "red,3", LabelNames: testLabels(t),
		OrigZone: "0,4", ReplyZone: "0,9", ICMPType: "8,128", ICMPID: "55,100", Secmark: "0/0xff00",
	}
	keys := Spec{GRESrcKey: "0x10", GREReplySrcKey: "0x30,0x31"}
	for _, s := range []Spec{spec, keys, {SrcNAT: true, DstNAT: true}, {ICMPCode: "0", Label: "blue", LabelNames: spec.LabelNames}} {
		f, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		checkMatchAllocs(t, f, evs)
	}
}

func FuzzNewConntrackFlags(f *testing.F) {
	f.Add("10.0.0.1,::1", "255.0.0.255", "", "10.0.0.0/8", "", "53", "1-2", "", "", "203.0.113.7:80,[::1]:1", "", "red,3", "0", "9", "8", "0", "55", "0x10/0x10", "0x10", "16", "0xdeadbeef,7", "", "", true, false, false)
	f.Add("2001:db8::", "ffff:ffff::", "1.2.3.4", "", "::1", "", "", "0.0.0.2", "0.0.0.255", "", "1.2.3.4", "", "", "", "", "", "", "", "", "", "", "4294967295", "", false, true, false)
	f.Add("10.0.0.0/8", "255.255.0.0", "", "", "", "", "", "", "", "", "", "purple", "65536", "", "256", "", "", "1/2", "0x10000", "x", "4294967296", "0x", "CLIENT,server", false, false, true)
	f.Add("", "", "", "", "", "", "", "", "::ffff", "[::1", "1.2.3.4:", "", "", "", "", "", "", "", "", "", "1", "", "client,2", true, true, true)
	evs := append(append(events(f), ctEvents(f)...), vtagEvents()...)
	names := testLabels(f)
	flagNames := []string{flagSrc, flagDst, flagReplySrc, flagReplyDst, flagReplySPort, flagReplyDPort, flagMaskSrc, flagMaskDst,
		flagSrcNAT, flagDstNAT, flagAnyNAT, flagLabel, flagOrigZone, flagReplyZone, flagICMPType, flagICMPCode, flagICMPID, flagSecmark, flagSrcKey, flagReplyDKey,
		flagOrigVtag, flagReplyVtag, flagRole}
	f.Fuzz(func(t *testing.T, src, maskSrc, replySrc, replyDst, replySPort, replyDPort, anyNATAddr, dst, maskDst,
		srcNAT, dstNAT, label, origZone, replyZone, icmpType, icmpCode, icmpID, secmark, srcKey, replyDstKey,
		origVtag, replyVtag, role string, srcNATOn, dstNATOn, anyNAT bool) {
		spec := Spec{
			OrigVtag: origVtag, ReplyVtag: replyVtag, Role: role,
			Src: src, MaskSrc: maskSrc, Dst: dst, MaskDst: maskDst, ReplySrc: replySrc, ReplyDst: replyDst,
			ReplySPort: replySPort, ReplyDPort: replyDPort, AnyNATAddr: anyNATAddr,
			SrcNAT: srcNATOn, DstNAT: dstNATOn, SrcNATAddr: srcNAT, DstNATAddr: dstNAT, AnyNAT: anyNAT,
			Label: label, LabelNames: names, OrigZone: origZone, ReplyZone: replyZone,
			ICMPType: icmpType, ICMPCode: icmpCode, ICMPID: icmpID, Secmark: secmark,
			GRESrcKey: srcKey, GREReplyDstKey: replyDstKey,
		}
		checkFuzzSpec(t, spec, evs, flagNames)
	})
}
