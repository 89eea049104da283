package record_test

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestParseJSONErrors(t *testing.T) {
	const base = `"family":"ipv4","proto":"tcp","protonum":6,"orig":{"src":"1.1.1.1","dst":"2.2.2.2","sport":1,"dport":2},"reply":{"src":"2.2.2.2","dst":"1.1.1.1","sport":2,"dport":1}`
	tests := []struct {
		name   string
		record string
		field  string
		notEv  bool
	}{
		{"not json", `{"event":`, "", false},
		{"gap record", `{"level":"warn","event":"gap","lost":3}`, "", true},
		{"missing event", `{` + base + `}`, "event", false},
		{"bad port type", `{"event":"new",` + base[:len(base)-1] + `,"x":1},"timeout":"soon"}`, "timeout", false},
		{"proto mismatch", `{"event":"new","family":"ipv4","proto":"udp","protonum":6}`, "proto", false},
		{"bad state", `{"event":"new",` + base + `,"state":"OPEN"}`, "state", false},
		{"family mismatch", `{"event":"new","family":"ipv6","protonum":6,"orig":{"src":"1.1.1.1"},"reply":{}}`, "orig.src", false},
		{"gre timeouts on tcp", `{"event":"new",` + base + `,"gre_timeout":30,"gre_stream_timeout":180}`, "gre_timeout", false},
		{"missing dport", `{"event":"new","family":"ipv4","protonum":6,"orig":{"src":"1.1.1.1","dst":"2.2.2.2","sport":1},"reply":{}}`, "orig.dport", false},
		{"unknown status bit", `{"event":"new",` + base + `,"status":["SEEN_REPLY","SHINY"]}`, "status", false},
		{"unreplied contradicts status", `{"event":"new",` + base + `,"status":["SEEN_REPLY"],"unreplied":true}`, "unreplied", false},
		{"packets without bytes", `{"event":"new","family":"ipv4","protonum":17,"orig":{"src":"1.1.1.1","dst":"2.2.2.2","sport":1,"dport":2,"packets":1},"reply":{"src":"1.1.1.1","dst":"2.2.2.2","sport":1,"dport":2}}`, "orig.packets", false},
		{"kernel origin", `{"event":"new",` + base + `,"origin":{"portid":0,"program":"x"}}`, "origin.portid", false},
		{"bad time", `{"event":"new","time":"yesterday",` + base + `}`, "time", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := record.ParseJSON([]byte(tt.record))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.notEv {
				if !errors.Is(err, record.ErrNotEntryRecord) {
					t.Errorf("error %v, want ErrNotEntryRecord", err)
				}
				return
			}
			var je *record.JSONError
			if !errors.As(err, &je) {
				t.Fatalf("error %v (%T), want a *JSONError", err, err)
			}
			if je.Field != tt.field {
				t.Errorf("error %q names field %q, want %q", err, je.Field, tt.field)
			}
		})
	}
}

// seedTextLines are handpicked seeds for the fuzzers (copied from
// pkg/model's); the captured lines are added as well.
var seedTextLines = []string{
	"tcp      6 117 SYN_SENT src=192.168.1.6 dst=192.168.1.9 sport=32775 dport=22 [UNREPLIED] src=192.168.1.9 dst=192.168.1.6 sport=22 dport=32775 [ASSURED] use=2",
	"gre      47 179 src=10.0.0.1 dst=10.0.0.2 srckey=0x1 dstkey=0xbeef zone-orig=3 src=10.0.0.2 dst=10.0.0.1 srckey=0xbeef dstkey=0x1 zone-reply=4 [HW_OFFLOAD] mark=1 secctx=a helper=pptp use=1 labels=0,5",
	"[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] mark=5 zone=7 id=1956469791 [USERSPACE] portid=2236 progname=conntrack",
	"ipv6     10 udp      17 29 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=60248 dport=53 [UNREPLIED] src=::1 dst=::1 sport=53 dport=60248 mark=0 zone=0 delta-time=0 use=2",
	"ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=2233 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=2233 [start=Sun Nov 22 03:36:39 2026] [stop=Sun Nov 22 03:37:09 2026] use=1 id=1",
	"[DESTROY] unknown  253 599 src=::102:304 dst=::ffff:1.2.3.4 src=::1 dst=::1 [USERSPACE] portid=77 progname=Web Content",
}

// FuzzTextJSON checks that every event the text codec parses survives the
// native schema: text → model → JSON → model is the identity, up to the
// strings JSON cannot carry.
func FuzzTextJSON(f *testing.F) {
	for _, s := range seedTextLines {
		f.Add(s)
	}
	for _, lines := range captureLines(f) {
		for _, l := range lines {
			f.Add(l.text)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		ev, _, err := model.ParseText(line, time.UTC)
		if err != nil {
			return
		}
		js := encodeJSON(&ev)
		got, err := record.ParseJSON(js)
		if err != nil {
			t.Fatalf("JSON of a parsed line does not parse: %v\n%s", err, js)
		}
		if diff := cmp.Diff(jsonSafe(ev), got, cmpOpts); diff != "" {
			t.Fatalf("text → JSON → model changed the event (-text +json):\n%s", diff)
		}
	})
}

// FuzzParseJSON checks that any record ParseJSON accepts encodes back to a
// record that parses to the same event.
func FuzzParseJSON(f *testing.F) {
	for _, s := range seedTextLines {
		ev, _, err := model.ParseText(s, time.UTC)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeJSON(&ev))
	}
	f.Add([]byte(`{"event":"gap","lost":3}`))
	f.Add([]byte(`{"event":"new","family":"ipv4","protonum":6,"orig":{},"reply":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := record.ParseJSON(data)
		if err != nil {
			return
		}
		js := encodeJSON(&ev)
		ev2, err := record.ParseJSON(js)
		if err != nil {
			t.Fatalf("re-encoded record does not parse: %v\ninput  %s\noutput %s", err, data, js)
		}
		if diff := cmp.Diff(ev, ev2, cmpOpts); diff != "" {
			t.Fatalf("JSON round trip changed the event (-first +second):\n%s", diff)
		}
	})
}

// jsonSafe returns ev with its strings as JSON carries them: JSON strings are
// UTF-8, and the encoder replaces each byte of an invalid sequence with
// U+FFFD.
func jsonSafe(ev model.Event) model.Event {
	fix := func(s string) string {
		if utf8.ValidString(s) {
			return s
		}
		var b []byte
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r)
			i += n
		}
		return string(b)
	}
	ev.Origin.Program = fix(ev.Origin.Program)
	ev.Entry.Secctx = fix(ev.Entry.Secctx)
	ev.Entry.Helper = fix(ev.Entry.Helper)
	if ev.Entry.Labels != nil {
		labels := make([]string, len(ev.Entry.Labels))
		for i, l := range ev.Entry.Labels {
			labels[i] = fix(l)
		}
		ev.Entry.Labels = labels
	}
	return ev
}
