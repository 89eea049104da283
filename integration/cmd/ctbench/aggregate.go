//go:build integration

package main

import (
	"fmt"
	"math"
	"slices"
)

// runResult is one measurement: one monitor on one load at one rate.
type runResult struct {
	Load    string  `json:"load"`
	Rate    float64 `json:"rate"` // target events/s; 0 is full speed
	Monitor string  `json:"monitor"`
	Run     int     `json:"run"`

	// Generated is what the generator produced, by type.
	Generated eventCounts `json:"generated"`
	// GenSeconds is the generator's time from its first operation to the
	// end of its last.
	GenSeconds float64 `json:"gen_seconds"`
	// Groups are the conntrack groups the monitor's socket joined (the
	// Groups column of /proc/net/netlink).
	Groups uint32 `json:"groups"`
	// Expected is the events of the subscribed types: what the monitor
	// should write.
	Expected int `json:"expected"`
	// Counts are the monitor's records by type.
	Counts eventCounts `json:"counts"`
	// KernelDrops is the Drops column of the monitor's socket just before
	// it was stopped: events the kernel could not queue.
	KernelDrops uint64 `json:"kernel_drops"`
	// CPUNanos is the monitor's CPU time (all threads, user and system)
	// from just before the generator started until the monitor drained.
	CPUNanos int64 `json:"cpu_ns"`
	// UserTicks and SysTicks split the same time, coarsely, from
	// /proc/PID/stat.
	UserTicks uint64 `json:"user_ticks"`
	SysTicks  uint64 `json:"sys_ticks"`
	// Reads, Writes and WriteBytes are the read(2)- and write(2)-family
	// calls and the bytes written over the same span (/proc/PID/io).
	Reads      uint64 `json:"reads"`
	Writes     uint64 `json:"writes"`
	WriteBytes uint64 `json:"write_bytes"`
	// PeakRSS is VmHWM just before the monitor was stopped, in bytes.
	PeakRSS uint64 `json:"peak_rss"`
	// Drained is false when the monitor was still busy at the drain
	// timeout.
	Drained bool `json:"drained"`
	// GenCPUNanos is the generator's CPU time (getrusage of the child).
	GenCPUNanos int64 `json:"gen_cpu_ns"`
	// OtherCPU is the share of the benchmark's CPUs' time that other
	// processes (or the hypervisor) took during the measured span:
	// interference the numbers include.
	OtherCPU float64 `json:"other_cpu"`
	// Buffer is the receive buffer ctwatch asked for, from its start
	// record (0 for the other monitors).
	Buffer int64 `json:"buffer,omitempty"`
	// Busy is set when the machine was still busy when the run had to
	// start (the quiet gate timed out).
	Busy bool `json:"busy,omitempty"`
	// Attempts is how many times the run was measured: more than once
	// when interference exceeded the limit.
	Attempts int `json:"attempts"`
	// Err is why the measurement failed; the other fields are then not
	// to be used.
	Err string `json:"error,omitempty"`
}

// span is the result's measured span, for the interference note.
func (r runResult) span() (measuredSpan, bool) {
	return measuredSpan{r.OtherCPU, r.Busy, r.Attempts}, r.Err == ""
}

// Received is the entry events the monitor wrote.
func (r runResult) Received() int { return r.Counts.Events() }

// Lost is the events expected but not written.
func (r runResult) Lost() int { return r.Expected - r.Received() }

// CPUPerEvent is the monitor's CPU time per expected event, in
// microseconds.
func (r runResult) CPUPerEvent() float64 {
	return microsPer(r.CPUNanos, r.Expected)
}

// Achieved is the generator's actual rate in events per second.
func (r runResult) Achieved() float64 {
	return perSecond(r.Generated.Events(), r.GenSeconds)
}

// microsPer is nanos in microseconds per one of n; NaN for none.
func microsPer(nanos int64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(nanos) / 1e3 / float64(n)
}

// perSecond is the rate of n in seconds; NaN when no time was measured.
func perSecond(n int, seconds float64) float64 {
	if seconds <= 0 {
		return math.NaN()
	}
	return float64(n) / seconds
}

// stat is the median and range of a value over the runs of one cell.
type stat struct {
	Med, Min, Max float64
	N             int
}

// summarize returns the median (the mean of the middle two for an even
// count) and range of xs, NaNs left out; N is 0 when nothing is left.
func summarize(xs []float64) stat {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return stat{Med: med, Min: v[0], Max: v[n-1], N: n}
}

// row is one line of a results table: one monitor at one rate of one load,
// over its runs.
type row struct {
	Monitor string
	Rate    float64
	// Skipped says why the monitor was not run at all.
	Skipped string
	runTally

	Expected, Received, Lost, LossPct, Drops stat
	CPU                                      stat // µs per expected event
	SysShare, WritesPerEvent, BytesPerEvent  stat
	ReadsPerEvent                            stat
	RSSMiB, Achieved                         stat
	// Ratio is the median CPU per event over conntrack -E's at the same
	// rate; NaN without a reference.
	Ratio float64
	// RefLossy is set when the reference lost more than 1 % of its events
	// at this rate, which makes its CPU per expected event, and so Ratio,
	// flatter than its true cost per event.
	RefLossy bool
}

// runTally counts the runs of a table's row that failed or did not drain.
type runTally struct {
	// Failed counts runs that failed; Err is the first one's error.
	Failed int
	Err    string
	// Undrained counts runs in which the monitor had not drained at the
	// timeout.
	Undrained int
}

// add counts a run whose error is errText ("" when it did not fail). It
// reports whether the run's numbers count: a failed run has none.
func (t *runTally) add(errText string, drained bool) bool {
	if errText != "" {
		if t.Failed == 0 {
			t.Err = errText
		}
		t.Failed++
		return false
	}
	if !drained {
		t.Undrained++
	}
	return true
}

// notes are the remarks a row's label carries about its failed and
// undrained runs.
func (t runTally) notes() string {
	notes := ""
	if t.Failed > 0 {
		notes += fmt.Sprintf(" (%d run(s) failed: %s)", t.Failed, cellText(t.Err))
	}
	if t.Undrained > 0 {
		notes += fmt.Sprintf(" (%d run(s) not drained)", t.Undrained)
	}
	return notes
}

// referenceMonitor is the monitor ratios are taken against.
const referenceMonitor = "conntrack"

// aggregate builds the rows of one load's table: for each rate, one row per
// monitor, in the order given.
func aggregate(results []runResult, load string, rates []float64, monitors []string, skipped map[string]string) []row {
	var rows []row
	for _, rate := range rates {
		start := len(rows)
		for _, mon := range monitors {
			r := row{Monitor: mon, Rate: rate, Skipped: skipped[mon], Ratio: math.NaN()}
			var exp, rec, lost, lossPct, drops, cpu, sys, wpe, bpe, rpe, rss, ach []float64
			for _, res := range results {
				if res.Load != load || res.Rate != rate || res.Monitor != mon {
					continue
				}
				if !r.add(res.Err, res.Drained) {
					continue
				}
				e := float64(res.Expected)
				exp = append(exp, e)
				rec = append(rec, float64(res.Received()))
				lost = append(lost, float64(res.Lost()))
				lossPct = append(lossPct, ratio(float64(res.Lost())*100, e))
				drops = append(drops, float64(res.KernelDrops))
				cpu = append(cpu, res.CPUPerEvent())
				sys = append(sys, ratio(float64(res.SysTicks)*100, float64(res.UserTicks+res.SysTicks)))
				wpe = append(wpe, ratio(float64(res.Writes), e))
				bpe = append(bpe, ratio(float64(res.WriteBytes), e))
				rpe = append(rpe, ratio(float64(res.Reads), e))
				rss = append(rss, float64(res.PeakRSS)/(1<<20))
				ach = append(ach, res.Achieved())
			}
			r.Expected, r.Received, r.Lost, r.LossPct = summarize(exp), summarize(rec), summarize(lost), summarize(lossPct)
			r.Drops, r.CPU, r.SysShare = summarize(drops), summarize(cpu), summarize(sys)
			r.WritesPerEvent, r.BytesPerEvent, r.ReadsPerEvent = summarize(wpe), summarize(bpe), summarize(rpe)
			r.RSSMiB, r.Achieved = summarize(rss), summarize(ach)
			rows = append(rows, r)
		}
		var ref *row
		for i := start; i < len(rows); i++ {
			if rows[i].Monitor == referenceMonitor && rows[i].CPU.N > 0 {
				ref = &rows[i]
			}
		}
		if ref == nil {
			continue
		}
		for i := start; i < len(rows); i++ {
			if rows[i].CPU.N > 0 {
				rows[i].Ratio = ratio(rows[i].CPU.Med, ref.CPU.Med)
				rows[i].RefLossy = ref.LossPct.Max > 1
			}
		}
	}
	return rows
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
