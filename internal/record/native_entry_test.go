package record_test

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// cmpOpts compares netip.Addr by value and time zones by name (both have
// unexported fields).
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

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
				model.FieldStart | model.FieldStop | model.FieldDeltaTime | model.FieldMaster,
			Timeout: 10, State: model.TCPTimeWait,
			Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed | model.StatusDstNAT | model.StatusDstNATDone,
			Orig:   model.Tuple{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), SrcPort: 40000, DstPort: 443, Zone: 1, Packets: 10, Bytes: 1000},
			Reply:  model.Tuple{Src: addr("2001:db8:0:0:0:0:0:3"), Dst: addr("2001:db8::1"), SrcPort: 8443, DstPort: 40000, Zone: 2, Packets: 8, Bytes: 9000},
			Master: model.Tuple{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), SrcPort: 39999, DstPort: 21}, MasterProto: model.ProtoTCP,
			Mark: 7, Secmark: 8, Secctx: "system_u:object_r:unlabeled_t:s0", Zone: 9, Use: 1, ID: 123, Helper: "ftp",
			Labels: []string{"0", "web"},
			Start:  time.Date(2026, 11, 22, 3, 35, 0, 0, time.UTC), Stop: time.Date(2026, 11, 22, 3, 36, 39, 0, time.UTC),
			DeltaTime: 99,
		},
	}
}

// sctpEvent is an SCTP entry with both verification tags, as the kernel
// sends it in a new or update event.
func sctpEvent() model.Event {
	return model.Event{Type: model.EventUpdate, Entry: model.Entry{Family: model.FamilyIPv4, Proto: model.ProtoSCTP,
		Fields:  model.FieldTimeout | model.FieldState | model.FieldOrigVtag | model.FieldReplyVtag,
		Timeout: 210, State: model.SCTPEstablished, Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed,
		Orig:     model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 5000, DstPort: 36412},
		Reply:    model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), SrcPort: 36412, DstPort: 5000},
		OrigVtag: 0xdeadbeef, ReplyVtag: 7}}
}

// dccpEvent is a DCCP entry with its role.
func dccpEvent() model.Event {
	return model.Event{Type: model.EventNew, Entry: model.Entry{Family: model.FamilyIPv4, Proto: model.ProtoDCCP,
		Fields:   model.FieldState | model.FieldDCCPRole,
		State:    model.DCCPRequest,
		Orig:     model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 5001, DstPort: 9},
		Reply:    model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), SrcPort: 9, DstPort: 5001},
		DCCPRole: model.DCCPRoleServer}}
}

func TestEventJSON(t *testing.T) {
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
			want: `{"time":"2026-11-22T03:36:39.123456789Z","event":"destroy","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv6","proto":"tcp","protonum":6,"timeout":10,"state":"TIME_WAIT",` +
				`"orig":{"src":"2001:db8::1","dst":"2001:db8::2","sport":40000,"dport":443,"zone":1,"packets":10,"bytes":1000},` +
				`"reply":{"src":"2001:db8::3","dst":"2001:db8::1","sport":8443,"dport":40000,"zone":2,"packets":8,"bytes":9000},` +
				`"master":{"src":"2001:db8::1","dst":"2001:db8::2","sport":39999,"dport":21},"community_id":"1:RYG3Msb11GthNt1OYXJouPzmrvA=",` +
				`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED","CONFIRMED","DST_NAT","DST_NAT_DONE"],` +
				`"mark":7,"secmark":8,"secctx":"system_u:object_r:unlabeled_t:s0","zone":9,"use":1,"id":123,"helper":"ftp","labels":["0","web"],` +
				`"start":"2026-11-22T03:35:00.000000000Z","stop":"2026-11-22T03:36:39.000000000Z","delta_time":99,` +
				`"origin":{"portid":4242,"pid":4242,"program":"conntrack"}}` + "\n",
		},
		{
			name: "icmpv6 event: time with whole microseconds, no optional keys",
			ev:   icmp,
			want: `{"time":"2026-11-22T03:36:39.887116000Z","event":"new","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv6","proto":"icmpv6","protonum":58,"timeout":30,` +
				`"orig":{"src":"::1","dst":"::1","type":128,"code":0,"id":2232},"reply":{"src":"::1","dst":"::1","type":129,"code":0,"id":2232},"community_id":"1:gwUCjL48AExQFC0IDZx6AU/nkEk=",` +
				`"unreplied":true,"assured":false,"status":[],"id":2711846847}` + "\n",
		},
		{
			name: "master of another protocol names it",
			ev: model.Event{Type: model.EventNew, Entry: model.Entry{Family: model.FamilyIPv4, Proto: model.ProtoUDP,
				Fields: model.FieldMaster,
				Orig:   model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 16384, DstPort: 16386},
				Reply:  model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), SrcPort: 16386, DstPort: 16384},
				Master: model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 5061, DstPort: 5060}, MasterProto: model.ProtoTCP}},
			want: `{"event":"new","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"udp","protonum":17,` +
				`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":16384,"dport":16386},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":16386,"dport":16384},` +
				`"master":{"src":"10.0.0.1","dst":"10.0.0.2","sport":5061,"dport":5060,"proto":"tcp"},"community_id":"1:QxtacA+Rj3ja/qyk2Camy76sXXw=",` +
				`"unreplied":true,"assured":false,"status":[]}` + "\n",
		},
		{
			name: "master of an unknown protocol names it by number",
			ev: model.Event{Type: model.EventNew, Entry: model.Entry{Family: model.FamilyIPv4, Proto: model.ProtoTCP,
				Fields: model.FieldMaster,
				Orig:   model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 1, DstPort: 2},
				Reply:  model.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), SrcPort: 2, DstPort: 1},
				Master: model.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2")}, MasterProto: 253}},
			want: `{"event":"new","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"tcp","protonum":6,` +
				`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":1,"dport":2},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":2,"dport":1},` +
				`"master":{"src":"10.0.0.1","dst":"10.0.0.2","proto":"253"},"community_id":"1:nsF+CyuHj+gRdemh9jH9fNbMK+U=",` +
				`"unreplied":true,"assured":false,"status":[]}` + "\n",
		},
		{
			name: "sctp: the verification tags",
			ev:   sctpEvent(),
			want: `{"event":"update","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"sctp","protonum":132,"timeout":210,"state":"ESTABLISHED",` +
				`"orig_vtag":3735928559,"reply_vtag":7,` +
				`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":5000,"dport":36412},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":36412,"dport":5000},"community_id":"1:Clopn7tm8BdTzHmm6mQh6Tk9JW4=",` +
				`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED","CONFIRMED"]}` + "\n",
		},
		{
			name: "dccp: the role",
			ev:   dccpEvent(),
			want: `{"event":"new","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"dccp","protonum":33,"state":"REQUEST","role":"server",` +
				`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":5001,"dport":9},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":9,"dport":5001},"community_id":"1:qKfrGVs14/VI2wLMVfhXXHfa6a0=",` +
				`"unreplied":true,"assured":false,"status":[]}` + "\n",
		},
		{
			name: "unknown protocol is named by number",
			ev:   unknown,
			want: `{"event":"snapshot","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"253","protonum":253,"timeout":599,` +
				`"orig":{"src":"10.0.0.1","dst":"10.0.0.2"},"reply":{"src":"10.0.0.2","dst":"10.0.0.1"},"community_id":"1:9JGvaJKbyhma+x6M/Vp6P7CK7ro=",` +
				`"unreplied":false,"assured":false,"status":["SEEN_REPLY"]}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(encodeJSON(&tt.ev))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			back, err := record.ParseJSON([]byte(got))
			if err != nil {
				t.Fatalf("ParseJSON: %v", err)
			}
			if diff := cmp.Diff(tt.ev, back, cmpOpts); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEntryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("zerolog's event pool drops items at random under the race detector")
	}
	ev := fullEvent()
	enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(io.Discard)})
	allocs := testing.AllocsPerRun(1000, func() {
		enc.Entry(&ev, nil)
	})
	// Labels go through zerolog's Strs, which does not allocate either.
	if allocs != 0 {
		t.Errorf("encoding an event allocates %v times, want 0", allocs)
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	ev := fullEvent()
	enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(io.Discard)})
	b.ReportAllocs()
	for b.Loop() {
		enc.Entry(&ev, nil)
	}
}
