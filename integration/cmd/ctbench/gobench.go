//go:build integration

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// goBench is one result of the stage benchmarks (`make bench-go`, saved to
// the file -gobench names): a package's benchmark and its measurements by
// unit (sec/op, B/op, allocs/op and the benchmark's own, such as B/flow).
type goBench struct {
	Pkg    string             `json:"pkg"`
	Name   string             `json:"name"`
	Values map[string]float64 `json:"values"`
}

// readGoBench reads the output of `go test -bench` with the standard
// benchmark-format reader. A line it cannot read is an error naming the
// file and line: the document must not quietly miss a stage.
func readGoBench(path string) ([]goBench, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read Go benchmarks: %w", err)
	}
	defer f.Close()
	return parseGoBench(f, path)
}

// parseGoBench parses benchmark output read from r; name is its file name
// for errors.
func parseGoBench(r io.Reader, name string) ([]goBench, error) {
	var out []goBench
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, fmt.Errorf("read Go benchmarks: %w", rec)
		case *benchfmt.Result:
			b := goBench{Pkg: rec.GetConfig("pkg"), Name: benchName(rec.Name), Values: make(map[string]float64, len(rec.Values))}
			for _, v := range rec.Values {
				b.Values[v.Unit] = v.Value
			}
			out = append(out, b)
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("read Go benchmarks %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read Go benchmarks %s: %w", name, errNoBenchmarks)
	}
	return out, nil
}

// benchName is a benchmark's name without its "Benchmark" prefix and
// GOMAXPROCS suffix: "Memory/nat=none".
func benchName(n benchfmt.Name) string {
	base, parts := n.Parts()
	name := string(base)
	for _, p := range parts {
		if !bytes.HasPrefix(p, []byte("-")) {
			name += string(p)
		}
	}
	return name
}

// errNoBenchmarks is a -gobench file without a single result.
var errNoBenchmarks = errors.New("no benchmark results")

// findGoBench returns the results of the benchmarks of package pkg (its
// last path element) whose name starts with prefix.
func findGoBench(all []goBench, pkg, prefix string) []goBench {
	var out []goBench
	for _, b := range all {
		if (b.Pkg == pkg || strings.HasSuffix(b.Pkg, "/"+pkg)) && strings.HasPrefix(b.Name, prefix) {
			out = append(out, b)
		}
	}
	return out
}

// maxSchemaRatio is how much more CPU per event than the native schema
// the ECS and OCSF pipelines may cost (issue 11).
const maxSchemaRatio = 1.5

// schemaRatios returns, for each of BenchmarkPipeline's schema
// sub-benchmarks but native, its time per event over native's, by its
// name ("Pipeline/ecs"); nil without a native result.
func schemaRatios(all []goBench) map[string]float64 {
	var native float64
	for _, b := range findGoBench(all, "watch", "Pipeline/native") {
		native = b.Values["sec/op"]
	}
	if native <= 0 {
		return nil
	}
	out := make(map[string]float64)
	for _, b := range findGoBench(all, "watch", "Pipeline/") {
		if v, ok := b.Values["sec/op"]; ok && b.Name != "Pipeline/native" {
			out[b.Name] = v / native
		}
	}
	return out
}

// goBenchTargets checks the targets the stage benchmarks measure: heap
// allocations per event of the whole pipeline, memory per tracked flow,
// and the CPU of the ECS and OCSF records against native ones.
func goBenchTargets(all []goBench) []target {
	allocs := target{Name: "decode + track + encode: ≤ 1 heap allocation per event in steady state", Verdict: verdictNotMeasured,
		Measured: "run `make bench` (the stage benchmarks feed -gobench)"}
	mem := target{Name: "memory bounded by --max-flows, measured per tracked flow", Verdict: verdictNotMeasured, Measured: allocs.Measured}
	schemas := target{Name: "ECS and OCSF records: ≤ 1.5× the native schema's CPU per event", Verdict: verdictNotMeasured, Measured: allocs.Measured}
	delivery := deliveryTarget(all)
	if len(all) == 0 {
		return []target{allocs, mem, schemas, delivery}
	}
	if r := schemaRatios(all); len(r) > 0 {
		names := slices.Sorted(maps.Keys(r))
		var parts []string
		schemas.Verdict = verdictMet
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s %s×", strings.TrimPrefix(n, "Pipeline/"), strconv.FormatFloat(r[n], 'f', 2, 64)))
			if r[n] > maxSchemaRatio {
				schemas.Verdict = verdictNotMet
			}
		}
		schemas.Measured = strings.Join(parts, ", ") + " native (internal/watch BenchmarkPipeline/<schema>)"
	}
	if p := findGoBench(all, "watch", "Pipeline"); len(p) > 0 {
		worst := 0.0
		for _, b := range p {
			worst = math.Max(worst, b.Values["allocs/op"])
		}
		allocs.Measured = fmt.Sprintf("%s allocs/event (internal/watch BenchmarkPipeline: decode, track, filter, encode JSON into the output buffer)", strconv.FormatFloat(worst, 'f', -1, 64))
		allocs.Verdict = verdictMet
		if worst > 1 {
			allocs.Verdict = verdictNotMet
		}
	}
	if m := findGoBench(all, "flow", "Memory"); len(m) > 0 {
		var parts []string
		for _, b := range m {
			if v, ok := b.Values["B/flow"]; ok {
				parts = append(parts, fmt.Sprintf("%s B/flow (%s)", strconv.FormatFloat(v, 'f', 0, 64), strings.TrimPrefix(b.Name, "Memory/")))
			}
		}
		if len(parts) > 0 {
			mem.Measured = strings.Join(parts, ", ") + " at a million flows (internal/flow BenchmarkMemory); the tracker never holds more than --max-flows"
			mem.Verdict = verdictMet
		}
	}
	return []target{allocs, mem, schemas, delivery}
}

// The delivery targets (issue 12): the rate a remote output keeps up with,
// and its CPU per record over a file output's, the whole pipeline
// counted.
const (
	minDeliveryRate  = 150e3
	maxDeliveryRatio = 1.5
)

// deliveryTarget checks BenchmarkOutputs: syslog TCP and JetStream
// against the file, side by side in one run.
func deliveryTarget(all []goBench) target {
	t := target{Name: "delivery: ≥ 150k records/s to syslog TCP and to JetStream, CPU per record ≤ 1.5× writing a file (the whole pipeline)",
		Verdict: verdictNotMeasured, Measured: "run `make bench` (the stage benchmarks feed -gobench)"}
	var file float64
	for _, b := range findGoBench(all, "watch", "Outputs/file") {
		// benchfmt reads cpu-ns/record as cpu-sec/record.
		file = b.Values["cpu-sec/record"]
	}
	if file <= 0 {
		return t
	}
	var parts []string
	t.Verdict = verdictMet
	for _, name := range []string{"syslog-tcp", "jetstream"} {
		got := findGoBench(all, "watch", "Outputs/"+name)
		if len(got) == 0 {
			t.Verdict = verdictNotMeasured
			parts = append(parts, name+" not measured")
			continue
		}
		rate, ratio := got[0].Values["records/s"], got[0].Values["cpu-sec/record"]/file
		parts = append(parts, fmt.Sprintf("%s %.0fk records/s, %s× the file's CPU", name, rate/1e3, strconv.FormatFloat(ratio, 'f', 2, 64)))
		if t.Verdict == verdictMet && (rate < minDeliveryRate || ratio > maxDeliveryRatio) {
			t.Verdict = verdictNotMet
		}
	}
	t.Measured = strings.Join(parts, "; ") + fmt.Sprintf(" (internal/watch BenchmarkOutputs; file %.0f cpu-ns/record)", file*1e9)
	return t
}

// writeGoBench writes the stage benchmarks' table.
func writeGoBench(w io.Writer, all []goBench) {
	fmt.Fprintln(w, "| package | benchmark | ns/op | B/op | allocs/op | other |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|---|")
	ratios := schemaRatios(all)
	for _, b := range all {
		pkg := b.Pkg
		for _, dir := range []string{"/pkg/", "/internal/"} {
			if i := strings.Index(pkg, dir); i >= 0 {
				pkg = pkg[i+1:]
				break
			}
		}
		var other []string
		if r, ok := ratios[b.Name]; ok && (b.Pkg == "watch" || strings.HasSuffix(b.Pkg, "/watch")) {
			other = append(other, strconv.FormatFloat(r, 'f', 2, 64)+"× native")
		}
		for unit, v := range b.Values {
			switch unit {
			case "sec/op", "B/op", "allocs/op", "B/s":
			default:
				other = append(other, strconv.FormatFloat(v, 'g', 4, 64)+" "+unit)
			}
		}
		// Map order is random; the document must not change between
		// renderings of the same results.
		slices.Sort(other)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", pkg, b.Name,
			benchValue(b.Values, "sec/op", 1e9), benchValue(b.Values, "B/op", 1), benchValue(b.Values, "allocs/op", 1), strings.Join(other, ", "))
	}
}

// benchValue formats one measurement scaled by mult, "—" when absent.
func benchValue(vals map[string]float64, unit string, mult float64) string {
	v, ok := vals[unit]
	if !ok {
		return "—"
	}
	v *= mult
	if v >= 100 || v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
