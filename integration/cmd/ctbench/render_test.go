//go:build integration

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sampleReport is a small report with every kind of row: measured, failed,
// skipped, lossy reference; and a calibration mismatch.
func sampleReport() *report {
	cfg := benchConfig{
		Loads: []string{"tcp", "ctnetlink"}, Rates: []float64{20000, 0}, Events: 100000, Runs: 2,
		Monitors:        []string{"ctwatch", "conntrack", "ulogd", "floor"},
		ConntrackBuffer: 8 << 20, CalibrationBuffer: 256 << 20, MonCPU: 1, DrainTimeout: time.Minute,
		Quiet: 10, QuietTimeout: 30 * time.Second, QuietBudget: 5 * time.Minute, MaxInterference: 10, Retries: 2,
		Parts: []string{"matrix", "netns", "bigtable", "lowrate", "filter"}, NetNSCount: 4, NetNSRate: 20000, NetNSEvents: 3600,
		BigTableEntries: 1000000, BigTableWindow: 5 * time.Minute,
		FilterLoads: []string{"tcp"}, FilterEvery: 100,
	}
	start := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	return &report{
		Machine: machineInfo{CPUModel: "AMD EPYC", CPUs: 2, Kernel: "6.18.44", GoVersion: "go1.26.8",
			Conntrack: "conntrack v1.4.7 (conntrack-tools)", Ulogd: "ulogd Version 2.0.8", Ctwatch: "ctwatch dev", Commit: "abc1234", RmemDefault: 212992, MemBytes: 24 << 30, Virtual: true},
		Config: cfg,
		Calibrations: []calibration{
			{Load: "tcp", Generated: eventCounts{New: 50000, Destroy: 50000}, Received: eventCounts{New: 50000, Destroy: 50000}, GenSeconds: 2},
			{Load: "ctnetlink", Generated: eventCounts{New: 3, Update: 3, Destroy: 3}, Received: eventCounts{New: 3, Update: 2, Destroy: 3}, GenSeconds: 0.001},
		},
		Results:  sampleResults(),
		NetNS:    sampleNSResults(),
		BigTable: sampleBigTable(),
		LowRate:  sampleLowResults(),
		Filter:   sampleFilterPart(),
		GoBench: []goBench{
			{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Pipeline/native", Values: map[string]float64{"sec/op": 1131e-9, "B/op": 1, "allocs/op": 0}},
			{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Pipeline/ecs", Values: map[string]float64{"sec/op": 1357e-9, "B/op": 1, "allocs/op": 0}},
			{Pkg: "github.com/ctwatch/ctwatch/internal/flow", Name: "Memory/nat=none", Values: map[string]float64{"sec/op": 0.84, "B/flow": 168, "B/op": 192968232, "allocs/op": 1054}},
		},
		Skipped:  map[string]string{"floor": "not wanted"},
		Started:  start,
		Finished: start.Add(3*time.Minute + 10*time.Second),
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestWriteStdout(t *testing.T) {
	var b bytes.Buffer
	writeStdout(&b, sampleReport())
	checkGolden(t, "stdout.golden.md", b.Bytes())
}

func TestWriteDocument(t *testing.T) {
	var b bytes.Buffer
	writeDocument(&b, sampleReport())
	checkGolden(t, "document.golden.md", b.Bytes())
}

func TestLabels(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{rateLabel(0), "full speed"},
		{rateLabel(20000), "20k/s"},
		{rateLabel(12500), "12.5k/s"},
		{kiloLabel(666666), "667k"},
		{kiloLabel(19987), "20.0k"},
		{kiloLabel(950), "950"},
		{sizeLabel(8 << 20), "8 MiB"},
		{sizeLabel(212992), "208 KiB"},
		{sizeLabel(1000), "1000 B"},
		{percentValue(0.0123), "0.012 %"},
		{percentValue(27.43), "27.4 %"},
		{cellText("a|b\nc"), `a\|b c`},
		{reproduceCommand(benchConfig{Loads: []string{"tcp", "ctnetlink"}, Rates: []float64{20000, 50000, 150000, 0}, Events: 200000, Runs: 3,
			Monitors: []string{"ctwatch", "conntrack", "conntrack-8m", "ulogd", "floor"}, ConntrackBuffer: 8 << 20}),
			"make bench BENCHARGS='-write docs/performance.md'"},
	}
	for i, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("case %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestWriteStdoutNetNSOnly checks that -parts netns prints the netns table
// and targets only: no matrix table, target or calibration.
func TestWriteStdoutNetNSOnly(t *testing.T) {
	rep := sampleReport()
	rep.Config.Parts = []string{"netns"}
	rep.GoBench = nil
	var b bytes.Buffer
	writeStdout(&b, rep)
	out := b.String()
	for _, absent := range []string{"### tcp", "### ctnetlink", "### Calibration", "tcp (real traffic)", "### filter", "filter matching"} {
		if strings.Contains(out, absent) {
			t.Errorf("output has %q:\n%s", absent, out)
		}
	}
	for _, present := range []string{"### netns: ctwatch --all-netns over 4 namespaces", "4 namespaces: ctwatch --all-netns peak RSS ≤ 1.5 × the single-namespace watch"} {
		if !strings.Contains(out, present) {
			t.Errorf("output lacks %q:\n%s", present, out)
		}
	}
}

// sampleBigTable is a bigtable part whose snapshot lost records in one
// run and whose reconciliation met its target.
func sampleBigTable() *bigTableResult {
	return &bigTableResult{
		Entries: 1000000, Window: 5 * time.Minute,
		Snapshots: []snapshotRun{
			{CtwatchSeconds: 4.41, Records: 1000000, ConntrackSeconds: 4.30, Lines: 1000000},
			{CtwatchSeconds: 5.08, Records: 999000, Lost: 1000, ConntrackSeconds: 4.08, Lines: 1000000},
		},
		Idle: []idleRun{
			{Table: "1M", Events: 1, CPUSeconds: 0.3},
			{Table: "empty", Events: 1, CPUSeconds: 0.01},
			{Table: "1M", Events: 2, CPUSeconds: 2.4, Reconciles: 1},
			{Table: "empty", Events: 2, CPUSeconds: 0.02},
			{Binary: "baseline", Table: "1M", Events: 2, CPUSeconds: 20.1, Reconciles: 10},
		},
	}
}
