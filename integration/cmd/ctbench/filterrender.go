//go:build integration

package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Markdown rendering of the filter part: its tables, its calibration and
// its section of docs/performance.md.

// writeFilterTables writes one table per filter load and the part's
// interference note.
func writeFilterTables(w io.Writer, rep *report) {
	part := rep.Filter
	if part == nil {
		return
	}
	every := max(part.Every, 1)
	for _, load := range rep.Config.FilterLoads {
		fmt.Fprintf(w, "### filter: %s of the %s load matches `%s`\n\n", shareLabel(every), load, strings.Join(ctwatchFilterArgs(load), " "))
		fmt.Fprintf(w, "%s events per run (rounded up to whole multiples of %d operations) at full speed, %s; one operation in %d goes to port %d and matches; %d run(s) per row: median (min–max). *CPU µs/event* is per event of the load, whatever the monitor wrote.\n\n",
			formatCount(int64(rep.Config.Events)), every, loadInfo[load].events, every, part.Port, rep.Config.Runs)
		rows := aggregateFilter(part, load)
		writeFilterTable(w, rows, load, part.KernelFlag)
		fmt.Fprintln(w)
		if lossyBase(rows) {
			fmt.Fprintf(w, "† The unfiltered watch lost up to %s of the events in a run: it spent no CPU on those, so the ratios to it overstate the others' cost.\n\n",
				percentValue(rows[0].LossPct.Max))
		}
	}
	writeNote(w, interferenceNote(part.Results))
}

// writeFilterTable writes one filter load's rows.
func writeFilterTable(w io.Writer, rows []filterRow, load string, kernelFlag bool) {
	dagger := ""
	if lossyBase(rows) {
		dagger = " †"
	}
	fmt.Fprintln(w, "| monitor | achieved | events of the load | expected records | records | exact runs | kernel drops | CPU µs/event | × unfiltered | peak RSS MiB |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		label := filterMonitorLabel(r.Monitor, load, kernelFlag)
		if r.Monitor == filterMonKernel {
			label = "**" + label + "**"
		}
		switch {
		case r.Skipped != "":
			fmt.Fprintf(w, "| %s | %s |||||||||\n", label, cellText(r.Skipped))
			continue
		case r.Runs == 0 && r.Failed > 0:
			fmt.Fprintf(w, "| %s | failed: %s |||||||||\n", label, cellText(r.Err))
			continue
		case r.Runs == 0:
			fmt.Fprintf(w, "| %s | not run |||||||||\n", label)
			continue
		}
		ratioText := "—"
		if !math.IsNaN(r.Ratio) {
			ratioText = strconv.FormatFloat(r.Ratio, 'f', 2, 64) + "×"
			if r.Monitor != filterMonAll {
				ratioText += dagger
			}
		}
		fmt.Fprintf(w, "| %s%s | %s | %s | %s | %s | %d of %d | %s | %s | %s | %s |\n",
			label, r.notes(), rateCell(r.Achieved.Med), countCell(r.Subscribed), countCell(r.Want), countCell(r.Received),
			r.Exact, r.Runs+r.Failed, countCell(r.Drops), floatCell(r.CPU, 2), ratioText, floatCell(r.RSSMiB, 1))
	}
}

// writeFilterCalibration writes the filter part's calibration table.
func writeFilterCalibration(w io.Writer, part *filterPart) {
	fmt.Fprintln(w, "| load | generated NEW / UPDATE / DESTROY | of which matching | raw listener | of which matching | drops | generator | verdict |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|---|")
	for _, c := range part.Calibrations {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Load, triple(c.Generated), triple(c.Matching),
			triple(c.Received), triple(c.ReceivedMatching), formatCount(int64(c.Drops)),
			rateCell(ratio(float64(c.Generated.Events()), c.GenSeconds)), calibrationVerdict(c.Err, c.OK()))
	}
}

// writeFilterSection writes the document's section on the filter part.
func writeFilterSection(w io.Writer, rep *report) {
	part := rep.Filter
	if part == nil {
		return
	}
	cfg := rep.Config
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Filters: a watch that writes 1 %% of the events\n\n")
	p("What does a narrow filter cost? The filter part generates each load at full speed with one\n")
	p("operation in %d sent to destination port %d instead of the load's own (a connect to another\n", part.Every, part.Port)
	p("closed port; an entry with another destination port), so that exactly %s of the events\n", shareLabel(part.Every))
	p("match the filter `--proto P --dport %d` (P the load's protocol). In each run, in turn and\n", part.Port)
	p("pinned to CPU %d, on the same load in the same namespace:\n\n", cfg.MonCPU)
	p("- %s: the baseline.\n", filterMonitorLabel(filterMonAll, "tcp", part.KernelFlag))
	if part.KernelFlag {
		p("- ctwatch watch with the filter and `--kernel-filter`: the filter compiled to a classic BPF\n")
		p("  program on the event socket, so that the kernel does not queue the other events.\n")
		p("- ctwatch watch with the filter and `--kernel-filter=false`: every event read, decoded and\n")
		p("  tracked, the filter applied to what is written.\n")
	} else {
		p("- ctwatch watch with the filter: this ctwatch has no `--kernel-filter` (its `watch --help`\n")
		p("  does not list it), so it reads, decodes and tracks every event and applies the filter to\n")
		p("  what it writes. The `--kernel-filter=false` row is not available.\n")
	}
	p("- conntrack -E with the same filter in its own flags (`-p P --dport %d`), for reference.\n\n", part.Port)
	p("*Events of the load* is the generated events of the types the monitor subscribed to, the\n")
	p("divisor of *CPU µs/event*: a filter's saving shows as a lower CPU per event of the load.\n")
	p("*Expected records* is the matching events among them (all of them for the unfiltered\n")
	p("watch); a run is *exact* when the monitor wrote exactly those, type by type. The drain and\n")
	p("the measured span are as above. The target is judged on the filtered watch as it runs by\n")
	p("default: its median CPU per event at most %s × the unfiltered watch's, no kernel drop and\n", strconv.FormatFloat(filterLimit, 'f', -1, 64))
	p("exact records in every run. An unfiltered watch that lost events spent no CPU on them, so its\n")
	p("CPU per event of the load is too low (†): a ratio over the bound is then taken again against\n")
	p("its CPU per record written, its cost per event it did read; over the bound there too, the\n")
	p("target is not met, within it, not judged.\n\n")
	writeFilterTables(w, rep)
	if len(part.Calibrations) > 0 {
		p("Calibration: before the measurements of each load, the raw listener (%s buffer) counts\n", sizeLabel(cfg.CalibrationBuffer))
		p("one run's event messages by type, and those whose original destination port is %d; both\n", part.Port)
		p("must equal the generator's.\n\n")
		writeFilterCalibration(w, part)
		p("\n")
	}
}
