package record_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// scanSummary is the summary of a scan's interval, ending at end: 1995
// flows beyond the burst, to as many destinations, the busiest with ports
// of TCP, UDP, ICMP (type 8, code 0) and GRE, and IPv6.
func scanSummary(end time.Time) flow.UnrepliedSummary {
	return flow.UnrepliedSummary{Time: end, Since: end.Add(-10 * time.Second), Flows: 1995, Destinations: 1990,
		Top: []flow.DestinationCount{
			{Proto: model.ProtoTCP, Addr: addr("10.0.0.9"), Port: 443, Flows: 4},
			{Proto: model.ProtoUDP, Addr: addr("10.0.0.9"), Port: 53, Flows: 2},
			{Proto: model.ProtoICMP, Zone: 3, Addr: addr("192.0.2.1"), Port: 8 << 8, Flows: 1},
			{Proto: model.ProtoGRE, Addr: addr("192.0.2.2"), Port: 7, Flows: 1},
			{Proto: model.ProtoTCP, Addr: addr("2001:db8::1"), Port: 22, Flows: 1},
		},
		TopPorts: []flow.PortCount{
			{Proto: model.ProtoTCP, Port: 443, Flows: 1500},
			{Proto: model.ProtoUDP, Port: 53, Flows: 490},
			{Proto: model.ProtoICMP, Port: 8 << 8, Flows: 3},
		}}
}

// cappedSummary is a summary of more destinations than the tracker
// counts, all to one port.
func cappedSummary(end time.Time) flow.UnrepliedSummary {
	return flow.UnrepliedSummary{Time: end, Since: end.Add(-10 * time.Second), Flows: 100000, Destinations: 4096,
		DestinationsCapped: true,
		Top:                []flow.DestinationCount{{Proto: model.ProtoUDP, Addr: addr("10.1.2.3"), Port: 161, Flows: 1}},
		TopPorts:           []flow.PortCount{{Proto: model.ProtoUDP, Port: 161, Flows: 100000}}}
}

// TestNativeUnrepliedSummaryGolden pins the native summary records in
// testdata/native-golden (rewritten with -update).
func TestNativeUnrepliedSummaryGolden(t *testing.T) {
	now := flowStart.Add(time.Hour)
	tests := []struct {
		name string
		s    flow.UnrepliedSummary
	}{
		{"unreplied_summary", scanSummary(now)},
		{"unreplied_summary_capped", cappedSummary(now)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf), Clock: func() time.Time { return now }}).
				UnrepliedSummary(&tt.s)
			if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
				t.Fatalf("wrote %d records, want 1:\n%s", n, buf.Bytes())
			}
			path := filepath.Join("testdata", "native-golden", tt.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnrepliedFlows checks the promise a consumer relies on: every
// unreplied record of every schema carries flows, 1 for a warning and the
// count for a summary, at the same place in both.
func TestUnrepliedFlows(t *testing.T) {
	evs, _ := trackedFlow(model.TCPSynSent)
	u := flow.Unreplied{Entry: evs[0].Entry, Time: flowStart, FirstSeen: flowStart, Repeats: 1, RepeatsSince: flowStart}
	s := scanSummary(flowStart)
	paths := map[record.Schema][]string{
		record.Native: {"flows"},
		record.ECS:    {"conntrack", "unreplied_warning", "flows"},
		record.OCSF:   {"unmapped", "conntrack", "unreplied_warning", "flows"},
	}
	for schema, path := range paths {
		for _, tt := range []struct {
			name  string
			write func(*record.Encoder)
			want  int64
		}{
			{"warning", func(e *record.Encoder) { e.Unreplied(&u) }, 1},
			{"summary", func(e *record.Encoder) { e.UnrepliedSummary(&s) }, 1995},
		} {
			t.Run(schema.String()+"/"+tt.name, func(t *testing.T) {
				var buf bytes.Buffer
				tt.write(record.New(record.Config{Schema: schema, Run: testRun, Host: testHost, Log: zerolog.New(&buf)}))
				rec, err := decodeJSON(buf.Bytes())
				if err != nil {
					t.Fatalf("%v: %s", err, buf.Bytes())
				}
				var v any = rec
				for _, k := range path {
					m, ok := v.(map[string]any)
					if !ok {
						t.Fatalf("no %v in %s", path, buf.Bytes())
					}
					v = m[k]
				}
				if got, ok := asInt(v); !ok || got != tt.want {
					t.Errorf("%v = %v, want %v", path, v, tt.want)
				}
			})
		}
	}
}
