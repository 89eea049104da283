package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestHealthJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 5, time.UTC)
	var delta ctstat.CPUStats
	delta[ctstat.Found], delta[ctstat.Drop], delta[ctstat.Invalid] = 12, 3, 1
	tests := []struct {
		name string
		rec  health.Record
		want string
	}{
		{
			name: "first stats",
			rec:  health.Record{Kind: health.KindStats, Time: at, Count: 10, Max: 1000, Buckets: 1024, Fill: 1},
			want: `{"level":"info","time":"2026-11-22T10:00:00.000000005Z","event":"stats","seq":1,"run":"run-1","host":{"name":"host-1"},"count":10,"max":1000,"fill":1,"buckets":1024}`,
		},
		{
			name: "stats",
			rec: health.Record{Kind: health.KindStats, Time: at, Count: 1, Max: 3, Buckets: 4, Fill: 100.0 / 3,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true},
			want: `{"level":"info","time":"2026-11-22T10:00:00.000000005Z","event":"stats","seq":1,"run":"run-1","host":{"name":"host-1"},"count":1,"max":3,"fill":33.33,"buckets":4,"interval_s":10,` +
				`"delta":{"found":12,"invalid":1,"ignore":0,"insert":0,"insert_failed":0,"drop":3,"early_drop":0,"error":0,"search_restart":0,"clash_resolve":0,"chaintoolong":0}}`,
		},
		{
			name: "pressure",
			rec: health.Record{Kind: health.KindTablePressure, Time: at, Count: 900, Max: 1000, Fill: 90, Threshold: 90,
				Top: &health.Top{
					Src:     []health.SrcCount{{Addr: netip.MustParseAddr("10.0.0.1"), Entries: 700}, {Addr: netip.MustParseAddr("2001:db8::1"), Entries: 3}},
					DPort:   []health.PortCount{{Proto: model.ProtoTCP, Port: 443, Entries: 650}, {Proto: model.Proto(200), Port: 7, Entries: 1}},
					Scanned: 900,
				}},
			want: `{"level":"warn","time":"2026-11-22T10:00:00.000000005Z","event":"table_pressure","seq":1,"run":"run-1","host":{"name":"host-1"},"count":900,"max":1000,"fill":90,"threshold":90,` +
				`"top":{"src":[{"addr":"10.0.0.1","entries":700},{"addr":"2001:db8::1","entries":3}],"dport":[{"proto":"tcp","port":443,"entries":650},{"proto":"200","port":7,"entries":1}],"scanned":900,"sampled":false}}`,
		},
		{
			name: "pressure without top",
			rec:  health.Record{Kind: health.KindTablePressure, Count: 900, Max: 1000, Fill: 90, Threshold: 80, TopErr: errors.New("dump the table: timeout")},
			want: `{"level":"warn","event":"table_pressure","seq":1,"run":"run-1","host":{"name":"host-1"},"count":900,"max":1000,"fill":90,"threshold":80,"top_error":"dump the table: timeout"}`,
		},
		{
			name: "cleared",
			rec:  health.Record{Kind: health.KindTablePressureCleared, Time: at, Count: 700, Max: 1000, Fill: 70, Threshold: 80},
			want: `{"level":"info","time":"2026-11-22T10:00:00.000000005Z","event":"table_pressure_cleared","seq":1,"run":"run-1","host":{"name":"host-1"},"count":700,"max":1000,"fill":70,"threshold":80}`,
		},
		{
			name: "drops",
			rec: health.Record{Kind: health.KindDrops, Time: at, Count: 1000, Max: 1000, Fill: 100,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true, Hint: "h"},
			want: `{"level":"warn","time":"2026-11-22T10:00:00.000000005Z","event":"drops","seq":1,"run":"run-1","host":{"name":"host-1"},"count":1000,"max":1000,"fill":100,"interval_s":10,` +
				`"delta":{"drop":3,"early_drop":0,"insert_failed":0,"invalid":1},"hint":"h"}`,
		},
		{
			name: "not tracking",
			rec:  health.Record{Kind: health.KindNotTracking, Time: at, Count: 0, Max: 1000, Hint: "h"},
			want: `{"level":"warn","time":"2026-11-22T10:00:00.000000005Z","event":"not_tracking","seq":1,"run":"run-1","host":{"name":"host-1"},"count":0,"max":1000,"fill":0,"hint":"h"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf)}).Health(&tt.rec)
			if diff := cmp.Diff(tt.want+"\n", buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadingJSON(t *testing.T) {
	r := ctstat.Reading{
		Count: 3, Max: 12, Buckets: 8,
		PerCPU: []ctstat.CPU{{ID: 0, Stats: ctstat.CPUStats{ctstat.Found: 1}}, {ID: 1, Stats: ctstat.CPUStats{ctstat.Drop: 2}}},
		Sum:    ctstat.CPUStats{ctstat.Found: 1, ctstat.Drop: 2},
	}
	counters := func(found, drop float64) map[string]any {
		m := map[string]any{}
		for c := range ctstat.NumCounters {
			m[c.String()] = 0.0
		}
		m["found"], m["drop"] = found, drop
		return m
	}
	cpu0, cpu1 := counters(1, 0), counters(0, 2)
	cpu0["cpu"], cpu1["cpu"] = 0.0, 1.0
	base := map[string]any{"count": 3.0, "max": 12.0, "fill": 25.0, "buckets": 8.0, "stats": counters(1, 2)}
	withCPUs := map[string]any{"per_cpu": []any{cpu0, cpu1}}
	for k, v := range base {
		withCPUs[k] = v
	}
	tests := []struct {
		name   string
		perCPU bool
		want   map[string]any
	}{
		{"summed", false, base},
		{"per CPU", true, withCPUs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf)}).Reading(&r, tt.perCPU)
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, buf.Bytes())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
