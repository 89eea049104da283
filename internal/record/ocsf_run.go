package record

import (
	"encoding/hex"

	"github.com/rs/zerolog"
)

// The OCSF schema's records about ctwatch's own run: its lifecycle
// (Application Lifecycle 6002: start, stop, heartbeat), its errors and
// losses (Application Error 6008) and the rest (Base Event 0, activity
// Other, activity_name naming the record). Their own keys go under
// unmapped.conntrack.<record>, except start's (startup), stop's (summary):
// entry records have unmapped.conntrack.start and .stop as times (D25).

// ocsfLifecycle starts an Application Lifecycle record, with its app
// (required) and status success.
func (e *Encoder) ocsfLifecycle(activity int, name string) (*zerolog.Event, uint64) {
	z, seq := e.ocsfRecord(zerolog.InfoLevel, ocsfClass{class: ocsfApplicationLifecycle, activity: activity,
		activityName: name, severity: ocsfInformational}, e.clock())
	if z == nil {
		return nil, 0
	}
	var buf [128]byte
	z.RawJSON("app", e.appendOCSFApp(buf[:0]))
	ocsfStatus(z, ocsfStatusSuccess)
	return z, seq
}

// ocsfError starts an Application Error record of the given activity and
// severity, with status failure.
func (e *Encoder) ocsfError(level zerolog.Level, activity int, name string, severity int) (*zerolog.Event, uint64) {
	z, seq := e.ocsfRecord(level, ocsfClass{class: ocsfApplicationError, activity: activity, activityName: name,
		severity: severity}, e.clock())
	if z != nil {
		ocsfStatus(z, ocsfStatusFailure)
	}
	return z, seq
}

// ocsfOther starts a Base Event of activity Other named name.
func (e *Encoder) ocsfOther(level zerolog.Level, name string, severity int) (*zerolog.Event, uint64) {
	return e.ocsfRecord(level, ocsfClass{class: ocsfBaseEvent, activity: ocsfActivityOther, activityName: name,
		severity: severity}, e.clock())
}

func (e *Encoder) ocsfStart(s *Start) {
	z, seq := e.ocsfLifecycle(ocsfStart, "Start")
	if z == nil {
		return
	}
	c := e.ocsfConntrack(seq, "start").Object("startup", startupJSON{s: s})
	if s.NetNS != "" {
		c.Dict("netns", zerolog.Dict().Str("name", s.NetNS))
	}
	ocsfUnmapped(z, c)
}

func (e *Encoder) ocsfStop(t *Totals) {
	z, seq := e.ocsfLifecycle(ocsfStop, "Stop")
	if z == nil {
		return
	}
	ocsfUnmapped(z, e.ocsfConntrack(seq, "stop").Object("summary", (*totalsJSON)(t)))
}

func (e *Encoder) ocsfHeartbeat(h *Heartbeat) {
	z, seq := e.ocsfLifecycle(ocsfActivityOther, "Heartbeat")
	if z == nil {
		return
	}
	var buf [32]byte
	ocsfUnmapped(z, e.ocsfConntrack(seq, "heartbeat").Dict("heartbeat", zerolog.Dict().
		RawJSON("uptime_s", appendSeconds(buf[:0], h.Uptime)).
		Dict("received", zerolog.Dict().
			Uint64("new", h.New).
			Uint64("update", h.Update).
			Uint64("destroy", h.Destroy)).
		Uint64("written", h.Written).
		Dict("lost", zerolog.Dict().
			Uint64("kernel", h.LostKernel).
			Uint64("output", h.LostOutput)).
		Int("queue_depth", h.QueueDepth)))
}

func (e *Encoder) ocsfEventsDisabled() {
	z, seq := e.ocsfError(zerolog.WarnLevel, ocsfGeneralError, "General Error", ocsfMedium)
	if z == nil {
		return
	}
	z.Str("message", eventsDisabledHint)
	ocsfUnmapped(z, e.ocsfConntrack(seq, "events_disabled"))
}

func (e *Encoder) ocsfEventsOnDemand() {
	z, seq := e.ocsfOther(zerolog.InfoLevel, "Events On Demand", ocsfInformational)
	if z == nil {
		return
	}
	z.Str("message", eventsOnDemandHint)
	ocsfUnmapped(z, e.ocsfConntrack(seq, "events_on_demand"))
}

// ocsfOutcome starts the record of a dump or reconciliation: a Base Event
// when it succeeded, an Application Error when err is set (D18).
func (e *Encoder) ocsfOutcome(level zerolog.Level, name string, err error) (*zerolog.Event, uint64) {
	if err != nil {
		z, seq := e.ocsfError(zerolog.WarnLevel, ocsfGeneralError, "General Error", ocsfMedium)
		if z != nil {
			z.Str("message", err.Error())
		}
		return z, seq
	}
	z, seq := e.ocsfOther(level, name, ocsfInformational)
	if z != nil {
		ocsfStatus(z, ocsfStatusSuccess)
	}
	return z, seq
}

func (e *Encoder) ocsfDump(d *Dump) {
	z, seq := e.ocsfOutcome(zerolog.InfoLevel, "Dump", d.Err)
	if z == nil {
		return
	}
	z.Int64("duration", ocsfMillis(d.Took))
	ocsfUnmapped(z, e.ocsfConntrack(seq, "dump").Dict("dump", zerolog.Dict().
		Uint64("entries", d.Entries).
		Func(dumpExpectations(d)).
		Func(skippedFull(d.SkippedFull)).
		Float64("duration_s", d.Took.Seconds())))
}

func (e *Encoder) ocsfReconcile(r *Reconcile) {
	z, seq := e.ocsfOutcome(zerolog.DebugLevel, "Reconcile", r.Err)
	if z == nil {
		return
	}
	z.Int64("duration", ocsfMillis(r.Took))
	c := e.ocsfConntrack(seq, "reconcile")
	if ns := e.netnsOf(r.NetNS); ns != nil {
		c.RawJSON("netns", ns.json)
	}
	ocsfUnmapped(z, c.Dict("reconcile", zerolog.Dict().
		Str("reason", r.Reason).
		Uint64("entries", r.Entries).
		Uint64("inferred", r.Inferred).
		Func(skippedFull(r.SkippedFull)).
		Float64("duration_s", r.Took.Seconds())))
}

func (e *Encoder) ocsfGap(g *Gap) {
	z, seq := e.ocsfError(zerolog.WarnLevel, ocsfGeneralError, "General Error", ocsfMedium)
	if z == nil {
		return
	}
	stage, hint := "kernel", gapKernelHint
	if g.Stage == StageOutput {
		stage, hint = "output", gapOutputHint
		if g.WriteError != "" {
			hint = gapWriteErrorHint(g)
		}
	}
	z.Str("status_detail", stage).Str("message", hint).Int("count", ocsfInt(g.Lost))
	d := zerolog.Dict().Str("stage", stage)
	if g.Output != "" {
		d.Str("output", g.Output)
	}
	d.Uint64("lost", g.Lost).
		Uint64("lost_total", g.Total)
	if g.Stage == StageKernel {
		d.Uint64("enobufs", g.ENOBUFS)
	}
	ocsfUnmapped(z, e.ocsfConntrack(seq, "gap").Dict("gap", d))
}

func (e *Encoder) ocsfDecodeError(err error, raw []byte) {
	z, seq := e.ocsfError(zerolog.WarnLevel, ocsfTranslationError, "Translation Error", ocsfLow)
	if z == nil {
		return
	}
	if err != nil {
		// OCSF: "the error message should be put in the event's message".
		z.Str("message", err.Error())
	}
	z.Int64("raw_data_size", int64(len(raw)))
	if e.log.GetLevel() <= zerolog.DebugLevel {
		z.Str("raw_data", hex.EncodeToString(raw))
	}
	ocsfUnmapped(z, e.ocsfConntrack(seq, "decode_error").Dict("decode_error", zerolog.Dict().Int("bytes", len(raw))))
}

func (e *Encoder) ocsfFlowsEvicted(f *FlowsEvicted) {
	z, seq := e.ocsfError(zerolog.WarnLevel, ocsfGeneralError, "General Error", ocsfMedium)
	if z == nil {
		return
	}
	z.Str("message", flowsEvictedHint).Int("count", ocsfInt(f.Evicted))
	ocsfUnmapped(z, e.ocsfConntrack(seq, "flows_evicted").Dict("flows_evicted", zerolog.Dict().
		Uint64("evicted", f.Evicted).
		Uint64("evicted_total", f.Total).
		Int("max_flows", f.MaxFlows)))
}

func (e *Encoder) ocsfStatsError(err error) {
	z, seq := e.ocsfError(zerolog.WarnLevel, ocsfGeneralError, "General Error", ocsfLow)
	if z == nil {
		return
	}
	if err != nil {
		z.Str("message", err.Error())
	}
	ocsfUnmapped(z, e.ocsfConntrack(seq, "stats_error"))
}
