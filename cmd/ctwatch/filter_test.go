package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctwatch/ctwatch/internal/filter"
)

// TestFilterFlags: every filter flag, conntrack's spellings and the
// optional and repeated values land in the Spec.
func TestFilterFlags(t *testing.T) {
	tests := []struct {
		args []string
		want filter.Spec
	}{
		{nil, filter.Spec{}},
		{[]string{"--orig-src", "10.0.0.1", "--orig-dst=10.0.0.2", "--orig-port-src", "1", "--orig-port-dst", "2"},
			filter.Spec{Src: "10.0.0.1", Dst: "10.0.0.2", SPort: "1", DPort: "2"}},
		{[]string{"--reply-src", "1.1.1.1", "--reply-dst", "2.2.2.2", "--reply-sport", "3", "--reply-port-dst", "4"},
			filter.Spec{ReplySrc: "1.1.1.1", ReplyDst: "2.2.2.2", ReplySPort: "3", ReplyDPort: "4"}},
		{[]string{"--reply-port-src", "5", "--reply-dport", "6"}, filter.Spec{ReplySPort: "5", ReplyDPort: "6"}},
		{[]string{"--src", "10.0.0.0", "--mask-src", "255.0.0.0", "--dst", "::1", "--mask-dst", "ffff::"},
			filter.Spec{Src: "10.0.0.0", MaskSrc: "255.0.0.0", Dst: "::1", MaskDst: "ffff::"}},
		{[]string{"--src-nat"}, filter.Spec{SrcNAT: true}},
		{[]string{"--src-nat", "--dst-nat"}, filter.Spec{SrcNAT: true, DstNAT: true}},
		{[]string{"--src-nat=1.2.3.4", "--dst-nat", "5.6.7.8:80"}, filter.Spec{SrcNATAddr: "1.2.3.4", DstNATAddr: "5.6.7.8:80"}},
		{[]string{"--any-nat", "[2001:db8::1]:53", "--proto", "udp"}, filter.Spec{AnyNATAddr: "[2001:db8::1]:53", Proto: "udp"}},
		{[]string{"-any-nat", "--proto", "udp"}, filter.Spec{AnyNAT: true, Proto: "udp"}},
		{[]string{"--label", "red", "--label", "blue,green"}, filter.Spec{Label: "red,blue,green"}},
		{[]string{"--orig-key-src", "1", "--orig-key-dst", "2", "--reply-key-src", "3", "--reply-key-dst", "4"},
			filter.Spec{GRESrcKey: "1", GREDstKey: "2", GREReplySrcKey: "3", GREReplyDstKey: "4"}},
		{[]string{"--srckey", "5", "--dstkey", "6"}, filter.Spec{GRESrcKey: "5", GREDstKey: "6"}},
		{[]string{"--orig-vtag", "0x10", "--reply-vtag", "32"}, filter.Spec{OrigVtag: "0x10", ReplyVtag: "32"}},
		{[]string{"--role", "server"}, filter.Spec{Role: "server"}},
		{[]string{"--protonum", "udp"}, filter.Spec{Proto: "udp"}},
		{[]string{"--orig-zone", "1", "--reply-zone", "2", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "7", "--secmark", "0x10/0xf0"},
			filter.Spec{OrigZone: "1", ReplyZone: "2", ICMPType: "8", ICMPCode: "0", ICMPID: "7", Secmark: "0x10/0xf0"}},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("watch", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		spec := filterFlags(fs)
		if err := fs.Parse(joinOptionalValues(fs, tt.args)); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if fs.NArg() != 0 {
			t.Errorf("%q: arguments left: %q", tt.args, fs.Args())
		}
		if diff := cmp.Diff(tt.want, *spec, cmpopts.IgnoreUnexported(filter.Spec{})); diff != "" {
			t.Errorf("%q: Spec (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestJoinOptionalValues(t *testing.T) {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	filterFlags(fs)
	for _, tt := range []struct{ in, want []string }{
		{[]string{"--src-nat", "1.2.3.4"}, []string{"--src-nat=1.2.3.4"}},
		{[]string{"-dst-nat", "1.2.3.4", "--proto", "tcp"}, []string{"-dst-nat=1.2.3.4", "--proto", "tcp"}},
		{[]string{"--src-nat", "--proto", "tcp"}, []string{"--src-nat", "--proto", "tcp"}},
		{[]string{"--src-nat=1.2.3.4", "x"}, []string{"--src-nat=1.2.3.4", "x"}},
		{[]string{"--proto", "tcp", "--any-nat"}, []string{"--proto", "tcp", "--any-nat"}},
		{[]string{"--src", "1.2.3.4"}, []string{"--src", "1.2.3.4"}},
		{[]string{"--", "--src-nat", "1.2.3.4"}, []string{"--", "--src-nat", "1.2.3.4"}},
	} {
		if diff := cmp.Diff(tt.want, joinOptionalValues(fs, tt.in)); diff != "" {
			t.Errorf("joinOptionalValues(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestFilterUsageErrors: a bad filter value, a flag given under both its
// names and a label no table names are usage errors, each said once and
// naming its flag, before anything is opened.
func TestFilterUsageErrors(t *testing.T) {
	labels := filepath.Join(t.TempDir(), "connlabel.conf")
	if err := os.WriteFile(labels, []byte("0 red\n1 blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want []string // in the message
	}{
		{[]string{"--reply-src", "x", "--reply-sport", "70000", "--icmp-type", "256"}, []string{`--reply-src: "x"`, `--reply-sport: "70000"`, `--icmp-type: "256"`}},
		{[]string{"--mask-src", "255.0.0.0"}, []string{`--mask-src: "255.0.0.0"`}},
		{[]string{"--src-nat", "--any-nat"}, []string{`--any-nat`}},
		{[]string{"--src-nat", "1.2.3.4:"}, []string{`--src-nat: "1.2.3.4:"`}},
		{[]string{"--orig-src", "10.0.0.1", "--src", "10.0.0.2"}, []string{"--orig-src is --src"}},
		{[]string{"--reply-port-dst", "1", "--reply-dport", "1"}, []string{"--reply-port-dst is --reply-dport"}},
		{[]string{"--srckey", "1", "--orig-key-src", "1"}, []string{"--orig-key-src is --srckey"}},
		{[]string{"--proto", "tcp", "--protonum", "udp"}, []string{"--protonum is --proto"}},
		{[]string{"--reply-key-dst", "0x10000"}, []string{`--reply-key-dst: "0x10000"`}},
		{[]string{"--orig-vtag", "0x100000000"}, []string{`--orig-vtag: "0x100000000"`}},
		{[]string{"--role", "peer"}, []string{`--role: "peer"`}},
		{[]string{"--connlabel-file", labels, "--label", "red", "--label", "green"}, []string{`--label: "green"`}},
		{[]string{"--connlabel-file", labels, "--orig-zone", "x", "--secmark", "1/2"}, []string{`--orig-zone: "x"`, `--secmark: "1/2"`}},
	} {
		_, errOut, code := runCmd(t, append([]string{"watch"}, tt.args...)...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr:\n%s", tt.args, code, errOut)
		}
		for _, w := range tt.want {
			if strings.Count(errOut, w) != 1 {
				t.Errorf("%q: stderr does not say %q once:\n%s", tt.args, w, errOut)
			}
		}
	}
}

// TestOptionalValueHelp: help shows a flag whose value is optional as
// --name[=VALUE].
func TestOptionalValueHelp(t *testing.T) {
	out, _, code := runCmd(t, "help", "watch")
	for _, w := range []string{"\n  --src-nat[=ADDRS] ", "\n  --dst-nat[=ADDRS] ", "\n  --any-nat[=ADDRS] ", "\n  --label LABELS ", "\n  --reply-port-src PORTS "} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("help watch (exit %d) does not show %q", code, w)
		}
	}
}
