//go:build integration

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The netns part: ctwatch watch --all-netns on a load spread over N
// namespaces, side by side with its yardsticks in the same run.

// The monitors of the netns part.
const (
	// nsMonAll is one ctwatch watch --all-netns in the host's namespace,
	// the load spread over the N namespaces.
	nsMonAll = "all-netns"
	// nsMonSingle is one ctwatch watch --netns ONE with the same total
	// load in that one namespace: the baseline of the CPU and memory
	// targets.
	nsMonSingle = "single-netns"
	// nsMonEach is N conntrack -E, one in each namespace, the load spread
	// as for nsMonAll: what a user runs today.
	nsMonEach = "conntrack-each"
)

// netnsMonitors are the netns part's monitors in the order they are
// measured and shown.
var netnsMonitors = []string{nsMonAll, nsMonSingle, nsMonEach}

// nsResult is one measurement of the netns part: one monitor (one or N
// processes) on one run of the load.
type nsResult struct {
	Monitor string `json:"monitor"`
	Run     int    `json:"run"`
	// Namespaces is how many namespaces the load was spread over;
	// Processes how many processes the monitor is.
	Namespaces int `json:"namespaces"`
	Processes  int `json:"processes"`

	Generated   eventCounts `json:"generated"`
	GenSeconds  float64     `json:"gen_seconds"`
	GenCPUNanos int64       `json:"gen_cpu_ns"`
	// Expected is the events of the subscribed types over all the
	// namespaces; Counts the records of the benchmark's namespaces, by
	// type, summed over them.
	Expected int         `json:"expected"`
	Counts   eventCounts `json:"counts"`
	// ExactNS counts the namespaces whose records equal their share of
	// the load, type by type.
	ExactNS int `json:"exact_ns"`
	// Unnamed counts entry records of the benchmark's namespaces that did
	// not carry the namespace's name (all-netns only).
	Unnamed int `json:"unnamed,omitempty"`
	// KernelDrops, CPUNanos and PeakRSS are summed over the processes:
	// socket drops, CPU time (all threads, user and system) from just
	// before the load until drained, and VmHWM.
	KernelDrops uint64  `json:"kernel_drops"`
	CPUNanos    int64   `json:"cpu_ns"`
	PeakRSS     uint64  `json:"peak_rss"`
	Drained     bool    `json:"drained"`
	OtherCPU    float64 `json:"other_cpu"`
	Busy        bool    `json:"busy,omitempty"`
	Attempts    int     `json:"attempts"`
	Err         string  `json:"error,omitempty"`
}

// span is the result's measured span, for the interference note.
func (r nsResult) span() (measuredSpan, bool) {
	return measuredSpan{r.OtherCPU, r.Busy, r.Attempts}, r.Err == ""
}

// Received is the entry events the monitor wrote for the namespaces.
func (r nsResult) Received() int { return r.Counts.Events() }

// Lost is the events expected but not written.
func (r nsResult) Lost() int { return r.Expected - r.Received() }

// CPUPerEvent is the CPU time of all the monitor's processes per expected
// event, in microseconds.
func (r nsResult) CPUPerEvent() float64 {
	return microsPer(r.CPUNanos, r.Expected)
}

// Achieved is the generator's actual rate in events per second.
func (r nsResult) Achieved() float64 {
	return perSecond(r.Generated.Events(), r.GenSeconds)
}

// nsShare is one namespace's share of the generated events; the generator
// gives each the same.
func nsShare(gen eventCounts, n int) eventCounts {
	return eventCounts{New: gen.New / n, Update: gen.Update / n, Destroy: gen.Destroy / n}
}

// sameEvents says whether got has exactly want's entry events, by type.
func sameEvents(want, got eventCounts) bool {
	return want.New == got.New && want.Update == got.Update && want.Destroy == got.Destroy
}

// nsRow is one line of the netns table: one monitor over its runs.
type nsRow struct {
	Monitor               string
	Namespaces, Processes int
	runTally

	Expected, Received, Lost, LossPct, Drops stat
	ExactNS, Unnamed                         stat
	CPU                                      stat // µs per expected event, all processes
	RSSMiB                                   stat // summed over the processes
	Achieved                                 stat
	// Ratio is the median CPU per event over the single-namespace
	// watch's; NaN without it.
	Ratio float64
}

// aggregateNetNS builds the netns table's rows, one per monitor.
func aggregateNetNS(results []nsResult) []nsRow {
	var rows []nsRow
	for _, mon := range netnsMonitors {
		r := nsRow{Monitor: mon, Ratio: math.NaN()}
		var exp, rec, lost, lossPct, drops, exact, unnamed, cpu, rss, ach []float64
		for _, res := range results {
			if res.Monitor != mon {
				continue
			}
			if !r.add(res.Err, res.Drained) {
				continue
			}
			r.Namespaces, r.Processes = res.Namespaces, res.Processes
			e := float64(res.Expected)
			exp = append(exp, e)
			rec = append(rec, float64(res.Received()))
			lost = append(lost, float64(res.Lost()))
			lossPct = append(lossPct, ratio(float64(res.Lost())*100, e))
			drops = append(drops, float64(res.KernelDrops))
			exact = append(exact, float64(res.ExactNS))
			unnamed = append(unnamed, float64(res.Unnamed))
			cpu = append(cpu, res.CPUPerEvent())
			rss = append(rss, float64(res.PeakRSS)/(1<<20))
			ach = append(ach, res.Achieved())
		}
		r.Expected, r.Received, r.Lost, r.LossPct = summarize(exp), summarize(rec), summarize(lost), summarize(lossPct)
		r.Drops, r.ExactNS, r.Unnamed = summarize(drops), summarize(exact), summarize(unnamed)
		r.CPU, r.RSSMiB, r.Achieved = summarize(cpu), summarize(rss), summarize(ach)
		rows = append(rows, r)
	}
	var base *nsRow
	for i := range rows {
		if rows[i].Monitor == nsMonSingle && rows[i].CPU.N > 0 {
			base = &rows[i]
		}
	}
	if base != nil {
		for i := range rows {
			if rows[i].CPU.N > 0 {
				rows[i].Ratio = ratio(rows[i].CPU.Med, base.CPU.Med)
			}
		}
	}
	return rows
}

// nsTargets judges issue 13's targets against the netns part's results:
// CPU and memory as ratios of medians, the records as every run's.
func nsTargets(rep *report) []target {
	n := rep.Config.NetNSCount
	rows := aggregateNetNS(rep.NetNS)
	get := func(mon string) (*nsRow, string) {
		for i := range rows {
			if rows[i].Monitor != mon {
				continue
			}
			if rows[i].Expected.N > 0 {
				return &rows[i], ""
			}
			if rows[i].Failed > 0 {
				return nil, nsMonitorLabel(mon, n) + " failed: " + rows[i].Err
			}
		}
		return nil, "needs " + nsMonitorLabel(mon, n)
	}
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	prefix := fmt.Sprintf("%d namespaces: ctwatch --all-netns ", n)
	allLabel := nsMonitorLabel(nsMonAll, n)
	if rep.Config.AllNetNSStandIn {
		allLabel = "ctbench allns (stand-in)"
	}
	all, allWhy := get(nsMonAll)
	allWhy = strings.Replace(allWhy, nsMonitorLabel(nsMonAll, n), allLabel, 1)
	single, singleWhy := get(nsMonSingle)
	each, eachWhy := get(nsMonEach)
	judge := func(name string, a, b *nsRow, why string, value func(*nsRow) float64, limit float64, unit string) target {
		t := target{Name: name, Verdict: verdictNotMeasured, Measured: why}
		if a == nil || b == nil {
			return t
		}
		va, vb := value(a), value(b)
		rt := ratio(va, vb)
		if math.IsNaN(rt) {
			t.Measured = "no baseline"
			return t
		}
		t.Measured = fmt.Sprintf("%s× (%s against %s %s)", f2(rt), f2(va), f2(vb), unit)
		t.Verdict = verdictMet
		if rt > limit {
			t.Verdict = verdictNotMet
		}
		return t
	}
	why := func(whys ...string) string {
		for _, w := range whys {
			if w != "" {
				return w
			}
		}
		return ""
	}
	cpu := func(r *nsRow) float64 { return r.CPU.Med }
	rss := func(r *nsRow) float64 { return r.RSSMiB.Med }
	ts := []target{
		judge(prefix+"CPU/event ≤ 1.1 × the single-namespace watch (the same load in one namespace)",
			all, single, why(allWhy, singleWhy), cpu, 1.1, "µs/event"),
		judge(prefix+fmt.Sprintf("CPU/event ≤ 0.5 × the sum of %d conntrack -E", n),
			all, each, why(allWhy, eachWhy), cpu, 0.5, "µs/event"),
		judge(prefix+"peak RSS ≤ 1.5 × the single-namespace watch",
			all, single, why(allWhy, singleWhy), rss, 1.5, "MiB"),
	}
	if t := &ts[1]; each != nil && t.Verdict != verdictNotMeasured && each.LossPct.Max > 1 {
		// conntrack -E spent nothing on the events it lost.
		t.Measured += " † (not judged: conntrack -E lost " + percentValue(each.LossPct.Max) + ")"
		t.Verdict = verdictNotMeasured
	}
	rec := target{Name: prefix + "receives every event of every namespace, each record naming its namespace",
		Verdict: verdictNotMeasured, Measured: allWhy}
	if all != nil {
		rec.Measured = fmt.Sprintf("worst run lost %s (%s) of %s; namespaces exact: at least %s of %d; records without the namespace's name: up to %s",
			formatCount(int64(all.Lost.Max)), percentValue(all.LossPct.Max), formatCount(int64(all.Expected.Med)),
			formatCount(int64(all.ExactNS.Min)), n, formatCount(int64(all.Unnamed.Max)))
		rec.Verdict = verdictMet
		if all.Lost.Max != 0 || all.Lost.Min != 0 || int(all.ExactNS.Min) != n || all.Unnamed.Max > 0 || all.Failed > 0 {
			rec.Verdict = verdictNotMet
		}
	}
	ts = append(ts, rec)
	if rep.Config.AllNetNSStandIn {
		// The numbers are the stand-in's, not ctwatch's: shown, never
		// judged.
		for i := range ts {
			ts[i].Measured = "stand-in, not ctwatch: " + ts[i].Measured
			ts[i].Verdict = verdictNotMeasured
		}
	}
	return ts
}

// nsMonitorLabel names a netns monitor in the table and targets.
func nsMonitorLabel(mon string, n int) string {
	switch mon {
	case nsMonAll:
		return fmt.Sprintf("ctwatch watch --all-netns (%d namespaces)", n)
	case nsMonSingle:
		return "ctwatch watch --netns ONE (the whole load in one namespace)"
	case nsMonEach:
		return fmt.Sprintf("%d × conntrack -E, one per namespace (summed)", n)
	}
	return mon
}
