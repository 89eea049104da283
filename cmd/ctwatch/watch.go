package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/filter"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/safefile"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/internal/spool"
	"github.com/ctwatch/ctwatch/internal/watch"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// defaultBufferSize returns the receive buffer ctwatch asks for unless told
// otherwise: 1/256 of the machine's memory, between 8 and 64 MiB.
//
// Bursts of ctnetlink events (a flush by kube-proxy or conntrack -D) come at
// hundreds of thousands a second, faster than any reader on one core, and
// the kernel's default buffer holds about 166 events: the buffer must hold
// the backlog until ctwatch catches up. 64 MiB, doubled by the kernel, holds
// about 100,000 events, and measured zero loss on a 200,000-event burst at
// 700,000 events a second (docs/performance.md). The buffer is a limit, not
// an allocation: the kernel uses the memory only while a backlog lasts, at
// worst twice the buffer, which this keeps under 1 % of memory.
func defaultBufferSize() int64 {
	const lo, hi = 8 << 20, 64 << 20
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return lo
	}
	return min(max(int64(si.Totalram)*int64(si.Unit)/256, lo), hi)
}

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("watch", stderr)
	var nsSpecs repeated
	fs.Var(&nsSpecs, "netns", "watch this network namespace: a NAME under /run/netns, a PATH, or a PID (default: ctwatch's own); repeatable: two or more are watched through one socket, and every record names its namespace")
	allNetNS := fs.Bool("all-netns", false, `watch every network namespace of the host (named under /run/netns, and those of processes, found as they appear): every record names its namespace ("netns": inode, nsid, name, pid, container, pod)`)
	nsMetricsMax := fs.Int("netns-metrics-max", 100, "with several namespaces, label the per-namespace metrics of at most this many; the rest are counted under netns=\"other\"")
	eventTypes := fs.String("events", "new,update,destroy", "event types to subscribe to: new, update, destroy, and expect (the expectations helpers make; expect-new, expect-destroy for one kind)")
	bufSize := sizeFlag(fs, "buffer-size", defaultBufferSize(), "socket receive buffer (bytes; K, M, G suffixes), set with SO_RCVBUFFORCE; the default is 1/256 of memory, between 8M and 64M; 0 keeps the kernel's default (net.core.rmem_default)")
	snapshot := fs.Bool("snapshot", false, `write every pre-existing entry as an "event":"snapshot" record before the live stream (and, with --events expect, every expectation as "expect_snapshot")`)
	schema := fs.String("schema", "native", "record schema with --format json: native (ctwatch's, docs/schema.md), ecs (Elastic Common Schema 9.4), ocsf (OCSF 1.8.0)")
	hostName := fs.String("host-name", "", "the host name every record carries (default: the kernel's host name)")
	heartbeat := fs.Duration("heartbeat", 60*time.Second, `write a "heartbeat" record this often: uptime, events, records written, losses, output queue and sequence number, so that a dead or lagging agent shows downstream (0: off)`)
	format := fs.String("format", "json", "output format: json (one record a line) or text (conntrack -E lines)")
	textOpts := fs.String("text-opts", "", "with --format text, conntrack -o options: extended, timestamp, id, ktimestamp, labels")
	labelFile := connlabelFlag(fs)
	var outputs repeated
	fs.Var(&outputs, "output", "where records go, repeatable (each gets every record): - (stdout, the default), a file (appended, reopened on SIGHUP), syslog+tcp://HOST:PORT, syslog+relp://HOST:PORT (acknowledged), syslog+udp://HOST:PORT, syslog+unix:///dev/log, nats://HOST:PORT/SUBJECT (a JetStream stream's subject)")
	queueBytes := fs.Int("queue-max-bytes", output.DefaultQueueBytes, "memory queue of each remote output (syslog, nats), in bytes: records that find it full are dropped and counted in gap records")
	spoolDir := fs.String("spool", "", "queue each remote output's records on disk in this directory (a subdirectory per output) until its server has taken them, across server outages and ctwatch restarts; off: a memory queue")
	spoolMax := fs.Int64("spool-max-bytes", spool.DefaultMaxBytes, "disk space of each remote output's spool: when full, its oldest records are dropped and counted in gap records")
	spoolSync := fs.Duration("spool-sync", 0, "fsync each spool at most this often while records come, so that a power loss loses about this much (0: never; a crash of ctwatch loses nothing either way)")
	updates := fs.String("updates", "", "UPDATE events to write: changes (only those that change more than the timeout; default for json), all (default for text, as conntrack -E), none")
	flowCfg := flow.DefaultConfig()
	fs.IntVar(&flowCfg.MaxFlows, "max-flows", flowCfg.MaxFlows, "flows the tracker remembers; the least recently seen are evicted (and counted) beyond")
	fs.DurationVar(&flowCfg.UnrepliedAfter, "unreplied-after", flowCfg.UnrepliedAfter, "warn about a flow still [UNREPLIED] this long after it began (0: never)")
	reconcile := fs.Duration("reconcile-interval", 30*time.Second, "with nf_conntrack_events=2, the shortest time between table dumps that infer the ends of flows older than ctwatch (no event reports them); dumps are further spaced so that they take at most half a percent of a core, and stop once no such flow is left; 0 turns reconciliation off, also the one after lost events")
	healthCfg := health.DefaultConfig()
	fs.DurationVar(&healthCfg.Interval, "stats-interval", healthCfg.Interval, `write a "stats" record of the table's fill and counters this often, and warn on table pressure and drops (0: off, and no table figures in /metrics)`)
	fs.Var(&healthCfg.Thresholds, "table-warn", "fill percentages at which to warn about table pressure")
	onNetnsGone := fs.String("on-netns-gone", "exit", "when the --netns namespace is gone (deleted, and no process lives in it; with several --netns, the last of them): exit (non-zero, after a netns_gone record) or wait (keep running, /healthz unhealthy)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics and /healthz on this address (e.g. 127.0.0.1:9671); off by default")
	coalesce := fs.Duration("coalesce", time.Millisecond, "after a read that found few events, let the rest of the burst arrive for this long before reading again: fewer wake-ups, at most this much latency (0: read each event at once)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the watch to this file (for performance work)")
	allowOtherOwner := fs.Bool("allow-other-owner", false, "let --output and --cpuprofile open an existing file that belongs to another user or has other hard links (a symbolic link at the path is refused whatever this says)")
	logLevel := fs.String("log-level", "info", "lowest level of records written: debug, info, warn (debug adds the bytes of undecodable messages)")
	spec := filterFlags(fs)
	kernelFilterChanging := fs.Bool("kernel-filter-changing", false, "with --kernel-filter, also run --state, --status and --mark in the kernel; cheapest, but a flow that stops matching (--status unreplied once answered) gets no more events: the flow tracker keeps it as it last matched, so its unreplied warning may be false and its end is only inferred; by default those flags run in userspace and every event of a flow the other flags select is tracked")
	kernelFilter := fs.Bool("kernel-filter", true, "run the filter flags in the kernel too, as a BPF program on the event socket: events outside the filter are dropped before they reach ctwatch, so they cost nothing, are not tracked as flows, and no counter sees them (the kernel counts no drop for them; see docs/filter.md); false receives and tracks everything and filters only what is written")
	if err := parseFlags(fs, joinOptionalValues(fs, args)); err != nil {
		return err
	}
	if err := aliasConflict(fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("watch takes no arguments, got %q", fs.Args())}
	}

	if flowCfg.MaxFlows <= 0 || flowCfg.UnrepliedAfter < 0 || *reconcile < 0 {
		return usageError{errors.New("--max-flows must be positive, --unreplied-after and --reconcile-interval not negative")}
	}
	if *reconcile == 0 {
		*reconcile = -1 // watch.Config's "never"
	}
	if *heartbeat < 0 {
		return usageError{errors.New("--heartbeat must not be negative")}
	}
	if *coalesce < 0 {
		return usageError{errors.New("--coalesce must not be negative")}
	}
	if *coalesce == 0 {
		*coalesce = -1 // watch.Config's "never"
	}
	if *allNetNS && len(nsSpecs) > 0 {
		return usageError{errors.New("--all-netns watches every namespace: give it or --netns, not both")}
	}
	if *nsMetricsMax <= 0 {
		return usageError{errors.New("--netns-metrics-max must be positive")}
	}
	cfg := watch.Config{
		BufferSize:           int(*bufSize),
		Snapshot:             *snapshot,
		KernelFilter:         *kernelFilter,
		KernelFilterChanging: *kernelFilterChanging,
		Flow:                 flowCfg,
		ReconcileInterval:    *reconcile,
		Health:               healthCfg,
		Coalesce:             *coalesce,
		MetricsAddr:          *metricsAddr,
		Heartbeat:            *heartbeat,
		Version:              version,
		AllNetNS:             *allNetNS,
		NetNSMetricsMax:      *nsMetricsMax,
	}
	var err error
	if cfg.Types, err = events.ParseTypes(*eventTypes); err != nil {
		return usageError{fmt.Errorf("--events: %w", err)}
	}
	if cfg.Format, err = watch.ParseFormat(*format); err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if cfg.Schema, err = record.ParseSchema(*schema); err != nil {
		return usageError{fmt.Errorf("--schema: %w", err)}
	}
	if cfg.Host, err = hostname(*hostName); err != nil {
		return err
	}
	if cfg.Run, err = newRunID(); err != nil {
		return err
	}
	if cfg.Text, err = model.ParseTextOptions(*textOpts); err != nil {
		return usageError{fmt.Errorf("--text-opts: %w", err)}
	}
	if *textOpts != "" && cfg.Format != watch.FormatText {
		return usageError{errors.New("--text-opts applies to --format text only")}
	}
	cfg.Text.Location = time.Local
	var labelsNote string
	if cfg.Labels, labelsNote, err = loadLabels(fs, *labelFile, stderr); err != nil {
		return err
	}
	cfg.Text.LabelNames = cfg.Labels
	if *updates == "" {
		*updates = "changes"
		if cfg.Format == watch.FormatText {
			*updates = "all"
		}
	}
	if cfg.Updates, err = watch.ParseUpdates(*updates); err != nil {
		return usageError{fmt.Errorf("--updates: %w", err)}
	}
	if cfg.OnNetnsGone, err = watch.ParseNetnsGonePolicy(*onNetnsGone); err != nil {
		return usageError{fmt.Errorf("--on-netns-gone: %w", err)}
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil || level > zerolog.WarnLevel || level < zerolog.DebugLevel {
		return usageError{fmt.Errorf("--log-level: want debug, info or warn, not %q", *logLevel)}
	}
	spec.LabelNames = cfg.Labels
	if cfg.Filter, err = filter.New(*spec); err != nil {
		return usageError{err}
	}
	if cfg.Filter.Empty() {
		cfg.Filter = nil
	}

	var handles []*netns.Handle
	defer func() {
		for _, h := range handles {
			h.Close()
		}
	}()
	for _, spec := range nsSpecs {
		h, err := netns.Open(spec)
		if err != nil {
			return fmt.Errorf("--netns: %w", err)
		}
		for _, o := range handles {
			if o.ID() == h.ID() {
				h.Close()
				return usageError{fmt.Errorf("--netns %s and --netns %s are one namespace", o, spec)}
			}
		}
		handles = append(handles, h)
	}
	switch len(handles) {
	case 0:
	case 1:
		// One namespace: the socket lives in it, and the records are
		// those of a watch of one.
		cfg.NS = handles[0]
	default:
		cfg.NetNSSet = handles
	}

	// Caught (by main) before the output is opened: a SIGHUP from then on
	// reopens it.
	hup, stopHangups := hangups(ctx)
	defer stopHangups()

	// Without this, a write to a closed pipe (ctwatch | head) kills the
	// process before the sink can report it and the summary be printed.
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	files := safefile.Options{AllowOtherOwner: *allowOtherOwner}
	// Write failures and failed reopens are said on stderr as they happen,
	// whatever becomes of the records' stream.
	sinkCfg := sink.Config{File: files, Diag: stderr}
	if cfg.Out, err = openOutputs(ctx, outputs, outputConfig{
		sink: sinkCfg, stdout: stdout, stderr: stderr, run: cfg.Run, host: cfg.Host, queueBytes: *queueBytes,
		spoolDir: *spoolDir, spool: spool.Config{MaxBytes: *spoolMax, SyncInterval: *spoolSync},
	}); err != nil {
		return err
	}
	// The watch already flushed, bounded; a blocked output must not hold
	// the stop up beyond that.
	defer closeWithin(cfg.Out, 200*time.Millisecond)

	// One logger for the records: into the stream with JSON, beside it on
	// stderr with text, where the stream is conntrack -E's lines.
	if cfg.Format == watch.FormatJSON {
		cfg.Log = zerolog.New(cfg.Out).Level(level)
	} else {
		cfg.Log = zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(level)
	}

	reopen := make(chan struct{}, 1)
	cfg.Reopen = reopen
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
			case <-done:
				return
			}
			select {
			case reopen <- struct{}{}:
			default: // a reopen is already pending
			}
		}
	}()

	if *cpuProfile != "" {
		f, err := safefile.Create(*cpuProfile, files)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w%s", err, allowHint(err))
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	w := watch.New(cfg)
	sum, err := w.Run(ctx)
	if se := (*watch.StartError)(nil); errors.As(err, &se) {
		// Nothing was watched: no summary, only why.
		return needPrivilege("watching conntrack events", err)
	}
	fmt.Fprintf(stderr, "ctwatch: stopped: %s\n", sum)
	// Said once, with the summary rather than at the start, where a
	// watch that cannot start says only why.
	if labelsNote != "" {
		fmt.Fprintf(stderr, "ctwatch: %s\n", labelsNote)
	}
	for _, o := range cfg.Out.Outputs() {
		if line := outputSummary(o); line != "" {
			fmt.Fprintf(stderr, "ctwatch: %s\n", line)
		}
	}
	if errors.Is(err, watch.ErrOutputGone) {
		// The reader of our output went away (ctwatch | head): a normal end.
		return nil
	}
	if err == nil && writeErrors(cfg.Out) > 0 {
		// Said on stderr as it happened and in the summary: records
		// were lost, which a script must see in the status.
		return errSilent
	}
	return err
}

// closeWithin closes the sink, giving up after d: a write blocked on a
// stalled pipe must not keep the process from stopping.
func closeWithin(out *output.Set, d time.Duration) {
	done := make(chan struct{})
	go func() {
		_ = out.Close() // what it lost is already counted
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// allowHint tells how to accept a file that safefile refused for its owner
// or links; it is empty for any other failure.
func allowHint(err error) string {
	if errors.Is(err, safefile.ErrOtherOwner) || errors.Is(err, safefile.ErrHardLink) {
		return " (--allow-other-owner accepts it)"
	}
	return ""
}
