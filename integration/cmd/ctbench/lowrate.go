//go:build integration

package main

import (
	"fmt"
	"io"
	"slices"
)

// lowResult is one measurement of the lowrate part: a monitor idle
// (Load "") for Seconds, or its CPU over Events of Load at Rate. Entries
// is the number of entries other namespaces held meanwhile (0 here; the
// 1M-entry measurements of another part set it).
type lowResult struct {
	Monitor  string
	CTEvents int
	Load     string  `json:",omitempty"`
	Rate     float64 `json:",omitempty"`
	Events   int     `json:",omitempty"`
	Entries  int     `json:",omitempty"`
	Seconds  float64
	CPUNanos int64
}

// Targets of the lowrate part (issue 15).
const (
	// lowRatioTarget is ctwatch's CPU per event at most this times
	// conntrack -E's at 100 and 1k events/s.
	lowRatioTarget = 1.0
	// lowIdleTarget is ctwatch's idle CPU at most this many ms per second.
	lowIdleTarget = 0.05
)

func (r lowResult) usPerEvent() float64 {
	return ratio(float64(r.CPUNanos)/1e3, float64(r.Events))
}

func (r lowResult) msPerSecond() float64 {
	return ratio(float64(r.CPUNanos)/1e6, r.Seconds)
}

// lowFind returns the first result of monitor with the other fields as
// given, and whether there is one.
func lowFind(rs []lowResult, mon, load string, rate float64, ctEvents, entries int) (lowResult, bool) {
	i := slices.IndexFunc(rs, func(r lowResult) bool {
		return r.Monitor == mon && r.Load == load && r.Rate == rate && r.CTEvents == ctEvents && r.Entries == entries
	})
	if i < 0 {
		return lowResult{}, false
	}
	return rs[i], true
}

// lowTargets judges the lowrate part.
func lowTargets(rep *report) []target {
	var ts []target
	for _, load := range lowLoads {
		for _, rate := range lowRates[:2] {
			cw, ok1 := lowFind(rep.LowRate, "ctwatch", load, rate, 1, 0)
			ct, ok2 := lowFind(rep.LowRate, "conntrack", load, rate, 1, 0)
			if !ok1 || !ok2 {
				continue
			}
			x := ratio(cw.usPerEvent(), ct.usPerEvent())
			ts = append(ts, target{
				Name:     fmt.Sprintf("lowrate: CPU/event at %s (%s) ≤ %.1f× conntrack -E", rateLabel(rate), load, lowRatioTarget),
				Measured: fmt.Sprintf("%.2f× (%.1f vs %.1f µs)", x, cw.usPerEvent(), ct.usPerEvent()),
				Verdict:  verdict(x <= lowRatioTarget),
			})
		}
	}
	for _, ev := range lowCTEvents {
		cw, ok := lowFind(rep.LowRate, "ctwatch", "", 0, ev, 0)
		if !ok {
			continue
		}
		ms := cw.msPerSecond()
		ts = append(ts, target{
			Name:     fmt.Sprintf("lowrate: idle CPU, empty namespace, nf_conntrack_events=%d ≤ %.2f ms/s", ev, lowIdleTarget),
			Measured: fmt.Sprintf("%.3f ms/s (%.1f ms/min)", ms, 60*ms),
			Verdict:  verdict(ms <= lowIdleTarget),
		})
	}
	return ts
}

func verdict(ok bool) string {
	if ok {
		return verdictMet
	}
	return verdictNotMet
}

// writeLowRateTable writes the lowrate part's tables.
func writeLowRateTable(w io.Writer, rep *report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### lowrate: low rates and idle, ctwatch against conntrack -E\n\n")
	p("| load | rate | ctwatch µs/event | conntrack -E µs/event | × conntrack -E |\n")
	p("|---|--:|--:|--:|--:|\n")
	for _, load := range lowLoads {
		for _, rate := range lowRates {
			cw, ok1 := lowFind(rep.LowRate, "ctwatch", load, rate, 1, 0)
			ct, ok2 := lowFind(rep.LowRate, "conntrack", load, rate, 1, 0)
			if !ok1 || !ok2 {
				continue
			}
			p("| %s | %s | %.2f | %.2f | %.2f |\n", load, rateLabel(rate), cw.usPerEvent(), ct.usPerEvent(), ratio(cw.usPerEvent(), ct.usPerEvent()))
		}
	}
	p("\n| idle, empty table | ctwatch ms CPU/min | conntrack -E ms CPU/min |\n")
	p("|---|--:|--:|\n")
	for _, ev := range lowCTEvents {
		cw, ok1 := lowFind(rep.LowRate, "ctwatch", "", 0, ev, 0)
		ct, ok2 := lowFind(rep.LowRate, "conntrack", "", 0, ev, 0)
		if !ok1 || !ok2 {
			continue
		}
		p("| nf_conntrack_events=%d | %.2f | %.2f |\n", ev, 60*cw.msPerSecond(), 60*ct.msPerSecond())
	}
	p("\n")
}

// writeLowRateSection writes the document's section on the lowrate part.
func writeLowRateSection(w io.Writer, rep *report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Low rates and idle\n\n")
	p("Most hosts are quiet. In a namespace of its own, one monitor at a time (`ctwatch watch\n")
	p("--netns NS --output FILE`, `conntrack -E > FILE`, each pinned to CPU %d) is measured idle for\n", rep.Config.MonCPU)
	p("%d s with an empty table, under `nf_conntrack_events=1` and `=2` (set in that namespace and\n", int(lowIdle.Seconds()))
	p("put back after), then, under `=1`, for %d s of each load at each of %s, %s and %s events/s.\n",
		lowSeconds, rateLabel(lowRates[0]), rateLabel(lowRates[1]), rateLabel(lowRates[2]))
	p("*µs/event* is the monitor's CPU time (user + system, all threads) over the run, until\n")
	p("drained, divided by the events generated; idle CPU is per minute.\n\n")
	writeLowRateTable(w, rep)
}
