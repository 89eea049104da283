//go:build integration

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The default matrix: a few minutes on a small machine.
const (
	defaultLoads    = "tcp,ctnetlink"
	defaultRates    = "20000,50000,150000,max"
	defaultEvents   = 200000
	defaultRuns     = 3
	defaultMonitors = "ctwatch,conntrack,conntrack-8m,ulogd,floor"
	defaultParts    = "matrix,netns,bigtable,lowrate,filter"
	// The netns part: about three minutes with the default -runs. The
	// events are whole ctnetlink entries (3 events each) spread evenly
	// over the namespaces: 600 entries in each of 100.
	defaultNetNSCount  = 100
	defaultNetNSRate   = 20000
	defaultNetNSEvents = 180000
	// The filter part: 18 measurements with the default -runs and
	// -events, about four minutes on a quiet machine, more on a busy one.
	defaultFilterLoads = "tcp,ctnetlink"
)

// Timing of a measurement.
const (
	// drainQuiet is how long a monitor's output must stay unchanged (with
	// an empty socket) to count as drained: several of ctwatch's 100 ms
	// flush intervals.
	drainQuiet = 300 * time.Millisecond
	// pollEvery is the period of the harness's polls of /proc.
	pollEvery = 25 * time.Millisecond
	// maxBatch caps the operations of one batch: the ctnetlink requests
	// of one sendmsg must fit the socket's send buffer.
	maxBatch = 128
)

var (
	knownLoads    = []string{"tcp", "udp", "ctnetlink"}
	knownMonitors = []string{"ctwatch", "conntrack", "conntrack-8m", "ulogd", "floor"}
	// knownParts are the benchmark's parts: the matrix of loads, rates
	// and monitors in one namespace, the whole-node comparison over
	// many namespaces, a big table's snapshot and reconciliation
	// (bigtable), low rates and idle (lowrate), and the cost of a filter
	// matching 1 % of a load (filter).
	knownParts = []string{"matrix", "netns", "bigtable", "lowrate", "filter"}
)

// benchConfig is the benchmark's matrix and setup, from its flags.
type benchConfig struct {
	Loads    []string
	Rates    []float64 // events/s; 0 is full speed
	Events   int
	Runs     int
	Monitors []string
	// Parts are the parts to run (knownParts); empty in reports saved
	// before there were parts, which means the matrix only.
	Parts []string `json:",omitempty"`
	// NetNSCount is the netns part's number of namespaces, NetNSRate its
	// total rate in events/s and NetNSEvents its events per run, spread
	// evenly over the namespaces.
	NetNSCount  int     `json:",omitempty"`
	NetNSRate   float64 `json:",omitempty"`
	NetNSEvents int     `json:",omitempty"`
	// AllNetNSStandIn measures "ctbench allns" in place of ctwatch watch
	// --all-netns: the harness's stand-in until ctwatch has the flag.
	AllNetNSStandIn bool `json:",omitempty"`
	// BigTableEntries is the bigtable part's table size, BigTableWindow
	// its idle measurement's span; BigTableBaseline another ctwatch
	// binary measured idle beside -ctwatch ("" for none).
	BigTableEntries  int           `json:",omitempty"`
	BigTableWindow   time.Duration `json:",omitempty"`
	BigTableBaseline string        `json:",omitempty"`
	// FilterLoads are the filter part's loads (of filterLoads), at full
	// speed; FilterEvery sends one operation in FilterEvery to
	// filterPort, the filter's match.
	FilterLoads []string `json:",omitempty"`
	FilterEvery int      `json:",omitempty"`

	// Ctwatch is the binary to measure; CtwatchFlags are added to its
	// watch command line.
	Ctwatch      string
	CtwatchFlags []string
	// ConntrackBuffer is the buffer conntrack-8m's socket gets, as asked
	// of setsockopt (the kernel doubles it).
	ConntrackBuffer int64
	// CalibrationBuffer is the raw listener's buffer in calibration runs.
	CalibrationBuffer int64
	GenCPU, MonCPU    int
	DrainTimeout      time.Duration
	// Write is the document to write ("" for none); JSON the file of raw
	// per-run results ("" for none); Render a file of results saved with
	// -json to print and write again instead of measuring.
	Write, JSON, Render string
	// GoBench is a file of `go test -bench` output (make bench-go) whose
	// stage benchmarks the document includes ("" for none).
	GoBench string
	// NoCalibrate skips the calibration runs.
	NoCalibrate bool
	// Quiet is the machine's busy percentage below which a measurement
	// may start (0: do not wait); QuietTimeout the longest wait.
	Quiet        float64
	QuietTimeout time.Duration
	// QuietBudget caps the total wait for a quiet machine, so that a
	// machine that stays busy delays the benchmark by minutes, not hours.
	QuietBudget time.Duration
	// MaxInterference is the percentage of the benchmark CPUs' time
	// other processes may take during a measurement before it is
	// repeated, up to Retries times.
	MaxInterference float64
	Retries         int
}

// errUsage marks a command-line error: the usage is printed.
var errUsage = errors.New("usage")

// parseConfig parses the harness's flags.
func parseConfig(args []string, stderr io.Writer) (benchConfig, error) {
	fs := flag.NewFlagSet("ctbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ctbench [flags]   (as root; see `go doc ./integration/cmd/ctbench`)")
		fs.PrintDefaults()
	}
	loads := fs.String("loads", defaultLoads, "loads to generate: tcp, udp, ctnetlink")
	rates := fs.String("rates", defaultRates, "target rates in events/s (k suffix allowed); max is full speed")
	events := fs.Int("events", defaultEvents, "events per run (rounded up to whole operations)")
	runs := fs.Int("runs", defaultRuns, "runs per monitor, load and rate")
	monitors := fs.String("monitors", defaultMonitors, "monitors to measure: "+strings.Join(knownMonitors, ", "))
	parts := fs.String("parts", defaultParts, "parts to run: matrix (loads × rates × monitors in one namespace), netns (ctwatch --all-netns against N namespaces), bigtable (a 1M-entry table: snapshot and reconciliation), lowrate (low rates and idle against conntrack -E), filter (a filter matching 1 % of a load at full speed)")
	nsCount := fs.Int("netns-count", defaultNetNSCount, "netns part: number of namespaces")
	nsRate := fs.String("netns-rate", strconv.Itoa(defaultNetNSRate), "netns part: total rate in events/s over all namespaces (k suffix allowed)")
	nsEvents := fs.Int("netns-events", defaultNetNSEvents, "netns part: events per run over all namespaces (rounded up to whole entries in every namespace)")
	standIn := fs.Bool("allnetns-standin", false, "netns part: measure ctbench's stand-in (pkg/events AllNetNS + nsdiscover, no tracker) in place of ctwatch watch --all-netns")
	btEntries := fs.Int("bigtable-entries", defaultBigTableEntries, "bigtable part: entries in the table")
	btWindow := fs.Duration("bigtable-window", defaultBigTableWindow, "bigtable part: how long ctwatch is measured idle beside the table")
	btBaseline := fs.String("bigtable-baseline", "", "bigtable part: another ctwatch binary to measure idle beside -ctwatch (an earlier build)")
	filterLoadsFlag := fs.String("filter-loads", defaultFilterLoads, "filter part: loads at full speed, of "+strings.Join(filterLoads, ", "))
	filterEvery := fs.Int("filter-every", defaultFilterEvery, "filter part: one operation in this many matches the filter (100: 1 % of the events)")
	ctwatch := fs.String("ctwatch", "bin/ctwatch", "ctwatch binary to measure (make build)")
	ctwatchFlags := fs.String("ctwatch-flags", "", "extra flags for ctwatch watch, space-separated")
	ctBuf := fs.Int64("conntrack-buffer", 8<<20, "receive buffer of conntrack-8m in bytes, as conntrack -b would ask for it")
	calBuf := fs.Int64("calibration-buffer", 256<<20, "receive buffer of the calibration listener in bytes")
	genCPU := fs.Int("gen-cpu", 0, "CPU of the load generator and the harness")
	monCPU := fs.Int("mon-cpu", 1, "CPU of the monitors")
	drain := fs.Duration("drain-timeout", 60*time.Second, "longest wait for a monitor to drain after the load")
	write := fs.String("write", "", "write the Markdown document to this file (docs/performance.md)")
	jsonOut := fs.String("json", "", "write every run's raw measurements to this JSON file")
	render := fs.String("render", "", "measure nothing: print (and with -write, write the document of) results saved with -json")
	goBench := fs.String("gobench", "", "include the stage benchmarks of this `go test -bench` output (make bench saves it to bin/bench-go.txt)")
	noCal := fs.Bool("no-calibrate", false, "skip the calibration runs")
	quiet := fs.Float64("quiet", 10, "start a measurement only once the machine's CPUs are less busy than this percentage (0: never wait)")
	quietTimeout := fs.Duration("quiet-timeout", 30*time.Second, "longest wait for a quiet machine before a measurement; then it is measured anyway, and marked")
	quietBudget := fs.Duration("quiet-budget", 5*time.Minute, "longest total wait for a quiet machine over the whole benchmark")
	maxInterference := fs.Float64("max-interference", 10, "measure again when other processes took more than this percentage of the benchmark CPUs' time")
	retries := fs.Int("retries", 2, "how many times a measurement is repeated at most for -max-interference")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return benchConfig{}, err
		}
		return benchConfig{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return benchConfig{}, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	cfg := benchConfig{
		Events: *events, Runs: *runs, Ctwatch: *ctwatch, CtwatchFlags: strings.Fields(*ctwatchFlags),
		ConntrackBuffer: *ctBuf, CalibrationBuffer: *calBuf, GenCPU: *genCPU, MonCPU: *monCPU,
		DrainTimeout: *drain, Write: *write, JSON: *jsonOut, Render: *render, GoBench: *goBench, NoCalibrate: *noCal,
		Quiet: *quiet, QuietTimeout: *quietTimeout, QuietBudget: *quietBudget,
		MaxInterference: *maxInterference, Retries: *retries,
		NetNSCount: *nsCount, NetNSEvents: *nsEvents, AllNetNSStandIn: *standIn,
		BigTableEntries: *btEntries, BigTableWindow: *btWindow, BigTableBaseline: *btBaseline,
		FilterEvery: *filterEvery,
	}
	var err error
	if cfg.Parts, err = parseList(*parts, knownParts); err != nil {
		return benchConfig{}, fmt.Errorf("%w: -parts: %w", errUsage, err)
	}
	nsRates, err := parseRates(*nsRate)
	if err != nil || len(nsRates) != 1 || nsRates[0] == 0 {
		return benchConfig{}, fmt.Errorf("%w: -netns-rate: want one rate in events/s", errUsage)
	}
	cfg.NetNSRate = nsRates[0]
	if cfg.FilterLoads, err = parseList(*filterLoadsFlag, filterLoads); err != nil {
		return benchConfig{}, fmt.Errorf("%w: -filter-loads: %w", errUsage, err)
	}
	if cfg.Loads, err = parseList(*loads, knownLoads); err != nil {
		return benchConfig{}, fmt.Errorf("%w: -loads: %w", errUsage, err)
	}
	if cfg.Monitors, err = parseList(*monitors, knownMonitors); err != nil {
		return benchConfig{}, fmt.Errorf("%w: -monitors: %w", errUsage, err)
	}
	if cfg.Rates, err = parseRates(*rates); err != nil {
		return benchConfig{}, fmt.Errorf("%w: -rates: %w", errUsage, err)
	}
	switch {
	case cfg.Events < 6:
		return benchConfig{}, fmt.Errorf("%w: -events must be at least 6", errUsage)
	case cfg.Runs < 1:
		return benchConfig{}, fmt.Errorf("%w: -runs must be at least 1", errUsage)
	case cfg.ConntrackBuffer <= 0 || cfg.ConntrackBuffer > 1<<30 || cfg.CalibrationBuffer <= 0 || cfg.CalibrationBuffer > 1<<30:
		return benchConfig{}, fmt.Errorf("%w: buffer sizes must be between 1 byte and 1 GiB", errUsage)
	case cfg.GenCPU < 0 || cfg.MonCPU < 0:
		return benchConfig{}, fmt.Errorf("%w: CPUs are numbered from 0", errUsage)
	case cfg.Quiet < 0 || cfg.Quiet > 100 || cfg.MaxInterference < 0 || cfg.MaxInterference > 100:
		return benchConfig{}, fmt.Errorf("%w: -quiet and -max-interference are percentages", errUsage)
	case cfg.Retries < 0:
		return benchConfig{}, fmt.Errorf("%w: -retries must not be negative", errUsage)
	case cfg.NetNSCount < 1 || cfg.NetNSCount > 1000:
		return benchConfig{}, fmt.Errorf("%w: -netns-count must be between 1 and 1000", errUsage)
	case cfg.NetNSEvents < 3*cfg.NetNSCount:
		return benchConfig{}, fmt.Errorf("%w: -netns-events must be at least 3 per namespace", errUsage)
	case cfg.BigTableEntries < 1 || cfg.BigTableEntries > 60000<<16:
		return benchConfig{}, fmt.Errorf("%w: -bigtable-entries must be between 1 and %d", errUsage, 60000<<16)
	case cfg.BigTableWindow < time.Second:
		return benchConfig{}, fmt.Errorf("%w: -bigtable-window must be at least a second", errUsage)
	case cfg.FilterEvery < 2:
		return benchConfig{}, fmt.Errorf("%w: -filter-every must be at least 2", errUsage)
	}
	return cfg, nil
}

// parseList parses a comma-separated list of known names, keeping their
// order and dropping repeats.
func parseList(s string, known []string) ([]string, error) {
	var l []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("unknown %q (want %s)", f, strings.Join(known, ", "))
		}
		if !slices.Contains(l, f) {
			l = append(l, f)
		}
	}
	if len(l) == 0 {
		return nil, errors.New("empty list")
	}
	return l, nil
}

// parseRates parses "20000,50k,max": events per second, 0 for full speed
// (max or full).
func parseRates(s string) ([]float64, error) {
	var rates []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		var r float64
		switch f {
		case "":
			continue
		case "max", "full":
			r = 0
		default:
			mult := 1.0
			if k, ok := strings.CutSuffix(f, "k"); ok {
				f, mult = k, 1000
			}
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || v <= 0 || v*mult > 1e9 {
				return nil, fmt.Errorf("invalid rate %q: want events per second (up to 1e9) or max", f)
			}
			r = v * mult
		}
		if !slices.Contains(rates, r) {
			rates = append(rates, r)
		}
	}
	if len(rates) == 0 {
		return nil, errors.New("no rate")
	}
	return rates, nil
}

// has says whether part is to be run (or was, in a saved report): a report
// saved before there were parts ran the matrix only.
func (cfg benchConfig) has(part string) bool {
	if len(cfg.Parts) == 0 {
		return part == "matrix"
	}
	return slices.Contains(cfg.Parts, part)
}

// nonDefaultArgs returns the flags that reproduce cfg's matrix, leaving out
// defaults and the outputs.
func (cfg benchConfig) nonDefaultArgs() []string {
	var a []string
	if j := strings.Join(cfg.Loads, ","); j != defaultLoads {
		a = append(a, "-loads", j)
	}
	var rs []string
	for _, r := range cfg.Rates {
		if r == 0 {
			rs = append(rs, "max")
		} else {
			rs = append(rs, strconv.FormatFloat(r, 'f', -1, 64))
		}
	}
	if j := strings.Join(rs, ","); j != defaultRates {
		a = append(a, "-rates", j)
	}
	if cfg.Events != defaultEvents {
		a = append(a, "-events", strconv.Itoa(cfg.Events))
	}
	if cfg.Runs != defaultRuns {
		a = append(a, "-runs", strconv.Itoa(cfg.Runs))
	}
	if j := strings.Join(cfg.Monitors, ","); j != defaultMonitors {
		a = append(a, "-monitors", j)
	}
	if j := strings.Join(cfg.Parts, ","); j != defaultParts && j != "" {
		a = append(a, "-parts", j)
	}
	if cfg.has("netns") {
		if cfg.NetNSCount != defaultNetNSCount {
			a = append(a, "-netns-count", strconv.Itoa(cfg.NetNSCount))
		}
		if cfg.NetNSRate != defaultNetNSRate {
			a = append(a, "-netns-rate", strconv.FormatFloat(cfg.NetNSRate, 'f', -1, 64))
		}
		if cfg.NetNSEvents != defaultNetNSEvents {
			a = append(a, "-netns-events", strconv.Itoa(cfg.NetNSEvents))
		}
		if cfg.AllNetNSStandIn {
			a = append(a, "-allnetns-standin")
		}
	}
	if cfg.has("bigtable") {
		if cfg.BigTableEntries != defaultBigTableEntries {
			a = append(a, "-bigtable-entries", strconv.Itoa(cfg.BigTableEntries))
		}
		if cfg.BigTableWindow != defaultBigTableWindow {
			a = append(a, "-bigtable-window", cfg.BigTableWindow.String())
		}
	}
	if cfg.has("filter") {
		if j := strings.Join(cfg.FilterLoads, ","); j != defaultFilterLoads {
			a = append(a, "-filter-loads", j)
		}
		if cfg.FilterEvery != defaultFilterEvery {
			a = append(a, "-filter-every", strconv.Itoa(cfg.FilterEvery))
		}
	}
	if len(cfg.CtwatchFlags) > 0 {
		a = append(a, "-ctwatch-flags", `"`+strings.Join(cfg.CtwatchFlags, " ")+`"`)
	}
	if cfg.ConntrackBuffer != 8<<20 {
		a = append(a, "-conntrack-buffer", strconv.FormatInt(cfg.ConntrackBuffer, 10))
	}
	return a
}
