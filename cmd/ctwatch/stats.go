package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/record"
)

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", stderr)
	netnsSpec := fs.String("netns", "", "read the table of this network namespace: a NAME under /run/netns, a PATH or a PID (default: ctwatch's own)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	perCPU := fs.Bool("per-cpu", false, "also print each CPU's counters")
	timeout := fs.Duration("timeout", ctstat.DefaultTimeout, "give up on the kernel after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("stats takes no arguments, got %q", fs.Args())}
	}
	if *timeout <= 0 {
		return usageError{fmt.Errorf("--timeout must be positive, not %v", *timeout)}
	}
	ns, err := netns.Open(*netnsSpec)
	if err != nil {
		return fmt.Errorf("--netns: %w", err)
	}
	defer ns.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	r, err := ctstat.Read(ctx, ns)
	if err != nil {
		return needPrivilege("reading conntrack statistics", fmt.Errorf("stats: %w", err))
	}
	var buf bytes.Buffer
	if *asJSON {
		writeStatsJSON(&buf, &r, *perCPU)
	} else {
		writeStatsText(&buf, &r, *perCPU)
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// writeStatsJSON writes the reading as one JSON object: count, max, fill
// (percent), buckets, stats (the counters summed) and, with perCPU, per_cpu.
func writeStatsJSON(w io.Writer, r *ctstat.Reading, perCPU bool) {
	record.New(record.Config{Log: zerolog.New(w)}).Reading(r, perCPU)
}

// writeStatsText writes the reading as a short table: the fill on one line,
// then one line per counter with its total and, with perCPU, each CPU's.
func writeStatsText(w io.Writer, r *ctstat.Reading, perCPU bool) {
	limit := strconv.FormatUint(uint64(r.Max), 10)
	if r.Max == 0 {
		limit = "no limit"
	}
	fmt.Fprintf(w, "entries %d of %s (%.2f %% full), %d hash buckets\n\n", r.Count, limit, r.FillPercent(), r.Buckets)

	// One column of numbers per CPU after the total, each as wide as its
	// widest cell.
	header := []string{"total"}
	cols := [][]uint64{r.Sum[:]}
	if perCPU {
		for i := range r.PerCPU {
			header = append(header, "cpu"+strconv.Itoa(int(r.PerCPU[i].ID)))
			cols = append(cols, r.PerCPU[i].Stats[:])
		}
	}
	widths := make([]int, len(cols))
	for j, col := range cols {
		widths[j] = len(header[j])
		for _, v := range col {
			widths[j] = max(widths[j], len(strconv.FormatUint(v, 10)))
		}
	}
	const nameWidth = len("search_restart")
	fmt.Fprintf(w, "%-*s", nameWidth, "counter")
	for j, h := range header {
		fmt.Fprintf(w, "  %*s", widths[j], h)
	}
	fmt.Fprintln(w)
	for i := range ctstat.NumCounters {
		fmt.Fprintf(w, "%-*s", nameWidth, i)
		for j, col := range cols {
			fmt.Fprintf(w, "  %*d", widths[j], col[i])
		}
		fmt.Fprintln(w)
	}
}
