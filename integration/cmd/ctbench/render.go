//go:build integration

package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Markdown rendering of the results: the tables printed on stdout and the
// whole of docs/performance.md. Everything here is pure, from a report.

// loadInfo describes a load for the tables.
var loadInfo = map[string]struct{ title, events string }{
	"tcp":       {"TCP connects to a closed port on 127.0.0.1", "NEW + DESTROY per connect (SYN answered by RST)"},
	"udp":       {"UDP datagrams to new ports, each entry then deleted over ctnetlink", "NEW + DESTROY per datagram"},
	"ctnetlink": {"batched ctnetlink create, update and delete requests", "NEW + UPDATE + DESTROY per entry"},
}

// monitorLabel names a monitor in the tables.
func monitorLabel(name string, cfg benchConfig) string {
	switch name {
	case "ctwatch":
		if len(cfg.CtwatchFlags) > 0 {
			return "ctwatch watch " + strings.Join(cfg.CtwatchFlags, " ")
		}
		return "ctwatch watch"
	case "conntrack":
		return "conntrack -E"
	case "conntrack-8m":
		return "conntrack -E, " + sizeLabel(cfg.ConntrackBuffer) + " buffer"
	case "ulogd":
		return "ulogd2 NFCT → JSON"
	case "floor":
		return "raw reader (floor)"
	}
	return name
}

// sizeLabel writes a byte count as MiB or KiB when it divides.
func sizeLabel(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// mibLabel writes a size in MiB, to one decimal where it is not whole.
func mibLabel(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

// rateLabel writes a target rate: "20k/s", "full speed".
func rateLabel(r float64) string {
	if r <= 0 {
		return "full speed"
	}
	return kiloLabel(r) + "/s"
}

// kiloLabel writes a rate in thousands, with no more digits than it needs.
func kiloLabel(r float64) string {
	if math.IsNaN(r) {
		return "—"
	}
	if r < 1000 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	k := r / 1000
	switch {
	case k == math.Trunc(k):
		return strconv.FormatFloat(k, 'f', 0, 64) + "k"
	case k >= 100:
		return strconv.FormatFloat(k, 'f', 0, 64) + "k"
	}
	return strconv.FormatFloat(k, 'f', 1, 64) + "k"
}

// writeTables writes one results table per load.
func writeTables(w io.Writer, rep *report) {
	if !rep.Config.has("matrix") {
		return
	}
	for _, load := range rep.Config.Loads {
		info := loadInfo[load]
		fmt.Fprintf(w, "### %s: %s\n\n", load, info.title)
		fmt.Fprintf(w, "%s events per run, %s; %d run(s) per cell: median (min–max).\n\n",
			formatCount(int64(rep.Config.Events)), info.events, rep.Config.Runs)
		writeTable(w, aggregate(rep.Results, load, rep.Config.Rates, rep.Config.Monitors, rep.Skipped), rep.Config)
		fmt.Fprintln(w)
		writeNote(w, noiseNote(rep.Results, load))
	}
}

// noiseNote is the interference note of a load's measurements.
func noiseNote(results []runResult, load string) string {
	var ofLoad []runResult
	for _, r := range results {
		if r.Load == load {
			ofLoad = append(ofLoad, r)
		}
	}
	return interferenceNote(ofLoad)
}

// measuredSpan is what the interference note needs of a measurement that
// did not fail.
type measuredSpan struct {
	otherCPU float64 // others' share of the benchmark CPUs, 0 to 1
	busy     bool    // started on a busy machine: the quiet gate timed out
	attempts int
}

// measuredResult is a part's result as the interference note counts it.
type measuredResult interface {
	// span is the measured span; false for a failed measurement, which
	// has none.
	span() (measuredSpan, bool)
}

// interferenceNote says how much of the benchmark's CPUs other processes
// took during the results' measured spans: the numbers include that
// interference. It is "" without spans.
func interferenceNote[R measuredResult](results []R) string {
	var other []float64
	busy, repeated := 0, 0
	for _, r := range results {
		s, ok := r.span()
		if !ok {
			continue
		}
		other = append(other, s.otherCPU*100)
		if s.busy {
			busy++
		}
		if s.attempts > 1 {
			repeated++
		}
	}
	s := summarize(other)
	if s.N == 0 {
		return ""
	}
	note := fmt.Sprintf("Interference: other processes took %s of the two benchmark CPUs' time during the measured spans (median; at most %s).",
		percentValue(s.Med), percentValue(s.Max))
	if repeated > 0 {
		note += fmt.Sprintf(" %d measurement(s) were repeated for interference.", repeated)
	}
	if busy > 0 {
		note += fmt.Sprintf(" **%d run(s) started on a busy machine** (the quiet gate timed out): their numbers include someone else's load.", busy)
	}
	return note
}

// writeNote writes note as a paragraph, nothing when it is "".
func writeNote(w io.Writer, note string) {
	if note != "" {
		fmt.Fprintln(w, note)
		fmt.Fprintln(w)
	}
}

// writeTable writes one load's rows.
func writeTable(w io.Writer, rows []row, cfg benchConfig) {
	fmt.Fprintln(w, "| rate | monitor | achieved | expected | received | lost | kernel drops | CPU µs/event | × conntrack -E | sys | write(2)/event | peak RSS MiB |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		label := monitorLabel(r.Monitor, cfg)
		if r.Monitor == "ctwatch" {
			label = "**" + label + "**"
		}
		switch {
		case r.Skipped != "":
			fmt.Fprintf(w, "| %s | %s | skipped: %s ||||||||||\n", rateLabel(r.Rate), label, cellText(r.Skipped))
			continue
		case r.Expected.N == 0 && r.Failed > 0:
			fmt.Fprintf(w, "| %s | %s | failed: %s ||||||||||\n", rateLabel(r.Rate), label, cellText(r.Err))
			continue
		case r.Expected.N == 0:
			fmt.Fprintf(w, "| %s | %s | not run ||||||||||\n", rateLabel(r.Rate), label)
			continue
		}
		fmt.Fprintf(w, "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			rateLabel(r.Rate), label, r.notes(),
			rateCell(r.Achieved.Med),
			countCell(r.Expected),
			countCell(r.Received),
			lostCell(r.Lost, r.LossPct),
			countCell(r.Drops),
			floatCell(r.CPU, 2),
			ratioCell(r),
			percentCell(r.SysShare),
			floatCell(stat{Med: r.WritesPerEvent.Med, N: 1}, 3),
			floatCell(stat{Med: r.RSSMiB.Max, N: 1}, 1))
	}
}

// rateCell writes an achieved rate.
func rateCell(r float64) string {
	if math.IsNaN(r) {
		return "—"
	}
	return kiloLabel(r) + "/s"
}

// cellText makes text safe in a table cell.
func cellText(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// spread says whether a cell's runs differ enough to show their range.
func spread(s stat) bool { return s.N > 1 && s.Min != s.Max }

func countCell(s stat) string {
	if s.N == 0 {
		return "—"
	}
	c := formatCount(int64(math.Round(s.Med)))
	if spread(s) {
		c += " (" + formatCount(int64(math.Round(s.Min))) + "–" + formatCount(int64(math.Round(s.Max))) + ")"
	}
	return c
}

func lostCell(lost, pct stat) string {
	if lost.N == 0 {
		return "—"
	}
	if lost.Min == 0 && lost.Max == 0 {
		return "0"
	}
	return countCell(lost) + ", " + percentValue(pct.Med)
}

func percentValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p != 0 && math.Abs(p) < 0.1:
		return strconv.FormatFloat(p, 'f', 3, 64) + " %"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + " %"
}

func floatCell(s stat, prec int) string {
	if s.N == 0 || math.IsNaN(s.Med) {
		return "—"
	}
	c := strconv.FormatFloat(s.Med, 'f', prec, 64)
	if spread(s) {
		c += " (" + strconv.FormatFloat(s.Min, 'f', prec, 64) + "–" + strconv.FormatFloat(s.Max, 'f', prec, 64) + ")"
	}
	return c
}

func percentCell(s stat) string {
	if s.N == 0 || math.IsNaN(s.Med) {
		return "—"
	}
	return strconv.FormatFloat(s.Med, 'f', 0, 64) + " %"
}

func ratioCell(r row) string {
	if math.IsNaN(r.Ratio) {
		return "—"
	}
	c := strconv.FormatFloat(r.Ratio, 'f', 2, 64) + "×"
	if r.RefLossy && r.Monitor != referenceMonitor {
		c += " †"
	}
	return c
}

// writeTargets writes the targets table.
func writeTargets(w io.Writer, rep *report) {
	fmt.Fprintln(w, "| target | measured | verdict |")
	fmt.Fprintln(w, "|---|---|---|")
	var ts []target
	if rep.Config.has("matrix") {
		ts = evaluateTargets(rep)
	}
	if rep.Config.has("netns") {
		ts = append(ts, nsTargets(rep)...)
	}
	ts = append(ts, bigTableTargets(rep)...)
	if rep.Config.has("lowrate") {
		ts = append(ts, lowTargets(rep)...)
	}
	if rep.Config.has("filter") {
		ts = append(ts, filterTargets(rep)...)
	}
	for _, t := range append(ts, goBenchTargets(rep.GoBench)...) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.Name, cellText(t.Measured), t.Verdict)
	}
}

// calibrationVerdict is a calibration's verdict cell; errText is its
// error, "" when it ran, and ok whether its counts agree.
func calibrationVerdict(errText string, ok bool) string {
	switch {
	case errText != "":
		return "**failed**: " + cellText(errText)
	case !ok:
		return "**mismatch**"
	}
	return "exact"
}

// writeCalibration writes the calibration table.
func writeCalibration(w io.Writer, rep *report) {
	fmt.Fprintln(w, "| load | generated NEW / UPDATE / DESTROY | raw listener NEW / UPDATE / DESTROY | drops | generator | verdict |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|---|")
	for _, c := range rep.Calibrations {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", c.Load, triple(c.Generated), triple(c.Received),
			formatCount(int64(c.Drops)), rateCell(ratio(float64(c.Generated.Events()), c.GenSeconds)), calibrationVerdict(c.Err, c.OK()))
	}
}

func triple(c eventCounts) string {
	return formatCount(int64(c.New)) + " / " + formatCount(int64(c.Update)) + " / " + formatCount(int64(c.Destroy))
}

// writeStdout writes what ctbench prints: the tables and the targets.
func writeStdout(w io.Writer, rep *report) {
	fmt.Fprintf(w, "## ctbench results (%s, %d CPUs, Linux %s)\n\n", rep.Machine.CPUModel, rep.Machine.CPUs, rep.Machine.Kernel)
	writeTables(w, rep)
	if rep.Config.has("netns") {
		writeNetNSTable(w, rep)
	}
	writeBigTableTables(w, rep)
	if rep.Config.has("lowrate") {
		writeLowRateTable(w, rep)
	}
	if rep.Config.has("filter") {
		writeFilterTables(w, rep)
	}
	fmt.Fprintln(w, "### Targets")
	fmt.Fprintln(w)
	writeTargets(w, rep)
	if rep.Config.has("matrix") {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### Calibration")
		fmt.Fprintln(w)
		writeCalibration(w, rep)
	}
	if rep.Config.has("filter") && rep.Filter != nil && len(rep.Filter.Calibrations) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### Filter calibration")
		fmt.Fprintln(w)
		writeFilterCalibration(w, rep.Filter)
	}
}

// writeDocument writes docs/performance.md.
func writeDocument(w io.Writer, rep *report) {
	cfg := rep.Config
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Performance: ctwatch against conntrack -E and ulogd2\n\n")
	p("This page is generated by `ctbench` (`integration/cmd/ctbench`); every number on it is\n")
	p("from the run of %s UTC on the machine described below. To measure again (as root,\n", rep.Started.UTC().Format("2006-01-02 15:04"))
	p("from the repository's root; this run took %s):\n\n", minutesLabel(rep.Finished.Sub(rep.Started)))
	p("```sh\n%s\n```\n\n", reproduceCommand(cfg))
	p("Each monitor watches the same generated load, one after another, in a network namespace\n")
	p("of the benchmark's own. *Expected* is the events of the types the monitor subscribed to,\n")
	p("*received* the records it wrote for them, *lost* the difference; *kernel drops* is the\n")
	p("socket's own drop counter. *CPU µs/event* is the monitor's CPU time (user + system, all\n")
	p("threads) divided by the expected events, and *× conntrack -E* its ratio to conntrack -E's\n")
	p("at the same rate: the project's targets are stated as such ratios.\n\n")

	p("## Targets\n\n")
	writeTargets(w, rep)
	p("\nA loss target is met only if every run met it; a CPU target compares medians, at every\n")
	p("rate at which conntrack -E delivered its events. † marks a rate at which conntrack -E\n")
	p("itself lost more than 1 %% of them in at least one run: it spent no CPU on those, so its\n")
	p("CPU per event there is no yardstick, and the ratio is shown but not judged.\n\n")

	p("## Results\n\n")
	writeTables(w, rep)
	p("Columns: *achieved* is the generator's actual rate (events over the time from its first\n")
	p("to the end of its last operation). *sys* is the share of the CPU time spent in the\n")
	p("kernel (from /proc/PID/stat's clock ticks), *write(2)/event* the output system calls per\n")
	p("expected event (/proc/PID/io), *peak RSS* the largest VmHWM of the runs. † marks a ratio\n")
	p("taken against a conntrack -E that lost more than 1 %% of its events at that rate in at\n")
	p("least one run: it spent no CPU on the events it lost, so the ratio flatters conntrack -E.\n\n")
	writeObservations(w, rep)
	if cfg.has("netns") {
		writeNetNSSection(w, rep)
	}
	writeBigTableSection(w, rep)
	if cfg.has("lowrate") {
		writeLowRateSection(w, rep)
	}
	if cfg.has("filter") {
		writeFilterSection(w, rep)
	}
	if len(rep.GoBench) > 0 {
		p("## Stages\n\n")
		p("The Go benchmarks of each stage (`make bench-go`: `go test -bench . -benchmem ./pkg/... ./internal/...`);\n")
		p("`make bench` runs them on the machine of the measurements above. *Decode* is ti-mo/conntrack's\n")
		p("`Event.Unmarshal` (the reference), *DecodeFast* the event path's decoder; *Pipeline* is one\n")
		p("event through decode, tracking, filtering and JSON encoding, in each record schema (native,\n")
		p("ecs, ocsf: *other* gives the time of the ECS and OCSF records against the native ones);\n")
		p("the tracker's are at a million flows.\n\n")
		writeGoBench(w, rep.GoBench)
		p("\n")
	}

	p("## Calibration: are the expected counts real?\n\n")
	p("Before the measurements of each load, the generator runs once at full speed while a raw\n")
	p("listener counts the kernel's event messages by type: a minimal reader of the conntrack\n")
	p("groups with a %s receive buffer (forced with SO_RCVBUFFORCE), which never overflows at\n", sizeLabel(cfg.CalibrationBuffer))
	p("these volumes, and whose socket's drop counter is checked to be 0. The counts must equal\n")
	p("the generator's, type by type. The generator itself checks every operation: each connect\n")
	p("must fail with ECONNREFUSED, each datagram be sent, and the kernel must refuse none of\n")
	p("the ctnetlink requests; a run in which one fails is reported as failed, not measured.\n\n")
	writeCalibration(w, rep)
	p("\n")

	p("## Method\n\n")
	p("- **Namespace.** Each load runs in a fresh network namespace (`ctbench-…`, deleted on exit,\n")
	p("  also on failure or SIGINT) with its loopback up and an nftables ruleset that matches\n")
	p("  `ct state`, which is what engages connection tracking in a namespace. All traffic is on\n")
	p("  that loopback. The kernel's `nf_conntrack_events` is left at its default. Before each\n")
	p("  measurement the table is checked to be empty (and flushed if not, with no listener).\n")
	p("- **Pinning.** The load generator (`ctbench gen`, re-executed inside the namespace) and the\n")
	p("  harness run on CPU %d; every monitor on CPU %d (`taskset`). The kernel builds and queues\n", cfg.GenCPU, cfg.MonCPU)
	p("  the event messages in the generator's context, so the monitor's CPU time is its own\n")
	p("  receiving, decoding and writing.\n")
	p("- **Loads.** `tcp`: blocking connects to port 9 of 127.0.0.1, where nothing listens; the\n")
	p("  SYN creates the entry (NEW), the RST deletes it at once (DESTROY). `udp`: datagrams from\n")
	p("  one socket to successive ports (NEW each; the input hook drops them so that no ICMP error\n")
	p("  comes back), their entries deleted over ctnetlink in the same tick (DESTROY each).\n")
	p("  `ctnetlink`: per batch, one sendmsg of create requests (UDP entries between 10.77.0.0/16\n")
	p("  and 10.78.0.1, ASSURED, %d s timeout), update requests (a new mark: UPDATE) and delete\n", entryTimeout)
	p("  requests (DESTROY), without acknowledgements (the kernel answers only failures, which\n")
	p("  are read and counted).\n")
	p("- **Rate.** A rate is events per second. The generator computes the operations due from\n")
	p("  the absolute time since its start and sends them in one batch per tick of about 1 ms\n")
	p("  (at most %d entries per sendmsg), so timer jitter changes batch sizes, never the\n", maxBatch)
	p("  average rate. *Full speed* sends batches back to back.\n")
	p("- **Run.** For each rate and run, every monitor in turn: start it; wait until its socket\n")
	p("  appears in the namespace's `/proc/net/netlink` with conntrack groups joined (and, for\n")
	p("  ctwatch, until its startup dump is done); read its CPU clock, `/proc/PID/stat` and\n")
	p("  `/proc/PID/io`; generate; wait until it has drained: its socket's Rmem is 0 and its\n")
	p("  output file has not grown for %s (timeout %s); read them again, and VmHWM and the\n", secondsLabel(drainQuiet), secondsLabel(cfg.DrainTimeout))
	p("  socket's Drops; stop it with SIGINT; count its output records by type. Monitors take\n")
	p("  turns within each run, so that drift over time affects them alike.\n")
	p("- **CPU time** is read from the process's CPU-time clock (`clock_gettime` of\n")
	p("  `MAKE_PROCESS_CPUCLOCK(pid)`): the same sum as /proc/PID/stat's utime + stime, over all\n")
	p("  threads, exited ones included, but in nanoseconds rather than 10 ms ticks. The startup\n")
	p("  and shutdown of the monitor are outside the measured span.\n")
	if cfg.Quiet > 0 {
		p("- **A quiet machine.** Each measurement starts only once the machine's CPUs have been less\n")
		p("  than %s busy over 200 ms (waiting at most %s per measurement, %s in all; a\n", percentValue(cfg.Quiet), secondsLabel(cfg.QuietTimeout), secondsLabel(cfg.QuietBudget))
		p("  run that had to start anyway is marked). During each measured span, the time other\n")
	} else {
		p("- **Interference.** Measurements did not wait for a quiet machine (`-quiet 0`). During each\n")
		p("  measured span, the time other\n")
	}
	p("  processes (and the hypervisor) took on the two benchmark CPUs is the CPUs' busy time\n")
	p("  from /proc/stat less the monitor's, the generator's and the harness's own: the\n")
	p("  *interference* line under each table. A measurement during which they took more than\n")
	p("  %s is measured again, up to %d more times; the last attempt counts.\n", percentValue(cfg.MaxInterference), cfg.Retries)
	p("- **Expected** events are those of the groups the monitor's socket joined, read from its\n")
	p("  Groups column: ulogd2's NFCT plugin without its hash table subscribes to NEW and\n")
	p("  DESTROY only (it cannot log UPDATE in that mode), so its expected count on the\n")
	p("  ctnetlink load is two thirds of the others'.\n\n")

	p("## Monitors\n\n")
	p("| monitor | how it runs |\n|---|---|\n")
	for _, m := range cfg.Monitors {
		p("| %s | %s |\n", monitorLabel(m, cfg), monitorHow(m, rep))
	}
	p("\n")

	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	cpu := rep.Machine.CPUModel
	if rep.Machine.Virtual {
		cpu += " (virtual machine)"
	}
	p("| CPU | %s |\n", cellText(cpu))
	p("| CPUs | %d |\n", rep.Machine.CPUs)
	if rep.Machine.MemBytes > 0 {
		p("| memory | %s |\n", mibLabel(rep.Machine.MemBytes))
	}
	p("| kernel | Linux %s |\n", cellText(rep.Machine.Kernel))
	p("| Go | %s |\n", cellText(rep.Machine.GoVersion))
	ctw := rep.Machine.Ctwatch
	if !strings.Contains(ctw, rep.Machine.Commit) {
		ctw += " (worktree at " + rep.Machine.Commit + ")"
	}
	p("| ctwatch | %s |\n", cellText(ctw))
	p("| conntrack-tools | %s |\n", cellText(rep.Machine.Conntrack))
	p("| ulogd2 | %s |\n", cellText(rep.Machine.Ulogd))
	p("| date | %s UTC (took %s) |\n", rep.Started.UTC().Format("2006-01-02 15:04"), minutesLabel(rep.Finished.Sub(rep.Started)))
	p("| matrix | loads %s; rates %s; %s events per run; %d run(s) |\n\n",
		strings.Join(cfg.Loads, ", "), ratesLabel(cfg.Rates), formatCount(int64(cfg.Events)), cfg.Runs)
}

// writeObservations writes what the numbers say that the tables do not
// show at a glance, computed from them: where conntrack -E's and ctwatch's
// time goes at the lowest rate, against the floor, and what full speed
// does to even the floor.
func writeObservations(w io.Writer, rep *report) {
	low := lowestRate(rep.Config.Rates)
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	var lines []string
	for _, load := range rep.Config.Loads {
		rows := aggregate(rep.Results, load, rep.Config.Rates, rep.Config.Monitors, rep.Skipped)
		get := func(mon string, rate float64) *row {
			for i := range rows {
				if rows[i].Monitor == mon && rows[i].Rate == rate && rows[i].Expected.N > 0 {
					return &rows[i]
				}
			}
			return nil
		}
		floor := get("floor", low)
		floorNote := ""
		if floor != nil {
			floorNote = fmt.Sprintf("; the floor, %s µs", f(floor.CPU.Med, 2))
		}
		if r := get(referenceMonitor, low); r != nil {
			lines = append(lines, fmt.Sprintf("- conntrack -E on %s at %s: %s µs of CPU per event, %s of it in the kernel; %s write(2) of %s bytes and %s read(2) per event%s.",
				load, rateLabel(low), f(r.CPU.Med, 2), percentValue(r.SysShare.Med),
				f(r.WritesPerEvent.Med, 2), f(ratio(r.BytesPerEvent.Med, r.WritesPerEvent.Med), 0), f(r.ReadsPerEvent.Med, 2), floorNote))
		}
		if r := get("ctwatch", low); r != nil {
			lines = append(lines, fmt.Sprintf("- ctwatch on %s at %s: %s µs of CPU per event, %s of it in the kernel; %s write(2) per event, of %s bytes each%s.",
				load, rateLabel(low), f(r.CPU.Med, 2), percentValue(r.SysShare.Med),
				f(r.WritesPerEvent.Med, 3), f(ratio(r.BytesPerEvent.Med, r.WritesPerEvent.Med), 0), floorNote))
		}
		if r := get("floor", 0); r != nil && r.LossPct.Med > 1 {
			lines = append(lines, fmt.Sprintf("- At full speed on %s the generator made an event every %s µs and the raw reader spent %s µs on one: "+
				"even it lost %s once its buffer was full. Without loss, a reader of one CPU must handle an event in less time than the generator "+
				"takes to make one, or its buffer must hold the whole burst.",
				load, f(1e6/r.Achieved.Med, 2), f(r.CPU.Med, 2), percentValue(r.LossPct.Med)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "Where the time goes (medians):")
	fmt.Fprintln(w)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

// lowestRate is the lowest target rate, full speed only if it is the only
// one.
func lowestRate(rates []float64) float64 {
	low := 0.0
	for _, r := range rates {
		if r > 0 && (low == 0 || r < low) {
			low = r
		}
	}
	return low
}

// monitorHow says how a monitor is run, for the document.
func monitorHow(name string, rep *report) string {
	cfg, rmem := rep.Config, rep.Machine.RmemDefault
	switch name {
	case "ctwatch":
		buf := "1/256 of the machine's memory, between 8 and 64 MiB"
		var asked int64
		for _, r := range rep.Results {
			if r.Monitor == name {
				asked = max(asked, r.Buffer)
			}
		}
		if asked > 0 {
			buf += ": " + mibLabel(asked) + " here, as its start record says"
		}
		return "`bin/ctwatch watch --netns NS --output FILE" + strings.TrimRight(" "+strings.Join(cfg.CtwatchFlags, " "), " ") +
			"` from `make build`, outside the namespace; its default receive buffer (" + buf + "; SO_RCVBUFFORCE, doubled by the kernel)"
	case "conntrack":
		return "`ip netns exec NS conntrack -E > FILE`: default output, the kernel's default buffer (net.core.rmem_default, " + sizeLabel(rmem) + " here). " +
			"It writes each event with its own write(2), and for each event caused from userspace (all of the ctnetlink load's) " +
			"it opens and reads /proc/net/netlink to name the process (`[USERSPACE] portid=… progname=…`), seen with strace"
	case "conntrack-8m":
		return fmt.Sprintf("as above, with the host's net.core.rmem_default raised to %s from just before it starts until its socket exists, "+
			"then restored: the buffer `-b %d` should give (the kernel doubles what setsockopt asks for). "+
			"`-b` itself does not work in conntrack-tools 1.4.7: it sets SO_RCVBUFFORCE on its request socket, not on the event socket (seen with strace)",
			sizeLabel(2*cfg.ConntrackBuffer), cfg.ConntrackBuffer)
	case "ulogd":
		return "`ip netns exec NS ulogd -c CONF`: stack `NFCT → IP2STR → JSON`, NFCT with `hash_enable=0` (one record per event) " +
			"and an 8 MiB `netlink_socket_buffer_size`, JSON to a file with the plugin's default buffering"
	case "floor":
		return "`ip netns exec NS ctbench floor`: one raw blocking recvfrom(2) per message (not through the Go scheduler), counting by type; " +
			"8 MiB buffer, NETLINK_NO_ENOBUFS, no output: the kernel's cost of delivering the events plus the least a reader adds"
	}
	return ""
}

// minutesLabel writes a run's duration: "9 min", "45 s".
func minutesLabel(d time.Duration) string {
	if d < time.Minute {
		return secondsLabel(d.Round(time.Second))
	}
	return strconv.FormatInt(int64(d.Round(time.Minute)/time.Minute), 10) + " min"
}

// secondsLabel writes a duration in seconds: "0.3 s", "60 s".
func secondsLabel(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// ratesLabel lists rates: "20k/s, 50k/s, full speed".
func ratesLabel(rates []float64) string {
	var l []string
	for _, r := range rates {
		l = append(l, rateLabel(r))
	}
	return strings.Join(l, ", ")
}

// reproduceCommand is the command that reruns this benchmark and rewrites
// the document.
func reproduceCommand(cfg benchConfig) string {
	args := cfg.nonDefaultArgs()
	args = append(args, "-write", "docs/performance.md")
	return "make bench BENCHARGS='" + strings.Join(args, " ") + "'"
}

// writeNetNSTable writes the netns part's table and its interference note.
func writeNetNSTable(w io.Writer, rep *report) {
	cfg := rep.Config
	fmt.Fprintf(w, "### netns: ctwatch --all-netns over %d namespaces\n\n", cfg.NetNSCount)
	fmt.Fprintf(w, "%s events per run at %s in all (%s), spread evenly over the namespaces, or all in one for the single-namespace watch; %d run(s) per row: median (min–max).\n\n",
		formatCount(int64(cfg.NetNSEvents)), rateLabel(cfg.NetNSRate), loadInfo["ctnetlink"].events, cfg.Runs)
	fmt.Fprintln(w, "| monitor | processes | achieved | expected | received | lost | namespaces exact | kernel drops | CPU µs/event | × single-namespace watch | peak RSS MiB |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range aggregateNetNS(rep.NetNS) {
		label := nsMonitorLabel(r.Monitor, cfg.NetNSCount)
		if r.Monitor == nsMonAll {
			if cfg.AllNetNSStandIn {
				label = "ctbench allns: stand-in for ctwatch --all-netns (pkg/events AllNetNS + nsdiscover; no tracker, no encoder)"
			}
			label = "**" + label + "**"
		}
		switch {
		case r.Expected.N == 0 && r.Failed > 0:
			fmt.Fprintf(w, "| %s | failed: %s |||||||||\n", label, cellText(r.Err))
			continue
		case r.Expected.N == 0:
			fmt.Fprintf(w, "| %s | not run |||||||||\n", label)
			continue
		}
		ratioText := "—"
		if !math.IsNaN(r.Ratio) {
			ratioText = strconv.FormatFloat(r.Ratio, 'f', 2, 64) + "×"
		}
		fmt.Fprintf(w, "| %s%s | %d | %s | %s | %s | %s | %s of %d | %s | %s | %s | %s |\n",
			label, r.notes(), r.Processes, rateCell(r.Achieved.Med), countCell(r.Expected), countCell(r.Received),
			lostCell(r.Lost, r.LossPct), countCell(r.ExactNS), r.Namespaces, countCell(r.Drops),
			floatCell(r.CPU, 2), ratioText, floatCell(r.RSSMiB, 1))
	}
	fmt.Fprintln(w)
	writeNote(w, interferenceNote(rep.NetNS))
}

// writeNetNSSection writes the document's section on the netns part.
func writeNetNSSection(w io.Writer, rep *report) {
	cfg := rep.Config
	n := cfg.NetNSCount
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## The whole node: %d namespaces, one ctwatch\n\n", n)
	p("One `ctwatch watch --all-netns` replaces a `conntrack -E` per namespace. The benchmark creates\n")
	p("%d namespaces of its own (`ctbench-…`, each with its loopback up and the `ct state` ruleset\n", n)
	p("of the loads above, deleted on exit), and the ctnetlink load goes to them in turn: one\n")
	p("generator process (`ctbench gen -netns`, pinned to CPU %d like the others) holds a ctnetlink\n", cfg.GenCPU)
	p("socket opened in each namespace and sends each tick's batch, as one sendmsg, to the next\n")
	p("namespace, passing over those that have had their share: every namespace gets exactly the\n")
	p("same number of entries, in the same bursts as the single-namespace watch gets them. In each\n")
	p("run, in turn and pinned to CPU %d:\n\n", cfg.MonCPU)
	p("- %s: `bin/ctwatch watch --all-netns --output FILE`, in the\n", nsMonitorLabel(nsMonAll, n))
	p("  harness's own namespace; measured once it has written a `netns_added` record for every one\n")
	p("  of the %d namespaces. Only the records naming one of them (`\"netns\":{\"name\":…}`, or its\n", n)
	p("  inode) are counted: other namespaces on the machine are not part of the load.\n")
	p("- %s: `bin/ctwatch watch --netns NS --output FILE`\n", nsMonitorLabel(nsMonSingle, n))
	p("  with the same total load in one of the namespaces: the baseline of the CPU and memory targets.\n")
	p("- %s: `ip netns exec NS conntrack -E > FILE` in each namespace,\n", nsMonitorLabel(nsMonEach, n))
	p("  started with the host's net.core.rmem_default raised to %s (restored once their sockets\n", sizeLabel(2*cfg.ConntrackBuffer))
	p("  exist), as for conntrack-8m above. Their CPU times, peak RSS, drops and records are summed.\n\n")
	p("*Namespaces exact* counts the namespaces whose records equal their share of the load, type by\n")
	p("type. *CPU µs/event* is the CPU time of all the monitor's processes over the expected events of\n")
	p("all the namespaces; *peak RSS* is VmHWM, summed over the processes. The drain and the\n")
	p("measured span are as above.\n\n")
	writeNetNSTable(w, rep)
}
