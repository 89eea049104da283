package record_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
			checkGolden(t, filepath.Join("testdata", "native-golden", tt.name+".json"), buf.Bytes())
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

// FuzzUnrepliedSummary writes random summaries in every schema and checks
// that each is one valid JSON object whose flows is the summary's, and
// that its top and top_ports name every destination and port given, with
// their flows, in order; the OCSF record of a summary with destinations
// must also pass the OCSF reference.
func FuzzUnrepliedSummary(f *testing.F) {
	f.Add(uint8(6), []byte{10, 0, 0, 1}, uint16(443), uint16(0), uint64(1995), 1990, false, "node1", uint8(3))
	f.Add(uint8(1), []byte{10, 0, 0, 1}, uint16(8<<8|1), uint16(7), uint64(1), 1, true, "\xff\"\\", uint8(1))
	f.Add(uint8(58), []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), uint16(0x8000), uint16(65535),
		uint64(1<<63), 4096, true, "", uint8(5))
	f.Add(uint8(253), []byte{}, uint16(0), uint16(0), uint64(0), 0, false, "h\x00", uint8(0))
	f.Fuzz(func(t *testing.T, proto uint8, a []byte, port uint16, zone uint16, flows uint64, dests int, capped bool, host string, ntop uint8) {
		ref := loadOCSFRef(t)
		addr := netip.IPv4Unspecified()
		switch len(a) {
		case 4:
			addr = netip.AddrFrom4([4]byte(a))
		case 16:
			addr = netip.AddrFrom16([16]byte(a))
		}
		end := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
		s := flow.UnrepliedSummary{Time: end, Since: end.Add(-10 * time.Second), Flows: flows, Destinations: dests, DestinationsCapped: capped}
		for i := range int(ntop % (flow.SummaryTop + 1)) {
			s.Top = append(s.Top, flow.DestinationCount{Proto: model.Proto(proto), Zone: zone, Addr: addr, Port: port + uint16(i), Flows: flows / uint64(i+1)})
			s.TopPorts = append(s.TopPorts, flow.PortCount{Proto: model.Proto(proto), Port: port + uint16(i), Flows: flows / uint64(i+1)})
		}
		paths := map[record.Schema][]string{
			record.Native: nil,
			record.ECS:    {"conntrack", "unreplied_warning"},
			record.OCSF:   {"unmapped", "conntrack", "unreplied_warning"},
		}
		for schema, path := range paths {
			var buf bytes.Buffer
			record.New(record.Config{Schema: schema, Run: testRun, Host: host, Log: zerolog.New(&buf)}).UnrepliedSummary(&s)
			if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
				t.Fatalf("%s: %d records: %s", schema, n, buf.Bytes())
			}
			rec, err := decodeJSON(buf.Bytes())
			if err != nil {
				t.Fatalf("%s: %v: %s", schema, err, buf.Bytes())
			}
			// The tracker emits a summary only for flows, the first of
			// which is always among its destinations: one without any
			// has no endpoint for Network Activity to name.
			if schema == record.OCSF && len(s.Top) > 0 {
				if errs := ref.check(rec); len(errs) > 0 {
					t.Errorf("%s\n%s", strings.Join(errs, "\n"), buf.Bytes())
				}
			}
			m := rec
			for _, k := range path {
				m, _ = m[k].(map[string]any)
			}
			if got, _ := m["flows"].(json.Number); got.String() != strconv.FormatUint(flows, 10) {
				t.Errorf("%s: flows %v, want %d", schema, m["flows"], flows)
			}
			top, _ := m["top"].([]any)
			ports, _ := m["top_ports"].([]any)
			if len(top) != len(s.Top) || len(ports) != len(s.TopPorts) {
				t.Fatalf("%s: %d top, %d top_ports; want %d, %d", schema, len(top), len(ports), len(s.Top), len(s.TopPorts))
			}
			for i, d := range s.Top {
				e, _ := top[i].(map[string]any)
				if e["dst"] != addr.String() || e["flows"].(json.Number).String() != strconv.FormatUint(d.Flows, 10) {
					t.Errorf("%s: top[%d] = %v, want %s with %d flows", schema, i, e, addr, d.Flows)
				}
			}
		}
	})
}
