package watch

import (
	"encoding/hex"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

const warnLevel = zerolog.WarnLevel

// unrepliedHint is the one-line explanation an unreplied warning carries;
// docs/heartbeat.md has the long one.
const unrepliedHint = "no reply yet: the peer is down or unreachable, the reply is dropped (by a firewall, or by conntrack as INVALID: see nf_conntrack_log_invalid), or it takes another path; traffic that must bypass conntrack (heartbeats) belongs in the raw table with NOTRACK"

// Watch is one run of the watch pipeline.
type Watch struct {
	cfg      Config
	counters Counters
	after    afterFunc // time.After; a test's stand-in runs out budgets at once
	tracker  *flow.Tracker
	monitor  *health.Monitor // nil when off; owned by healthLoop

	// Owned by the loop goroutine.
	res         flow.Result // long-lived, so that its parts marshal without escaping
	textBuf     []byte
	last        lossReading
	ctEvents    int64 // nf_conntrack_events, -1 when unknown
	reconciled  time.Time
	dumpTook    time.Duration // how long the last dump took
	needRecon   bool
	evictedSeen uint64
}

// lossReading is the loss counters at the last check.
type lossReading struct{ kernel, output, enobufs uint64 }

// New returns a watch; Run starts it.
func New(cfg Config) *Watch {
	cfg.withDefaults()
	return &Watch{
		cfg:      cfg,
		after:    time.After,
		tracker:  flow.New(cfg.Flow),
		ctEvents: -1,
	}
}

// Counters returns the watch's running totals, which any goroutine may read
// while it runs.
func (w *Watch) Counters() *Counters { return &w.counters }

// batch handles one batch from the source.
func (w *Watch) batch(b *events.Batch) {
	for i := range b.Failures {
		w.decodeFailure(&b.Failures[i])
	}
	for i := range b.Events {
		ev := &b.Events[i]
		if int(ev.Type) < len(w.counters.Received) {
			w.counters.Received[ev.Type].Add(1)
		}
		w.event(ev)
	}
	w.counters.Tracked.Store(int64(w.tracker.Len()))
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
	if ev.Origin.PortID != 0 && ev.Origin.Program == "" {
		ev.Origin.PID, ev.Origin.Program = w.cfg.Origins.Resolve(ev.Origin.PortID)
	}
	w.counters.Written.Add(1)
	if cfg.Format == FormatText {
		if ev.Entry.Fields.Has(model.FieldStart) {
			// conntrack-tools prints the age of entries that carry
			// their start time.
			events.SetDeltaTime(&ev.Entry, cfg.Clock())
		}
		w.textBuf = model.AppendText(w.textBuf[:0], ev, &cfg.Text)
		w.textBuf = append(w.textBuf, '\n')
		// The sink never fails a record: it drops and counts.
		_, _ = cfg.Out.Write(w.textBuf)
		return
	}
	z := cfg.Log.Info().EmbedObject(ev)
	if tracked {
		if w.res.HasTransition {
			z.Object("transition", &w.res.Transition)
		}
		if ev.Type == model.EventDestroy {
			z.Object("flow", &w.res.Flow)
		}
	}
	z.Send()
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
	w.cfg.Log.Info().EmbedObject(&ev).Bool("inferred", true).Object("flow", &in.Flow).Send()
}

// unreplied writes the detector's warning about a flow still unanswered.
func (w *Watch) unreplied(u flow.Unreplied) {
	ev := model.Event{Type: model.EventUpdate, Time: u.Time, Entry: u.Entry}
	if w.cfg.Filter != nil && !w.cfg.Filter.Match(&ev) {
		return
	}
	w.record(zerolog.WarnLevel, "unreplied").
		EmbedObject(&ev.Entry).
		EmbedObject(&u).
		Str("hint", unrepliedHint).
		Send()
}

// decodeFailure reports a message that could not be decoded; its bytes go
// into the record only at debug level.
func (w *Watch) decodeFailure(f *events.DecodeFailure) {
	w.counters.DecodeErrors.Add(1)
	rec := w.record(zerolog.WarnLevel, "decode_error").Err(f.Err).Int("bytes", len(f.Raw))
	if w.cfg.Log.GetLevel() <= zerolog.DebugLevel {
		rec = rec.Str("raw_hex", hex.EncodeToString(f.Raw))
	}
	rec.Send()
}

// checkLoss writes a gap record for each loss counter that grew, and an
// eviction record when the tracker had to forget flows.
func (w *Watch) checkLoss(st events.Stats) {
	now := lossReading{
		kernel:  st.KernelDrops,
		output:  w.cfg.Out.Stats().Dropped,
		enobufs: st.ENOBUFS,
	}
	last := w.last
	w.last = now
	w.counters.LostKernel.Store(now.kernel)
	w.counters.LostOutput.Store(now.output)
	if now.kernel > last.kernel || now.enobufs > last.enobufs {
		w.gap("kernel", now.kernel-last.kernel, now.kernel,
			"the socket's receive buffer overflowed: raise --buffer-size").
			Uint64("enobufs", now.enobufs-last.enobufs).Send()
		w.needRecon = true
	}
	if now.output > last.output {
		w.gap("output", now.output-last.output, now.output,
			"the output could not keep up and records were dropped: write to a faster destination").Send()
	}
	if ev := w.tracker.Stats().Evicted; ev > w.evictedSeen {
		w.record(zerolog.WarnLevel, "flows_evicted").
			Uint64("evicted", ev-w.evictedSeen).
			Uint64("evicted_total", ev).
			Int("max_flows", w.cfg.Flow.MaxFlows).
			Str("hint", "the flow tracker is full: the least recently seen flows were forgotten, and their ends will have no lifecycle; raise --max-flows").
			Send()
		w.evictedSeen = ev
	}
}

// gap starts a gap record: lost events (kernel) or records (output)
// since the last one.
func (w *Watch) gap(stage string, lost, total uint64, hint string) *zerolog.Event {
	w.counters.Gaps.Add(1)
	return w.record(zerolog.WarnLevel, "gap").
		Str("stage", stage).
		Uint64("lost", lost).
		Uint64("lost_total", total).
		Str("hint", hint)
}

// logStart writes the "start" record.
func (w *Watch) logStart(src Source) {
	cfg := &w.cfg
	filterDesc := "any"
	if cfg.Filter != nil {
		filterDesc = cfg.Filter.String()
	}
	format := "json"
	if cfg.Format == FormatText {
		format = "text"
	}
	rec := w.record(zerolog.InfoLevel, "start").
		Str("version", cfg.Version).
		Str("netns", cfg.NS.String()).
		Str("events", cfg.Types.String()).
		Int("buffer_requested", cfg.BufferSize).
		Int("buffer_size", src.BufferSize()).
		Str("filter", filterDesc).
		Str("format", format).
		Str("updates", cfg.Updates.String()).
		Int("max_flows", cfg.Flow.MaxFlows).
		Float64("unreplied_after_s", cfg.Flow.UnrepliedAfter.Seconds())
	if w.ctEvents >= 0 {
		rec = rec.Int64("nf_conntrack_events", w.ctEvents)
	}
	rec.Send()
	switch w.ctEvents {
	case 0:
		w.record(zerolog.WarnLevel, "events_disabled").
			Str("hint", "net.netfilter.nf_conntrack_events is 0: the kernel sends no events; set it to 1").Send()
	case 2:
		w.record(zerolog.InfoLevel, "events_on_demand").
			Str("hint", "net.netfilter.nf_conntrack_events is 2: flows created while no event listener existed on the host (before ctwatch started) never report their end; ctwatch infers it from periodic dumps (inferred destroy records); set it to 1 for exact ends").Send()
	}
}

// record starts a record of the given level and event name, with the
// current time.
func (w *Watch) record(level zerolog.Level, event string) *zerolog.Event {
	var buf [40]byte
	return w.cfg.Log.WithLevel(level).
		RawJSON("time", model.AppendJSONTime(buf[:0], w.cfg.Clock())).
		Str("event", event)
}
