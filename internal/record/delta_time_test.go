package record_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestSetDeltaTime(t *testing.T) {
	start := time.Date(2026, 11, 22, 3, 0, 0, 900_000_000, time.UTC)
	now := start.Add(90 * time.Second)
	tests := []struct {
		name string
		in   model.Entry
		want model.Entry
	}{
		{
			name: "no start: untouched",
			in:   model.Entry{},
			want: model.Entry{},
		},
		{
			name: "live: now - start in whole seconds of each",
			in:   model.Entry{Fields: model.FieldStart, Start: start},
			// 03:01:30.9 - 03:00:00.9, truncated each: 90.
			want: model.Entry{Fields: model.FieldStart | model.FieldDeltaTime, Start: start, DeltaTime: 90},
		},
		{
			name: "whole seconds truncated separately, as conntrack does",
			in:   model.Entry{Fields: model.FieldStart | model.FieldStop, Start: start, Stop: start.Add(200 * time.Millisecond)},
			// stop 03:00:01.1 → 1 s after the start's whole second.
			want: model.Entry{Fields: model.FieldStart | model.FieldStop | model.FieldDeltaTime, Start: start, Stop: start.Add(200 * time.Millisecond), DeltaTime: 1},
		},
		{
			name: "destroyed: stop - start",
			in:   model.Entry{Fields: model.FieldStart | model.FieldStop, Start: start, Stop: start.Add(10 * time.Second)},
			want: model.Entry{Fields: model.FieldStart | model.FieldStop | model.FieldDeltaTime, Start: start, Stop: start.Add(10 * time.Second), DeltaTime: 10},
		},
		{
			name: "clock behind the start: 0",
			in:   model.Entry{Fields: model.FieldStart, Start: now.Add(time.Hour)},
			want: model.Entry{Fields: model.FieldStart | model.FieldDeltaTime, Start: now.Add(time.Hour)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			record.SetDeltaTime(&got, now)
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("SetDeltaTime (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppendText checks that the text form gives entries with a start time
// their age, as conntrack-tools prints it, and ends the line.
func TestAppendText(t *testing.T) {
	start := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	enc := record.New(record.Config{Clock: func() time.Time { return start.Add(42 * time.Second) }})
	tests := []struct {
		name, line, want string
	}{
		{
			name: "no start time: as parsed",
			line: "[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] use=1",
			want: "[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] use=1\n",
		},
		{
			name: "start time: its age as of the clock",
			line: "[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] [start=Sun Nov 22 03:00:00 2026] use=1",
			want: "[1795318599.902978]\t    [NEW] ipv4     2 tcp      6 100 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 [ASSURED] delta-time=42 [start=Sun Nov 22 03:00:00 2026] use=1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, form, err := model.ParseText(tt.line, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(enc.AppendText(nil, &ev, &form))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
