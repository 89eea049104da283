package model_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// fullEvent carries every field of the model.
func fullEvent() model.Event {
	return model.Event{
		Type:   model.EventDestroy,
		Time:   time.Date(2026, 11, 22, 3, 36, 39, 123456789, time.UTC),
		Origin: model.Origin{PortID: 4242, PID: 4242, Program: "conntrack"},
		Entry: model.Entry{
			Family: model.FamilyIPv6, Proto: model.ProtoTCP,
			Fields: model.FieldTimeout | model.FieldState | model.FieldOrigCounters | model.FieldReplyCounters |
				model.FieldOrigZone | model.FieldReplyZone | model.FieldMark | model.FieldSecmark | model.FieldSecctx |
				model.FieldZone | model.FieldUse | model.FieldID | model.FieldHelper | model.FieldLabels |
				model.FieldStart | model.FieldStop | model.FieldDeltaTime,
			Timeout: 10, State: model.TCPTimeWait,
			Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed | model.StatusDstNAT | model.StatusDstNATDone,
			Orig:   model.Tuple{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), SrcPort: 40000, DstPort: 443, Zone: 1, Packets: 10, Bytes: 1000},
			Reply:  model.Tuple{Src: addr("2001:db8:0:0:0:0:0:3"), Dst: addr("2001:db8::1"), SrcPort: 8443, DstPort: 40000, Zone: 2, Packets: 8, Bytes: 9000},
			Mark:   7, Secmark: 8, Secctx: "system_u:object_r:unlabeled_t:s0", Zone: 9, Use: 1, ID: 123, Helper: "ftp",
			Labels: []string{"0", "web"},
			Start:  time.Date(2026, 11, 22, 3, 35, 0, 0, time.UTC), Stop: time.Date(2026, 11, 22, 3, 36, 39, 0, time.UTC),
			DeltaTime: 99,
		},
	}
}

func TestMarshalJSON(t *testing.T) {
	icmp, _, err := model.ParseText("[1795318599.887116]\t    [NEW] ipv6     10 icmpv6   58 30 src=::1 dst=::1 type=128 code=0 id=2232 [UNREPLIED] src=::1 dst=::1 type=129 code=0 id=2232 id=2711846847", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	unknown, _, err := model.ParseText("unknown  253 599 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ev   model.Event
		want string
	}{
		{
			name: "every field",
			ev:   fullEvent(),
			want: `{"time":"2026-11-22T03:36:39.123456789Z","event":"destroy","family":"ipv6","proto":"tcp","protonum":6,"timeout":10,"state":"TIME_WAIT",` +
				`"orig":{"src":"2001:db8::1","dst":"2001:db8::2","sport":40000,"dport":443,"zone":1,"packets":10,"bytes":1000},` +
				`"reply":{"src":"2001:db8::3","dst":"2001:db8::1","sport":8443,"dport":40000,"zone":2,"packets":8,"bytes":9000},` +
				`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED","CONFIRMED","DST_NAT","DST_NAT_DONE"],` +
				`"mark":7,"secmark":8,"secctx":"system_u:object_r:unlabeled_t:s0","zone":9,"use":1,"id":123,"helper":"ftp","labels":["0","web"],` +
				`"start":"2026-11-22T03:35:00.000000000Z","stop":"2026-11-22T03:36:39.000000000Z","delta_time":99,` +
				`"origin":{"portid":4242,"pid":4242,"program":"conntrack"}}` + "\n",
		},
		{
			name: "icmpv6 event: time with whole microseconds, no optional keys",
			ev:   icmp,
			want: `{"time":"2026-11-22T03:36:39.887116000Z","event":"new","family":"ipv6","proto":"icmpv6","protonum":58,"timeout":30,` +
				`"orig":{"src":"::1","dst":"::1","type":128,"code":0,"id":2232},"reply":{"src":"::1","dst":"::1","type":129,"code":0,"id":2232},` +
				`"unreplied":true,"assured":false,"status":[],"id":2711846847}` + "\n",
		},
		{
			name: "unknown protocol is named by number",
			ev:   unknown,
			want: `{"event":"snapshot","family":"ipv4","proto":"253","protonum":253,"timeout":599,` +
				`"orig":{"src":"10.0.0.1","dst":"10.0.0.2"},"reply":{"src":"10.0.0.2","dst":"10.0.0.1"},` +
				`"unreplied":false,"assured":false,"status":["SEEN_REPLY"]}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(encodeJSON(&tt.ev))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			back, err := model.ParseJSON([]byte(got))
			if err != nil {
				t.Fatalf("ParseJSON: %v", err)
			}
			if diff := cmp.Diff(tt.ev, back, cmpOpts); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalJSONAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("zerolog's event pool drops items at random under the race detector")
	}
	ev := fullEvent()
	log := zerolog.New(io.Discard)
	allocs := testing.AllocsPerRun(1000, func() {
		log.Info().EmbedObject(&ev).Send()
	})
	// Labels go through zerolog's Strs, which does not allocate either.
	if allocs != 0 {
		t.Errorf("encoding an event allocates %v times, want 0", allocs)
	}
}

func TestAppendTextAllocs(t *testing.T) {
	ev := fullEvent()
	o := &model.TextOptions{Layer3: true, Timestamp: true, ID: true, KTimestamp: true, Location: time.UTC}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = model.AppendText(buf[:0], &ev, o)
	})
	if allocs != 0 {
		t.Errorf("AppendText allocates %v times, want 0", allocs)
	}
}

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
			_, err := model.ParseJSON([]byte(tt.record))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.notEv {
				if !errors.Is(err, model.ErrNotEntryRecord) {
					t.Errorf("error %v, want ErrNotEntryRecord", err)
				}
				return
			}
			var je *model.JSONError
			if !errors.As(err, &je) {
				t.Fatalf("error %v (%T), want a *JSONError", err, err)
			}
			if je.Field != tt.field {
				t.Errorf("error %q names field %q, want %q", err, je.Field, tt.field)
			}
		})
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	ev := fullEvent()
	log := zerolog.New(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		log.Info().EmbedObject(&ev).Send()
	}
}

func BenchmarkAppendText(b *testing.B) {
	ev := fullEvent()
	o := &model.TextOptions{Timestamp: true, ID: true}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = model.AppendText(buf[:0], &ev, o)
	}
}

func BenchmarkParseText(b *testing.B) {
	const line = "[1795318599.872711]\t [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=58912 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=58912 [ASSURED] id=2381161218"
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := model.ParseText(line, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAppendJSONTime checks the hand-written formatter against the
// standard library's.
func FuzzAppendJSONTime(f *testing.F) {
	f.Add(int64(1795318599), int64(872460000))
	f.Add(int64(0), int64(0))
	f.Add(int64(-62135596800), int64(1))         // year 1
	f.Add(int64(253402300799), int64(999999999)) // 9999-12-31T23:59:59
	f.Add(int64(253402300800), int64(0))         // year 10000: the fallback
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec%1e9)
		want := `"` + tm.UTC().Format(model.JSONTimeLayout) + `"`
		if got := string(model.AppendJSONTime(nil, tm)); got != want {
			t.Errorf("AppendJSONTime(%v) = %s, want %s", tm, got, want)
		}
	})
}

func BenchmarkAppendJSONTime(b *testing.B) {
	tm := time.Date(2026, 11, 22, 3, 36, 39, 123456789, time.UTC)
	var buf [40]byte
	for b.Loop() {
		model.AppendJSONTime(buf[:0], tm)
	}
}
