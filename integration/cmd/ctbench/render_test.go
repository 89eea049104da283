//go:build integration

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
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
		Results: sampleResults(),
		GoBench: []goBench{
			{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Pipeline", Values: map[string]float64{"sec/op": 1131e-9, "B/op": 1, "allocs/op": 0}},
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

func TestEvaluateTargets(t *testing.T) {
	rep := sampleReport()
	rep.Config.Rates = []float64{20000, 150000, 0}
	got := evaluateTargets(rep)
	want := []target{{
		Name:     "tcp (real traffic): ctwatch CPU/event ≤ 1.0 × conntrack -E at the same rate",
		Measured: "0.26× at 20k/s, 0.45× at full speed † (not judged)",
		Verdict:  verdictMet,
	}, {
		Name:     "tcp (real traffic): no loss at the generator's full speed, default buffer",
		Measured: "worst run lost 0 (0.0 %) of 100,000; kernel drops up to 0; generator at 100k/s",
		Verdict:  verdictMet,
	}, {
		Name:     "ctnetlink bursts: no loss at 150k events/s sustained",
		Measured: "needs ctwatch on the ctnetlink load at 150k/s",
		Verdict:  verdictNotMeasured,
	}, {
		Name:     "ctnetlink bursts: ≤ 1 % loss at full speed",
		Measured: "worst run lost 0 (0.0 %) of 3; kernel drops up to 0",
		Verdict:  verdictMet,
	}, {
		Name:     "ctnetlink bursts: ctwatch CPU/event ≤ 0.25 × conntrack -E",
		Measured: "needs the ctnetlink load and both monitors",
		Verdict:  verdictNotMeasured,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("evaluateTargets (-want +got):\n%s", diff)
	}

	rep.Config.CtwatchFlags = []string{"--buffer-size", "64M"}
	if got := evaluateTargets(rep)[1].Measured; got != "ctwatch ran with --buffer-size 64M, not its default buffer" {
		t.Errorf("with --buffer-size: measured %q", got)
	}
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
		{ctwatchBufferFlag([]string{"--updates", "all", "--buffer-size=1M"}), "--buffer-size=1M"},
		{ctwatchBufferFlag([]string{"-buffer-size", "1M"}), "-buffer-size 1M"},
		{ctwatchBufferFlag([]string{"--coalesce", "2ms"}), ""},
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

func TestReportRoundTrip(t *testing.T) {
	rep := sampleReport()
	path := filepath.Join(t.TempDir(), "results.json")
	if err := writeReport(path, rep); err != nil {
		t.Fatal(err)
	}
	got, err := readReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, got, cmpFloat); diff != "" {
		t.Errorf("report after a round trip (-want +got):\n%s", diff)
	}
	var saved, rendered bytes.Buffer
	writeDocument(&saved, rep)
	writeDocument(&rendered, got)
	if diff := cmp.Diff(saved.String(), rendered.String()); diff != "" {
		t.Errorf("document of the saved report (-want +got):\n%s", diff)
	}
}
