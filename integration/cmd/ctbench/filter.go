//go:build integration

package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// The filter part (issue 14): the cost of a filter that matches 1 % of the
// events, against the unfiltered watch, on the same full-speed load in one
// run.

const (
	// filterPort is the destination port of the load's matching
	// operations: a closed port like closedPort for the TCP load (nothing
	// listens on echo in a fresh namespace), and the ctnetlink load's
	// entries otherwise go to port 80.
	filterPort = 7
	// defaultFilterEvery makes 1 % of the operations, and so of the
	// events, match.
	defaultFilterEvery = 100
)

// filterLoads are the loads the filter part can run: those whose
// operations all have the same destination port but for the matching ones
// (the UDP load's cycle through every port).
var filterLoads = []string{"tcp", "ctnetlink"}

// matchOp says whether operation i is one of the matching ones: every
// every-th, from the first; none when every is 0.
func matchOp(i, every int) bool { return every > 0 && i%every == 0 }

// shareLabel writes the share of the events that match when one operation
// in every does: "1 %", "33.3 %".
func shareLabel(every int) string {
	return strconv.FormatFloat(100/float64(max(every, 1)), 'g', 3, 64) + " %"
}

// matchingOps is how many of ops operations match.
func matchingOps(ops, every int) int {
	if every <= 0 {
		return 0
	}
	return (ops + every - 1) / every
}

// filterOps rounds ops up to a multiple of every, so that exactly one in
// every operations matches; every 0 leaves ops as it is.
func filterOps(ops, every int) int {
	if every <= 0 {
		return ops
	}
	return (ops + every - 1) / every * every
}

// times is c's counts multiplied by n: the events of n operations that
// produce c each.
func (c eventCounts) times(n int) eventCounts {
	return eventCounts{New: c.New * n, Update: c.Update * n, Destroy: c.Destroy * n}
}

// filterProto is the protocol of a filter load's entries, the first half of
// the filter (--proto, conntrack's -p: its --dport needs one).
func filterProto(load string) string {
	if load == "tcp" {
		return "tcp"
	}
	return "udp"
}

// ctwatchFilterArgs and conntrackFilterArgs are the same filter in each
// tool's flags.
func ctwatchFilterArgs(load string) []string {
	return []string{"--proto", filterProto(load), "--dport", strconv.Itoa(filterPort)}
}

func conntrackFilterArgs(load string) []string {
	return []string{"-p", filterProto(load), "--dport", strconv.Itoa(filterPort)}
}

// kernelFilterFlagRE finds the --kernel-filter flag in `ctwatch watch
// --help`: a line that starts with it.
var kernelFilterFlagRE = regexp.MustCompile(`(?m)^\s*--kernel-filter\b`)

// hasKernelFilterFlag says whether ctwatch's watch help lists
// --kernel-filter.
func hasKernelFilterFlag(help []byte) bool { return kernelFilterFlagRE.Match(help) }

// floorCounts is what "ctbench floor" writes: its counts by type and, with
// -match-dport, those of the matching messages. Embedded, the counts stay
// readable as a plain eventCounts.
type floorCounts struct {
	eventCounts
	Matching *eventCounts `json:"matching,omitempty"`
}

// countMatchingMessages counts, by kind, the event messages of one datagram
// whose original destination port is port.
func countMatchingMessages(c *eventCounts, b []byte, port uint16) {
	for len(b) >= ctnl.NLMsgHdrLen {
		msg, rest, err := ctnl.NextMessage(b)
		if err != nil {
			return
		}
		if p, ok := origDPort(msg); ok && p == port {
			c.add(eventType(ctnl.ParseHeader(msg)))
		}
		b = rest
	}
}

// origDPort reads the destination port of a ctnetlink message's original
// tuple (CTA_TUPLE_ORIG, CTA_TUPLE_PROTO, CTA_PROTO_DST_PORT, big-endian);
// false when the message has none or does not parse.
func origDPort(msg []byte) (uint16, bool) {
	if len(msg) < ctnl.NLMsgHdrLen+ctnl.NFGenMsgLen {
		return 0, false
	}
	tuple, ok := findAttr(ctnl.Payload(msg)[ctnl.NFGenMsgLen:], ctnl.CTATupleOrig)
	if !ok {
		return 0, false
	}
	proto, ok := findAttr(tuple, ctnl.CTATupleProto)
	if !ok {
		return 0, false
	}
	port, ok := findAttr(proto, ctnl.CTAProtoDstPort)
	if !ok || len(port) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(port), true
}

// findAttr returns the payload of the first attribute of type typ in b.
func findAttr(b []byte, typ ctnl.AttrType) ([]byte, bool) {
	for len(b) > 0 {
		t, data, rest, ok := ctnl.NextAttr(b)
		if !ok {
			return nil, false
		}
		if t.Type() == typ {
			return data, true
		}
		b = rest
	}
	return nil, false
}

// The monitors of the filter part, in the order they are measured and
// shown.
const (
	// filterMonAll is ctwatch watch without a filter: the baseline.
	filterMonAll = "unfiltered"
	// filterMonKernel is ctwatch watch with the filter as it runs by
	// default: in the kernel (--kernel-filter) where ctwatch has the flag,
	// in userspace before. The target is judged on it.
	filterMonKernel = "filtered"
	// filterMonUser is ctwatch watch with the filter and
	// --kernel-filter=false: filtered in userspace, every event tracked.
	filterMonUser = "filtered-userspace"
	// filterMonConntrack is conntrack -E with the same filter, for
	// reference.
	filterMonConntrack = "conntrack-filtered"
)

var filterMonitors = []string{filterMonAll, filterMonKernel, filterMonUser, filterMonConntrack}

// noKernelFilterFlag is why filterMonUser is not run by a ctwatch without
// --kernel-filter.
const noKernelFilterFlag = "not available: `ctwatch watch --help` has no --kernel-filter"

// filterMonitorLabel names a filter monitor in the tables, with the filter
// of load.
func filterMonitorLabel(mon, load string, kernelFlag bool) string {
	ctw := "ctwatch watch " + strings.Join(ctwatchFilterArgs(load), " ")
	switch mon {
	case filterMonAll:
		return "ctwatch watch (no filter)"
	case filterMonKernel:
		if kernelFlag {
			return ctw + " --kernel-filter"
		}
		return ctw + " (no --kernel-filter: filtered in userspace)"
	case filterMonUser:
		return ctw + " --kernel-filter=false"
	case filterMonConntrack:
		return "conntrack -E " + strings.Join(conntrackFilterArgs(load), " ")
	}
	return mon
}

// filterPart is the filter part's report.
type filterPart struct {
	// Port is the matching operations' destination port; Every says one
	// operation in Every goes there.
	Port  int `json:"port"`
	Every int `json:"every"`
	// KernelFlag says whether the ctwatch measured has --kernel-filter;
	// without it, filterMonUser is not run.
	KernelFlag   bool                `json:"kernel_flag"`
	Calibrations []filterCalibration `json:"calibrations,omitempty"`
	Results      []filterResult      `json:"results,omitempty"`
}

// filterCalibration is the count of one full-speed run of a filter load by
// the raw listener: all the events and the matching ones, by type.
type filterCalibration struct {
	Load             string      `json:"load"`
	Generated        eventCounts `json:"generated"`
	Matching         eventCounts `json:"matching"`
	Received         eventCounts `json:"received"`
	ReceivedMatching eventCounts `json:"received_matching"`
	Drops            uint64      `json:"drops"`
	GenSeconds       float64     `json:"gen_seconds"`
	Err              string      `json:"error,omitempty"`
}

// OK says whether the listener saw exactly the generated events, and
// exactly the generated matching ones among them.
func (c filterCalibration) OK() bool {
	return c.Err == "" && c.Drops == 0 && sameEvents(c.Generated, c.Received) && sameEvents(c.Matching, c.ReceivedMatching) &&
		c.Matching.Events() > 0
}

// filterResult is one measurement of the filter part: one monitor on one
// full-speed run of a load.
type filterResult struct {
	Load    string `json:"load"`
	Monitor string `json:"monitor"`
	Run     int    `json:"run"`

	// Generated is the load's events, Matching those the filter selects.
	Generated   eventCounts `json:"generated"`
	Matching    eventCounts `json:"matching"`
	GenSeconds  float64     `json:"gen_seconds"`
	GenCPUNanos int64       `json:"gen_cpu_ns"`
	Groups      uint32      `json:"groups"`
	// Load is the generated events of the subscribed types: what the
	// monitor's socket was sent with no filter, the CPU's denominator.
	Subscribed int `json:"subscribed"`
	// Want is the records expected by type: the matching events of the
	// subscribed types, or all of them for the unfiltered watch; Counts
	// the records written.
	Want        eventCounts `json:"want"`
	Counts      eventCounts `json:"counts"`
	KernelDrops uint64      `json:"kernel_drops"`
	CPUNanos    int64       `json:"cpu_ns"`
	PeakRSS     uint64      `json:"peak_rss"`
	Drained     bool        `json:"drained"`
	OtherCPU    float64     `json:"other_cpu"`
	Busy        bool        `json:"busy,omitempty"`
	Attempts    int         `json:"attempts"`
	Err         string      `json:"error,omitempty"`
}

// span is the result's measured span, for the interference note.
func (r filterResult) span() (measuredSpan, bool) {
	return measuredSpan{r.OtherCPU, r.Busy, r.Attempts}, r.Err == ""
}

// CPUPerEvent is the monitor's CPU time per event of the load, in
// microseconds: per event generated (of the subscribed types), not per
// record written, so that a filter's saving shows.
func (r filterResult) CPUPerEvent() float64 {
	return microsPer(r.CPUNanos, r.Subscribed)
}

// Exact says whether the monitor wrote exactly the expected records, by
// type.
func (r filterResult) Exact() bool { return sameEvents(r.Want, r.Counts) }

// Achieved is the generator's actual rate in events per second.
func (r filterResult) Achieved() float64 {
	return perSecond(r.Generated.Events(), r.GenSeconds)
}

// filterRow is one line of a filter table: one monitor on one load over
// its runs.
type filterRow struct {
	Monitor string
	// Skipped says why the monitor was not run.
	Skipped string
	runTally
	// Runs counts the measured runs, Exact those with exactly the expected
	// records.
	Runs, Exact int

	Subscribed, Want, Received, Drops stat
	// LossPct is the share of the expected records not written.
	LossPct stat
	CPU     stat // µs per event of the load
	// CPUPerRecord is µs per record written: for the unfiltered watch,
	// its cost per event it did read, the yardstick when it lost some.
	CPUPerRecord     stat
	RSSMiB, Achieved stat
	// Ratio is the median CPU per event over the unfiltered watch's; NaN
	// without it.
	Ratio float64
}

// aggregateFilter builds one load's filter table, one row per monitor.
func aggregateFilter(part *filterPart, load string) []filterRow {
	var rows []filterRow
	for _, mon := range filterMonitors {
		r := filterRow{Monitor: mon, Ratio: math.NaN()}
		if mon == filterMonUser && !part.KernelFlag {
			r.Skipped = noKernelFilterFlag
		}
		var sub, want, rec, drops, loss, cpu, cpuRec, rss, ach []float64
		for _, res := range part.Results {
			if res.Load != load || res.Monitor != mon {
				continue
			}
			if !r.add(res.Err, res.Drained) {
				continue
			}
			r.Runs++
			if res.Exact() {
				r.Exact++
			}
			sub = append(sub, float64(res.Subscribed))
			want = append(want, float64(res.Want.Events()))
			rec = append(rec, float64(res.Counts.Events()))
			drops = append(drops, float64(res.KernelDrops))
			loss = append(loss, ratio(float64(res.Want.Events()-res.Counts.Events())*100, float64(res.Want.Events())))
			cpu = append(cpu, res.CPUPerEvent())
			cpuRec = append(cpuRec, ratio(float64(res.CPUNanos)/1e3, float64(res.Counts.Events())))
			rss = append(rss, float64(res.PeakRSS)/(1<<20))
			ach = append(ach, res.Achieved())
		}
		r.Subscribed, r.Want, r.Received, r.Drops = summarize(sub), summarize(want), summarize(rec), summarize(drops)
		r.CPU, r.RSSMiB, r.Achieved, r.LossPct = summarize(cpu), summarize(rss), summarize(ach), summarize(loss)
		r.CPUPerRecord = summarize(cpuRec)
		rows = append(rows, r)
	}
	base := rows[0]
	if base.CPU.N > 0 {
		for i := range rows {
			if rows[i].CPU.N > 0 {
				rows[i].Ratio = ratio(rows[i].CPU.Med, base.CPU.Med)
			}
		}
	}
	return rows
}

// lossyBase says whether the unfiltered watch of a load's rows lost more
// than 1 % of its events in a run: it spent no CPU on those, so its CPU
// per event of the load understates its cost, and a ratio to it overstates
// the filtered watch's.
func lossyBase(rows []filterRow) bool {
	return len(rows) > 0 && rows[0].Monitor == filterMonAll && rows[0].LossPct.N > 0 && rows[0].LossPct.Max > 1
}

// filterLimit is issue 14's bound: the filtered watch's CPU per event at
// most this times the unfiltered watch's.
const filterLimit = 0.1

// filterTargets judges issue 14's target on each load of the filter part:
// the default filtered watch's median CPU per event of the load at most
// filterLimit × the unfiltered watch's, no kernel drop in any run, and
// exactly the matching records in every run. Against an unfiltered watch
// that lost events (lossyBase), whose CPU per event of the load is then too
// low, a ratio over the limit is taken again against its CPU per record
// written, its cost per event it did read: still over, the target is not
// met; within, it is not judged.
func filterTargets(rep *report) []target {
	part := rep.Filter
	if part == nil {
		return nil
	}
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	var ts []target
	for _, load := range rep.Config.FilterLoads {
		rows := aggregateFilter(part, load)
		get := func(mon string) *filterRow {
			for i := range rows {
				if rows[i].Monitor == mon {
					return &rows[i]
				}
			}
			return nil
		}
		all, filtered, user := get(filterMonAll), get(filterMonKernel), get(filterMonUser)
		t := target{
			Name: fmt.Sprintf("filter matching %s of the %s load (%s) at full speed: CPU/event ≤ %s × the unfiltered watch, zero kernel drops, exactly the matching records",
				shareLabel(part.Every), load, strings.Join(ctwatchFilterArgs(load), " "), strconv.FormatFloat(filterLimit, 'f', -1, 64)),
			Verdict: verdictNotMeasured,
		}
		switch {
		case filtered.Runs == 0 && filtered.Failed > 0:
			t.Measured = "the filtered watch failed: " + filtered.Err
		case all.Runs == 0 && all.Failed > 0:
			t.Measured = "the unfiltered watch failed: " + all.Err
		case filtered.Runs == 0 || all.Runs == 0 || math.IsNaN(filtered.Ratio):
			t.Measured = "needs the filtered and the unfiltered watch on the " + load + " load"
		default:
			// Kept short: cellText cuts a cell at 160 characters.
			where := "userspace: no --kernel-filter"
			if part.KernelFlag {
				where = "--kernel-filter"
			}
			t.Measured = fmt.Sprintf("%s× (%s / %s µs/event, %s); drops ≤ %s; exact %d/%d runs",
				f2(filtered.Ratio), f2(filtered.CPU.Med), f2(all.CPU.Med), where,
				formatCount(int64(filtered.Drops.Max)), filtered.Exact, filtered.Runs+filtered.Failed)
			if user.Runs > 0 && !math.IsNaN(user.Ratio) {
				t.Measured += fmt.Sprintf("; --kernel-filter=false %s×", f2(user.Ratio))
			}
			switch {
			case filtered.Drops.Max > 0 || filtered.Exact != filtered.Runs || filtered.Failed > 0:
				t.Verdict = verdictNotMet
			case filtered.Ratio <= filterLimit:
				t.Verdict = verdictMet
			case lossyBase(rows):
				against := ratio(filtered.CPU.Med, all.CPUPerRecord.Med)
				t.Measured += fmt.Sprintf("; † baseline lost %s: %s× its %s µs/record",
					percentValue(all.LossPct.Max), f2(against), f2(all.CPUPerRecord.Med))
				if math.IsNaN(against) || against > filterLimit {
					t.Verdict = verdictNotMet
				}
			default:
				t.Verdict = verdictNotMet
			}
		}
		ts = append(ts, t)
	}
	return ts
}
