//go:build integration

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Verdicts: the project's performance targets, judged against a report.

// target is one of the project's performance targets, checked against the
// results.
type target struct {
	Name     string
	Measured string
	Verdict  string
}

// Verdicts of a target.
const (
	verdictMet         = "met"
	verdictNotMet      = "**not met**"
	verdictNotMeasured = "not measured"
)

// evaluateTargets checks the project's targets, stated as ratios against
// conntrack -E and as losses of ctwatch with its default buffer. A loss
// target holds only if every run met it; a CPU target uses each rate's
// median and holds only if every rate met it at which conntrack -E lost at
// most 1 % of its events (at the others its CPU per event counts events it
// never read, and the ratio is shown but not judged).
func evaluateTargets(rep *report) []target {
	rowsOf := func(load string) []row {
		return aggregate(rep.Results, load, rep.Config.Rates, rep.Config.Monitors, rep.Skipped)
	}
	find := func(rows []row, mon string, rate float64) *row {
		for i := range rows {
			if rows[i].Monitor == mon && rows[i].Rate == rate && rows[i].Expected.N > 0 {
				return &rows[i]
			}
		}
		return nil
	}
	cpuTarget := func(name, load string, limit float64) target {
		t := target{Name: name, Verdict: verdictNotMeasured, Measured: "needs the " + load + " load and both monitors"}
		rows := rowsOf(load)
		var parts []string
		met, judged := true, 0
		for _, rate := range rep.Config.Rates {
			r := find(rows, "ctwatch", rate)
			if r == nil || math.IsNaN(r.Ratio) {
				continue
			}
			part := fmt.Sprintf("%s× at %s", strconv.FormatFloat(r.Ratio, 'f', 2, 64), rateLabel(rate))
			if r.RefLossy {
				// conntrack -E spent nothing on the events it lost:
				// its cost per event there is no yardstick.
				parts = append(parts, part+" † (not judged)")
				continue
			}
			parts = append(parts, part)
			judged++
			met = met && r.Ratio <= limit
		}
		if len(parts) > 0 {
			t.Measured = strings.Join(parts, ", ")
		}
		if judged > 0 {
			t.Verdict = verdictMet
			if !met {
				t.Verdict = verdictNotMet
			}
		}
		return t
	}
	lossTarget := func(name, load string, rate, maxPct float64) target {
		t := target{Name: name, Verdict: verdictNotMeasured, Measured: "needs ctwatch on the " + load + " load at " + rateLabel(rate)}
		if rate > 0 && !hasRate(rep.Config.Rates, rate) {
			t.Measured = fmt.Sprintf("not in this matrix: add %s to -rates", strconv.FormatFloat(rate, 'f', 0, 64))
		}
		if buf := ctwatchBufferFlag(rep.Config.CtwatchFlags); buf != "" {
			t.Measured = "ctwatch ran with " + buf + ", not its default buffer"
			return t
		}
		r := find(rowsOf(load), "ctwatch", rate)
		if r == nil {
			return t
		}
		t.Measured = fmt.Sprintf("worst run lost %s (%s) of %s; kernel drops up to %s",
			formatCount(int64(r.Lost.Max)), percentValue(r.LossPct.Max), formatCount(int64(r.Expected.Med)),
			formatCount(int64(r.Drops.Max)))
		if rate <= 0 && !math.IsNaN(r.Achieved.Med) {
			t.Measured += fmt.Sprintf("; generator at %s/s", kiloLabel(r.Achieved.Med))
		}
		t.Verdict = verdictMet
		if r.LossPct.Max > maxPct || (maxPct == 0 && r.Lost.Max > 0) {
			t.Verdict = verdictNotMet
		}
		return t
	}
	return []target{
		cpuTarget("tcp (real traffic): ctwatch CPU/event ≤ 1.0 × conntrack -E at the same rate", "tcp", 1.0),
		lossTarget("tcp (real traffic): no loss at the generator's full speed, default buffer", "tcp", 0, 0),
		lossTarget("ctnetlink bursts: no loss at 150k events/s sustained", "ctnetlink", 150000, 0),
		lossTarget("ctnetlink bursts: ≤ 1 % loss at full speed", "ctnetlink", 0, 1),
		cpuTarget("ctnetlink bursts: ctwatch CPU/event ≤ 0.25 × conntrack -E", "ctnetlink", 0.25),
	}
}

func hasRate(rates []float64, r float64) bool {
	for _, x := range rates {
		if x == r {
			return true
		}
	}
	return false
}

// ctwatchBufferFlag returns the --buffer-size flag among ctwatch's extra
// flags, if any: the loss targets are about the default buffer.
func ctwatchBufferFlag(flags []string) string {
	for i, f := range flags {
		name := strings.TrimLeft(f, "-")
		if strings.HasPrefix(name, "buffer-size") && strings.HasPrefix(f, "-") {
			if !strings.Contains(f, "=") && i+1 < len(flags) {
				return f + " " + flags[i+1]
			}
			return f
		}
	}
	return ""
}
