package watch

import (
	"context"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/bpf"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Watch is one run of the watch pipeline.
type Watch struct {
	cfg      Config
	counters Counters
	after    afterFunc // time.After; a test's stand-in runs out budgets at once
	// dumps are the kernel filters of its dumps (Config.KernelFilter).
	dumps   dumpFilters
	tracker *flow.Tracker
	monitor *health.Monitor // nil when off; owned by healthLoop
	rec     *record.Encoder

	// Owned by the loop goroutine.
	res         flow.Result // long-lived, so that its parts marshal without escaping
	textBuf     []byte
	last        lossReading
	started     time.Time // when Run started, for the heartbeat's uptime
	ctEvents    int64     // nf_conntrack_events, -1 when unknown
	reconciled  time.Time
	dumpTook    time.Duration // how long the last dump took
	needRecon   bool
	pace        reconcilePace // of the periodic reconciliation, watching one namespace
	evictedSeen uint64

	// The kernel filter's program (Config.KernelFilter), set by Run
	// before the loop starts, and its error when it could not be built.
	kprog []bpf.RawInstruction
	kerr  error

	// What the output and the namespace are going through: faults for
	// /healthz (any goroutine); the rest owned by the loop.
	faults        faultState
	writeErrno    syscall.Errno // of the write failure the output is in or was last in
	lostRecovered uint64        // sink's Failed at the last recovery of writes
	netnsGone     bool
	gone          netnsRemoval // the event-driven check of a watch of one namespace

	// ns is the state of a watch of several namespaces, nil for one;
	// discovery is Config.Discovery's Events while it is open (loop).
	ns          *nsSet
	discovery   <-chan nsdiscover.Event
	runCtx      context.Context                // Run's, for dumps begun from the event path
	selfMonitor atomic.Pointer[health.Monitor] // own namespace's, for /metrics

	metricsAddr string // what the metrics listener listens on, "" when off
	// emitSummary is w.unrepliedSummary, made once rather than at each
	// detector run.
	emitSummary func(*flow.UnrepliedSummary)
}

// lossReading is the loss counters at the last check: output is the sum
// over outputs; outputs and failed are each output's drops and, of those,
// the records lost to write errors.
type lossReading struct {
	kernel, output, enobufs uint64
	outputs, failed         []uint64
}

// New returns a watch; Run starts it.
func New(cfg Config) *Watch {
	cfg.withDefaults()
	var mark func(uint64, bool)
	if cfg.Format == FormatJSON && cfg.Out != nil {
		// The records go to the outputs through the logger: the Set
		// learns each one's number, and which it must never drop.
		mark = cfg.Out.Mark
	}
	w := &Watch{
		cfg:      cfg,
		after:    time.After,
		tracker:  flow.New(cfg.Flow),
		dumps:    newDumpFilters(&cfg),
		ctEvents: -1,
		runCtx:   context.Background(),
	}
	rc := record.Config{Schema: cfg.Schema, Log: cfg.Log, Clock: cfg.Clock,
		Run: cfg.Run, Host: cfg.Host, Version: cfg.Version, Mark: mark}
	if cfg.multi() {
		// Records name their namespace only when there are several.
		w.ns = &nsSet{fixed: !cfg.AllNetNS, selfIno: selfInode()}
		rc.NetNS = w.netnsIdentity
	}
	w.rec = record.New(rc)
	w.emitSummary = w.unrepliedSummary
	return w
}

// Counters returns the watch's running totals, which any goroutine may read
// while it runs.
func (w *Watch) Counters() *Counters { return &w.counters }

// batch handles one batch from the source.
func (w *Watch) batch(b *events.Batch) {
	for i := range b.Failures {
		w.decodeFailure(&b.Failures[i])
	}
	// Expectations go in the order the kernel sent them among the
	// connection events: an FTP data connection's NEW after the
	// expectation it matched.
	xi := 0
	for i := range b.Events {
		for xi < len(b.Expects) && b.Expects[xi].At <= i {
			w.expect(&b.Expects[xi])
			xi++
		}
		ev := &b.Events[i]
		if int(ev.Type) < len(w.counters.Received) {
			w.counters.Received[ev.Type].Add(1)
		}
		if w.ns != nil && !w.nsEvent(ev) {
			continue
		}
		w.event(ev)
	}
	for ; xi < len(b.Expects); xi++ {
		w.expect(&b.Expects[xi])
	}
	w.publishTracker()
}

// publishTracker copies the tracker's counts into the counters, for the
// metrics endpoint's goroutines: the tracker itself is the loop's.
func (w *Watch) publishTracker() {
	st := w.tracker.Stats()
	c := &w.counters
	c.Tracked.Store(int64(st.Tracked))
	c.UnrepliedWarnings.Store(st.UnrepliedWarnings)
	c.UnrepliedSummarised.Store(st.UnrepliedSummarised)
	c.FlowsEvicted.Store(st.Evicted)
	c.Inferred.Store(st.Inferred)
}

// event handles one live event: it tracks it, then writes what it meant.
func (w *Watch) event(ev *model.Event) {
	cfg := &w.cfg
	w.res = w.tracker.Observe(ev)
	if w.res.Ended != nil {
		w.inferred(*w.res.Ended)
	}
	switch {
	case ev.Type == model.EventNew && w.res.Merged && cfg.Snapshot:
		// Its snapshot record is already written.
		w.counters.Merged.Add(1)
		return
	case ev.Type == model.EventUpdate && cfg.Updates == UpdatesNone,
		ev.Type == model.EventUpdate && cfg.Updates == UpdatesChanges && !w.res.Changed:
		w.counters.Suppressed.Add(1)
		return
	}
	w.entry(ev, true)
}

// entry writes an entry record if the filter selects it; tracked adds the
// tracker's view of it (w.res).
func (w *Watch) entry(ev *model.Event, tracked bool) {
	cfg := &w.cfg
	if cfg.Filter != nil && !cfg.Filter.Match(ev) {
		w.counters.Filtered.Add(1)
		return
	}
	// A peer namespace's port ids are its own: resolved here they would
	// name another program.
	if ev.Origin.PortID != 0 && ev.Origin.Program == "" && !ev.NetNS.Peer {
		ev.Origin.PID, ev.Origin.Program = w.cfg.Origins.Resolve(ev.Origin.PortID, ev.Time)
		if ev.Origin.Program == "" {
			w.counters.Unnamed.Add(1)
		}
	}
	w.counters.Written.Add(1)
	w.nsRecord(ev.NetNS)
	if cfg.Format == FormatText {
		w.textBuf = w.rec.AppendText(w.textBuf[:0], ev, &cfg.Text)
		// The sink never fails a record: it drops and counts.
		_, _ = cfg.Out.Write(w.textBuf)
		return
	}
	var res *flow.Result
	if tracked {
		res = &w.res
	}
	w.rec.Entry(ev, res)
}

// inferred writes a flow's end that no DESTROY announced, as a DESTROY
// record marked inferred. With text output it goes beside the stream, not
// into it: conntrack -E never prints one.
func (w *Watch) inferred(in flow.Inferred) {
	ev := in.Event()
	if w.cfg.Filter != nil && !w.cfg.Filter.Match(&ev) {
		w.counters.Filtered.Add(1)
		return
	}
	w.nsRecord(in.NetNS)
	w.rec.Inferred(&in)
}

// unreplied writes the detector's warning about a flow still unanswered.
func (w *Watch) unreplied(u flow.Unreplied) {
	ev := model.Event{Type: model.EventUpdate, Time: u.Time, Entry: u.Entry}
	if w.cfg.Filter != nil && !w.cfg.Filter.Match(&ev) {
		return
	}
	w.nsRecord(u.NetNS)
	w.rec.Unreplied(&u)
}

// unrepliedSummary writes the detector's summary of an interval's
// unreplied flows beyond its burst. It is not filtered: the flows it counts
// are many, and the detector counted them before any filter saw them.
func (w *Watch) unrepliedSummary(s *flow.UnrepliedSummary) {
	w.rec.UnrepliedSummary(s)
}

// decodeFailure reports a message that could not be decoded; its bytes go
// into the record only at debug level.
func (w *Watch) decodeFailure(f *events.DecodeFailure) {
	w.counters.DecodeErrors.Add(1)
	w.rec.DecodeError(f.Err, f.Raw)
}

// checkLoss writes a gap record for each loss counter that grew, and an
// eviction record when the tracker had to forget flows.
func (w *Watch) checkLoss(st events.Stats) {
	outs := w.cfg.Out.Stats()
	now := lossReading{
		kernel:  st.KernelDrops,
		enobufs: st.ENOBUFS,
		outputs: make([]uint64, len(outs)),
		failed:  make([]uint64, len(outs)),
	}
	for i, o := range outs {
		now.outputs[i], now.failed[i] = o.Dropped, o.Failed
		now.output += o.Dropped
	}
	last := w.last
	w.last = now
	w.counters.LostKernel.Store(now.kernel)
	w.counters.LostOutput.Store(now.output)
	if now.kernel > last.kernel || now.enobufs > last.enobufs {
		w.gap(&record.Gap{Stage: record.StageKernel, Lost: now.kernel - last.kernel, Total: now.kernel,
			ENOBUFS: now.enobufs - last.enobufs})
		w.needRecon = true
	}
	for i, o := range outs {
		var before, failedBefore uint64
		if i < len(last.outputs) {
			before, failedBefore = last.outputs[i], last.failed[i]
		}
		if now.outputs[i] > before {
			// One gap record per output that lost records, naming it,
			// written to every output: each stream accounts for what
			// it lacks, and shows what the others lost.
			w.gap(&record.Gap{Stage: record.StageOutput, Output: o.Name,
				Lost: now.outputs[i] - before, Total: now.outputs[i],
				WriteError: outputGapHint(o, failedBefore)})
		}
	}
	if ev := w.tracker.Stats().Evicted; ev > w.evictedSeen {
		w.rec.FlowsEvicted(&record.FlowsEvicted{Evicted: ev - w.evictedSeen, Total: ev, MaxFlows: w.cfg.Flow.MaxFlows})
		w.evictedSeen = ev
	}
}

// gap writes a gap record: lost events (kernel) or records (output) since
// the last one.
func (w *Watch) gap(g *record.Gap) {
	w.counters.Gaps.Add(1)
	w.rec.Gap(g)
}

// logStart writes the "start" record.
func (w *Watch) logStart(src Source) {
	cfg := &w.cfg
	var expr, kernel, user, kerr string
	if cfg.Filter != nil {
		expr = cfg.Filter.String()
	}
	if expr != "" && !cfg.Filter.Empty() {
		kernel, user = "any", expr
		switch {
		case w.kerr != nil:
			kerr = w.kerr.Error()
		case cfg.KernelFilter && cfg.KernelFilterChanging:
			kernel, user = cfg.Filter.Split()
		case cfg.KernelFilter:
			kernel, user = cfg.Filter.SplitStable()
		}
	}
	nsName := cfg.NS.String()
	switch {
	case cfg.AllNetNS:
		nsName = "all"
	case len(cfg.NetNSSet) > 0:
		nsName = ""
		for i, h := range cfg.NetNSSet {
			if i > 0 {
				nsName += ","
			}
			nsName += h.String()
		}
	}
	w.rec.Start(&record.Start{
		Version:         cfg.Version,
		NetNS:           nsName,
		Events:          cfg.Types.String(),
		BufferRequested: cfg.BufferSize,
		BufferSize:      src.BufferSize(),
		Filter:          expr,
		FilterKernel:    kernel,
		FilterUser:      user,
		FilterProgram:   len(w.kprog),
		FilterError:     kerr,
		Text:            cfg.Format == FormatText,
		Updates:         cfg.Updates.String(),
		MaxFlows:        cfg.Flow.MaxFlows,
		UnrepliedAfter:  cfg.Flow.UnrepliedAfter,
		CTEvents:        w.ctEvents,
		Metrics:         w.metricsAddr,
	})
	switch w.ctEvents {
	case 0:
		w.rec.EventsDisabled()
	case 2:
		w.rec.EventsOnDemand()
	}
}

// selfInode is the inode of the caller's network namespace, 0 when it
// cannot be read.
func selfInode() uint64 {
	h, err := netns.Open("")
	if err != nil {
		return 0
	}
	defer h.Close()
	return h.ID()
}
