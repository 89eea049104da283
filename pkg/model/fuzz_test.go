package model_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// seedTextLines are handpicked seeds for the fuzzers; the captured lines are
// added as well.
var seedTextLines = []string{
	"tcp      6 117 SYN_SENT src=192.168.1.6 dst=192.168.1.9 sport=32775 dport=22 [UNREPLIED] src=192.168.1.9 dst=192.168.1.6 sport=22 dport=32775 [ASSURED] use=2",
	"gre      47 179 src=10.0.0.1 dst=10.0.0.2 srckey=0x1 dstkey=0xbeef zone-orig=3 src=10.0.0.2 dst=10.0.0.1 srckey=0xbeef dstkey=0x1 zone-reply=4 [HW_OFFLOAD] mark=1 secctx=a helper=pptp use=1 labels=0,5",
	"[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] mark=5 zone=7 id=1956469791 [USERSPACE] portid=2236 progname=conntrack",
	"ipv6     10 udp      17 29 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=60248 dport=53 [UNREPLIED] src=::1 dst=::1 sport=53 dport=60248 mark=0 zone=0 delta-time=0 use=2",
	"ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=2233 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=2233 [start=Sun Nov 22 03:36:39 2026] [stop=Sun Nov 22 03:37:09 2026] use=1 id=1",
	"[DESTROY] unknown  253 599 src=::102:304 dst=::ffff:1.2.3.4 src=::1 dst=::1 [USERSPACE] portid=77 progname=Web Content",
}

func addTextSeeds(f *testing.F) {
	for _, s := range seedTextLines {
		f.Add(s)
	}
	for _, lines := range captureLines(f) {
		for _, l := range lines {
			f.Add(l.text)
		}
	}
}

// FuzzParseText checks that parse → format → parse is the identity on the
// model, and that a line that parses prints back to a fixed point.
func FuzzParseText(f *testing.F) {
	addTextSeeds(f)
	f.Fuzz(func(t *testing.T, line string) {
		ev, form, err := model.ParseText(line, time.UTC)
		if err != nil {
			return
		}
		text := model.AppendText(nil, &ev, &form)
		ev2, form2, err := model.ParseText(string(text), time.UTC)
		if err != nil {
			t.Fatalf("formatted line does not parse: %v\ninput  %q\noutput %q", err, line, text)
		}
		if diff := cmp.Diff(ev, ev2, cmpOpts); diff != "" {
			t.Fatalf("parse → format → parse changed the event (-first +second):\n%s\ninput  %q\noutput %q", diff, line, text)
		}
		if diff := cmp.Diff(form, form2, cmpOpts); diff != "" {
			t.Fatalf("parse → format → parse changed the form (-first +second):\n%s\ninput  %q\noutput %q", diff, line, text)
		}
		if text2 := model.AppendText(nil, &ev2, &form2); !bytes.Equal(text, text2) {
			t.Fatalf("formatting is not a fixed point:\n%q\n%q", text, text2)
		}
	})
}
