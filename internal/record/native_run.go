package record

import (
	"encoding/hex"
	"encoding/json"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The hints native records carry: one line each; the docs have the long
// explanations.
const (
	// unrepliedHint: docs/heartbeat.md.
	unrepliedHint      = "no reply yet: the peer is down or unreachable, the reply is dropped (by a firewall, or by conntrack as INVALID: see nf_conntrack_log_invalid), or it takes another path; traffic that must bypass conntrack (heartbeats) belongs in the raw table with NOTRACK"
	eventsDisabledHint = "net.netfilter.nf_conntrack_events is 0: the kernel sends no events; set it to 1"
	eventsOnDemandHint = "net.netfilter.nf_conntrack_events is 2: flows created while no event listener existed on the host (before ctwatch started) never report their end; ctwatch infers it from periodic dumps (inferred destroy records); set it to 1 for exact ends"
	gapKernelHint      = "the socket's receive buffer overflowed: raise --buffer-size"
	gapOutputHint      = "the output could not keep up and records were dropped: write to a faster destination"
	flowsEvictedHint   = "the flow tracker is full: the least recently seen flows were forgotten, and their ends will have no lifecycle; raise --max-flows"
)

// nativeRecord starts a record of the given level and event name, with the
// current time and the envelope. It returns nil, and takes no sequence
// number, when the level filters the record out.
func (e *Encoder) nativeRecord(level zerolog.Level, event string) *zerolog.Event {
	z := e.log.WithLevel(level)
	if z == nil {
		return nil
	}
	var buf [40]byte
	z.RawJSON("time", AppendTime(buf[:0], e.clock())).Str("event", event)
	return e.nativeEnvelope(z)
}

// nativeEnvelope writes the keys that follow "event" in every native
// record: seq (the record's sequence number, taken here and only here, so
// that each record written takes exactly one), run and host. z is not nil.
func (e *Encoder) nativeEnvelope(z *zerolog.Event) *zerolog.Event {
	return z.Uint64("seq", e.nextSeq()).Str("run", e.run).RawJSON("host", e.nativeHost)
}

// nativeHostJSON returns the native "host" object of a host name.
func nativeHostJSON(host string) []byte {
	b := append([]byte(`{"name":`), jsonString(host)...)
	return append(b, '}')
}

// jsonString returns s as a JSON string, escaped as encoding/json does.
func jsonString(s string) []byte {
	b, err := json.Marshal(s)
	if err != nil { // a string always marshals
		panic(err)
	}
	return b
}

func (e *Encoder) nativeEntry(ev *model.Event, res *flow.Result) {
	z := e.nativeEventRecord(e.log.Info(), ev)
	if z != nil && res != nil {
		if res.HasTransition {
			z.Object("transition", (*transitionJSON)(&res.Transition))
		}
		if ev.Type == model.EventDestroy {
			z.Object("flow", (*lifecycleJSON)(&res.Flow))
		}
	}
	z.Send()
}

func (e *Encoder) nativeEvent(ev *model.Event) {
	e.nativeEventRecord(e.log.Log(), ev).Send()
}

func (e *Encoder) nativeHeartbeat(h *Heartbeat) {
	var buf [32]byte
	e.nativeRecord(zerolog.InfoLevel, "heartbeat").
		RawJSON("uptime_s", appendSeconds(buf[:0], h.Uptime)).
		Dict("events", zerolog.Dict().
			Uint64("new", h.New).
			Uint64("update", h.Update).
			Uint64("destroy", h.Destroy)).
		Uint64("written", h.Written).
		Dict("lost", zerolog.Dict().
			Uint64("kernel", h.LostKernel).
			Uint64("output", h.LostOutput)).
		Int("queue", h.QueueDepth).
		Send()
}

func (e *Encoder) nativeInferred(in *flow.Inferred) {
	ev := in.Event()
	e.nativeEventRecord(e.log.Info(), &ev).Bool("inferred", true).Str("inferred_reason", inferredReason(in)).
		Object("flow", (*lifecycleJSON)(&in.Flow)).Send()
}

func (e *Encoder) nativeUnreplied(u *flow.Unreplied) {
	// flows comes first, as in a summary: every unreplied record counts
	// the flows it stands for.
	z := e.nativeRecord(zerolog.WarnLevel, "unreplied")
	if z == nil {
		return
	}
	e.nativeNetNS(z, u.NetNS)
	z.Int("flows", 1).
		EmbedObject((*entryJSON)(&u.Entry)).
		EmbedObject((*unrepliedJSON)(u)).
		Str("hint", unrepliedHint).
		Send()
}

func (e *Encoder) nativeStart(s *Start) {
	e.nativeRecord(zerolog.InfoLevel, "start").EmbedObject(startupJSON{s: s, netns: true}).Send()
}

// startupJSON writes a start record's settings, the same keys in every
// schema: at the top of native records, as conntrack.startup in ECS and
// unmapped.conntrack.startup in OCSF. With netns, the namespace's name
// follows the version (native); ECS and OCSF have it as netns.name.
type startupJSON struct {
	s     *Start
	netns bool
}

// MarshalZerologObject implements zerolog.LogObjectMarshaler.
func (j startupJSON) MarshalZerologObject(z *zerolog.Event) {
	s := j.s
	filter := s.Filter
	if filter == "" {
		filter = "any"
	}
	format := "json"
	if s.Text {
		format = "text"
	}
	z.Str("version", s.Version)
	if j.netns {
		z.Str("netns", s.NetNS)
	}
	z.Str("events", s.Events).
		Int("buffer_requested", s.BufferRequested).
		Int("buffer_size", s.BufferSize).
		Str("filter", filter)
	if s.FilterKernel != "" || s.FilterUser != "" {
		z.Str("filter_kernel", s.FilterKernel).
			Str("filter_user", s.FilterUser).
			Int("filter_bpf_instructions", s.FilterProgram)
		if s.FilterError != "" {
			z.Str("filter_kernel_error", s.FilterError)
		}
	}
	z.Str("format", format).
		Str("updates", s.Updates).
		Int("max_flows", s.MaxFlows).
		Float64("unreplied_after_s", s.UnrepliedAfter.Seconds())
	if s.CTEvents >= 0 {
		z.Int64("nf_conntrack_events", s.CTEvents)
	}
	if s.Metrics != "" {
		z.Str("metrics", s.Metrics)
	}
}

func (e *Encoder) nativeEventsDisabled() {
	e.nativeRecord(zerolog.WarnLevel, "events_disabled").Str("hint", eventsDisabledHint).Send()
}

func (e *Encoder) nativeEventsOnDemand() {
	e.nativeRecord(zerolog.InfoLevel, "events_on_demand").Str("hint", eventsOnDemandHint).Send()
}

func (e *Encoder) nativeStop(t *Totals) {
	e.nativeRecord(zerolog.InfoLevel, "stop").EmbedObject((*totalsJSON)(t)).Send()
}

func (e *Encoder) nativeDump(d *Dump) {
	level := zerolog.InfoLevel
	if d.Err != nil {
		level = zerolog.WarnLevel
	}
	e.nativeRecord(level, "dump").Err(d.Err).
		Uint64("entries", d.Entries).
		Func(dumpExpectations(d)).
		Func(skippedFull(d.SkippedFull)).
		Float64("duration_s", d.Took.Seconds()).
		Send()
}

func (e *Encoder) nativeReconcile(r *Reconcile) {
	level := zerolog.DebugLevel
	if r.Err != nil {
		level = zerolog.WarnLevel
	}
	z := e.nativeRecord(level, "reconcile")
	e.nativeNetNS(z, r.NetNS)
	z.Err(r.Err).
		Str("reason", r.Reason).
		Uint64("entries", r.Entries).
		Uint64("inferred", r.Inferred).
		Func(skippedFull(r.SkippedFull)).
		Float64("duration_s", r.Took.Seconds()).
		Send()
}

func (e *Encoder) nativeGap(g *Gap) {
	stage, hint := "kernel", gapKernelHint
	if g.Stage == StageOutput {
		stage, hint = "output", gapOutputHint
		if g.WriteError != "" {
			hint = gapWriteErrorHint(g)
		}
	}
	z := e.nativeRecord(zerolog.WarnLevel, "gap").
		Str("stage", stage)
	if g.Output != "" {
		z.Str("output", g.Output)
	}
	z.
		Uint64("lost", g.Lost).
		Uint64("lost_total", g.Total).
		Str("hint", hint)
	if g.Stage == StageKernel {
		z.Uint64("enobufs", g.ENOBUFS)
	}
	z.Send()
}

func (e *Encoder) nativeDecodeError(err error, raw []byte) {
	z := e.nativeRecord(zerolog.WarnLevel, "decode_error").Err(err).Int("bytes", len(raw))
	if e.log.GetLevel() <= zerolog.DebugLevel {
		z = z.Str("raw_hex", hex.EncodeToString(raw))
	}
	z.Send()
}

func (e *Encoder) nativeFlowsEvicted(f *FlowsEvicted) {
	e.nativeRecord(zerolog.WarnLevel, "flows_evicted").
		Uint64("evicted", f.Evicted).
		Uint64("evicted_total", f.Total).
		Int("max_flows", f.MaxFlows).
		Str("hint", flowsEvictedHint).
		Send()
}

func (e *Encoder) nativeHealth(r *health.Record) {
	z := e.log.WithLevel(healthLevel(r.Kind))
	if z == nil {
		return
	}
	h := (*healthJSON)(r)
	h.head(z)
	e.nativeEnvelope(z)
	e.nativeNetNS(z, r.NetNS)
	h.MarshalZerologObject(z)
	z.Send()
}

func (e *Encoder) nativeStatsError(err error) {
	e.nativeRecord(zerolog.WarnLevel, "stats_error").Err(err).Send()
}

func (e *Encoder) nativeReading(r *ctstat.Reading, perCPU bool) {
	z := e.log.Log().EmbedObject((*readingJSON)(r))
	if perCPU {
		z = z.Array("per_cpu", cpuArray(r.PerCPU))
	}
	z.Send()
}

// totalsJSON writes a stop record's totals, the same keys in every schema
// (at the top of a native record, under the SIEM schemas' summary object).
type totalsJSON Totals

// MarshalZerologObject writes received (with expect_new and expect_destroy
// in a watch of expectations), snapshot, entries (and expectations),
// filtered, suppressed, merged, lost, decode_errors, the tracker's counts, outputs,
// and in a watch of several namespaces netns, netns_more, other_netns and
// unknown_netns (each only when not empty or zero).
func (t *totalsJSON) MarshalZerologObject(z *zerolog.Event) {
	received := zerolog.Dict().
		Uint64("new", t.New).
		Uint64("update", t.Update).
		Uint64("destroy", t.Destroy)
	if t.Expects {
		received.Uint64("expect_new", t.ExpectNew).Uint64("expect_destroy", t.ExpectDestroy)
	}
	z.Dict("received", received).
		Uint64("snapshot", t.Snapshot).
		Uint64("entries", t.Written)
	if t.Expects {
		z.Uint64("expectations", t.ExpectWritten)
	}
	z.Uint64("filtered", t.Filtered).
		Uint64("suppressed", t.Suppressed).
		Uint64("merged", t.Merged).
		Dict("lost", zerolog.Dict().
			Uint64("kernel", t.LostKernel).
			Uint64("output", t.LostOutput)).
		Uint64("decode_errors", t.DecodeErrors).
		Uint64("unreplied_warnings", t.UnrepliedWarnings).
		Func(unrepliedSummarised(t.UnrepliedSummarised)).
		Uint64("flows_evicted", t.FlowsEvicted).
		Uint64("inferred_destroys", t.Inferred).
		Func(skippedFull(t.SkippedFull))
	if len(t.Outputs) > 0 {
		z.Array("outputs", outputTotals(t.Outputs))
	}
	if len(t.NetNS) > 0 {
		z.Array("netns", netnsTotals(t.NetNS))
	}
	if n := netnsMore((*Totals)(t)); n > 0 {
		z.Int("netns_more", n)
	}
	if t.OtherNetNS > 0 {
		z.Uint64("other_netns", t.OtherNetNS)
	}
	if t.UnknownNetNS > 0 {
		z.Uint64("unknown_netns", t.UnknownNetNS)
	}
}

// outputTotals writes the stop record's account of each output.
type outputTotals []OutputTotal

// MarshalZerologArray implements zerolog.LogArrayMarshaler.
func (o outputTotals) MarshalZerologArray(a *zerolog.Array) {
	for i := range o {
		a.Dict(zerolog.Dict().
			Str("name", o[i].Name).
			Uint64("written", o[i].Written).
			Uint64("dropped", o[i].Dropped).
			Uint64("queued", o[i].Queued))
	}
}
