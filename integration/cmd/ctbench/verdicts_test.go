//go:build integration

package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

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

func TestCtwatchBufferFlag(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ctwatchBufferFlag([]string{"--updates", "all", "--buffer-size=1M"}), "--buffer-size=1M"},
		{ctwatchBufferFlag([]string{"-buffer-size", "1M"}), "-buffer-size 1M"},
		{ctwatchBufferFlag([]string{"--coalesce", "2ms"}), ""},
	}
	for i, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("case %d (-want +got):\n%s", i, diff)
		}
	}
}
