package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/ctstat"
)

func testReading() ctstat.Reading {
	r := ctstat.Reading{
		Count: 3, Max: 12, Buckets: 16,
		PerCPU: []ctstat.CPU{{ID: 0}, {ID: 1}},
	}
	r.PerCPU[0].Stats[ctstat.Found] = 7
	r.PerCPU[1].Stats[ctstat.Found] = 1
	r.PerCPU[1].Stats[ctstat.Drop] = 12345
	r.Sum = r.PerCPU[0].Stats.Add(r.PerCPU[1].Stats)
	return r
}

func TestWriteStatsText(t *testing.T) {
	r := testReading()
	tests := []struct {
		name   string
		perCPU bool
		want   string
	}{
		{name: "summed", want: `entries 3 of 12 (25.00 % full), 16 hash buckets

counter         total
found               8
invalid             0
ignore              0
insert              0
insert_failed       0
drop            12345
early_drop          0
error               0
search_restart      0
clash_resolve       0
chaintoolong        0
`},
		{name: "per CPU", perCPU: true, want: `entries 3 of 12 (25.00 % full), 16 hash buckets

counter         total  cpu0   cpu1
found               8     7      1
invalid             0     0      0
ignore              0     0      0
insert              0     0      0
insert_failed       0     0      0
drop            12345     0  12345
early_drop          0     0      0
error               0     0      0
search_restart      0     0      0
clash_resolve       0     0      0
chaintoolong        0     0      0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeStatsText(&b, &r, tt.perCPU)
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	r.Max = 0
	var b bytes.Buffer
	writeStatsText(&b, &r, false)
	if first, _, _ := strings.Cut(b.String(), "\n"); first != "entries 3 of no limit (0.00 % full), 16 hash buckets" {
		t.Errorf("no limit: %q", first)
	}
}

func TestWriteStatsJSON(t *testing.T) {
	r := testReading()
	counters := func(found, drop float64) map[string]any {
		m := map[string]any{}
		for c := range ctstat.NumCounters {
			m[c.String()] = 0.0
		}
		m["found"], m["drop"] = found, drop
		return m
	}
	withCPU := func(cpu float64, m map[string]any) map[string]any { m["cpu"] = cpu; return m }
	tests := []struct {
		name   string
		perCPU bool
		want   map[string]any
	}{
		{name: "summed", want: map[string]any{"count": 3.0, "max": 12.0, "fill": 25.0, "buckets": 16.0, "stats": counters(8, 12345)}},
		{name: "per CPU", perCPU: true, want: map[string]any{
			"count": 3.0, "max": 12.0, "fill": 25.0, "buckets": 16.0, "stats": counters(8, 12345),
			"per_cpu": []any{withCPU(0, counters(7, 0)), withCPU(1, counters(1, 12345))},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeStatsJSON(&b, &r, tt.perCPU)
			var got map[string]any
			if err := json.Unmarshal(b.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, b.Bytes())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatsBadNamespace(t *testing.T) {
	err := runStats(context.Background(), []string{"--netns", "ctwatch-no-such-namespace"}, io.Discard, io.Discard)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want fs.ErrNotExist", err)
	}
}

// TestStatsLive reads the test's own namespace (read-only).
func TestStatsLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ctnetlink needs CAP_NET_ADMIN")
	}
	var out bytes.Buffer
	if err := runStats(context.Background(), []string{"--json", "--per-cpu"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Count, Max, Buckets *uint32
		Fill                *float64
		Stats               map[string]uint64
		PerCPU              []map[string]uint64 `json:"per_cpu"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if got.Count == nil || got.Max == nil || got.Buckets == nil || got.Fill == nil || len(got.Stats) != int(ctstat.NumCounters) || len(got.PerCPU) == 0 {
		t.Errorf("incomplete output: %s", out.Bytes())
	}
}
