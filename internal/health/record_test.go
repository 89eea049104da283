package health

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestRecordJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 5, time.UTC)
	var delta ctstat.CPUStats
	delta[ctstat.Found], delta[ctstat.Drop], delta[ctstat.Invalid] = 12, 3, 1
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{
			name: "first stats",
			rec:  Record{Level: zerolog.InfoLevel, Event: EventStats, Time: at, Count: 10, Max: 1000, Buckets: 1024, Fill: 1},
			want: `{"level":"info","time":"2026-11-22T10:00:00.000000005Z","event":"stats","count":10,"max":1000,"fill":1,"buckets":1024}`,
		},
		{
			name: "stats",
			rec: Record{Level: zerolog.InfoLevel, Event: EventStats, Time: at, Count: 1, Max: 3, Buckets: 4, Fill: 100.0 / 3,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true},
			want: `{"level":"info","time":"2026-11-22T10:00:00.000000005Z","event":"stats","count":1,"max":3,"fill":33.33,"buckets":4,"interval_s":10,` +
				`"delta":{"found":12,"invalid":1,"ignore":0,"insert":0,"insert_failed":0,"drop":3,"early_drop":0,"error":0,"search_restart":0,"clash_resolve":0,"chaintoolong":0}}`,
		},
		{
			name: "pressure",
			rec: Record{Level: zerolog.WarnLevel, Event: EventTablePressure, Time: at, Count: 900, Max: 1000, Fill: 90, Threshold: 90,
				Top: &Top{
					Src:     []SrcCount{{netip.MustParseAddr("10.0.0.1"), 700}, {netip.MustParseAddr("2001:db8::1"), 3}},
					DPort:   []PortCount{{model.ProtoTCP, 443, 650}, {model.Proto(200), 7, 1}},
					Scanned: 900,
				}},
			want: `{"level":"warn","time":"2026-11-22T10:00:00.000000005Z","event":"table_pressure","count":900,"max":1000,"fill":90,"threshold":90,` +
				`"top":{"src":[{"addr":"10.0.0.1","entries":700},{"addr":"2001:db8::1","entries":3}],"dport":[{"proto":"tcp","port":443,"entries":650},{"proto":"200","port":7,"entries":1}],"scanned":900,"sampled":false}}`,
		},
		{
			name: "pressure without top",
			rec:  Record{Level: zerolog.WarnLevel, Event: EventTablePressure, Count: 900, Max: 1000, Fill: 90, Threshold: 80, TopErr: errors.New("dump the table: timeout")},
			want: `{"level":"warn","event":"table_pressure","count":900,"max":1000,"fill":90,"threshold":80,"top_error":"dump the table: timeout"}`,
		},
		{
			name: "cleared",
			rec:  Record{Level: zerolog.InfoLevel, Event: EventTablePressureCleared, Time: at, Count: 700, Max: 1000, Fill: 70, Threshold: 80},
			want: `{"level":"info","time":"2026-11-22T10:00:00.000000005Z","event":"table_pressure_cleared","count":700,"max":1000,"fill":70,"threshold":80}`,
		},
		{
			name: "drops",
			rec: Record{Level: zerolog.WarnLevel, Event: EventDrops, Time: at, Count: 1000, Max: 1000, Fill: 100,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true, Hint: "h"},
			want: `{"level":"warn","time":"2026-11-22T10:00:00.000000005Z","event":"drops","count":1000,"max":1000,"fill":100,"interval_s":10,` +
				`"delta":{"drop":3,"early_drop":0,"insert_failed":0,"invalid":1},"hint":"h"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			lg := zerolog.New(&buf)
			lg.WithLevel(tt.rec.Level).EmbedObject(&tt.rec).Send()
			if diff := cmp.Diff(tt.want+"\n", buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
