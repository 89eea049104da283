package model_test

import (
	"testing"
	"time"

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

func TestAppendTextAllocs(t *testing.T) {
	ev := fullEvent()
	o := &model.TextOptions{Layer3: true, Timestamp: true, ID: true, KTimestamp: true, Labels: true, LabelNames: testNames(t), Location: time.UTC}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = model.AppendText(buf[:0], &ev, o)
	})
	if allocs != 0 {
		t.Errorf("AppendText allocates %v times, want 0", allocs)
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
