package record

import (
	"encoding/hex"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
)

// The classes of the records about the watch itself. Start, stop and
// heartbeat describe ctwatch's own process: they have no event.category,
// which would make them process events and ctwatch their process.*.
var (
	ecsStartClass          = ecsClass{"event", "", "", "conntrack-start"}
	ecsStopClass           = ecsClass{"event", "", "", "conntrack-stop"}
	ecsHeartbeatClass      = ecsClass{"metric", "", "", "conntrack-heartbeat"}
	ecsDumpClass           = ecsClass{"event", ecsNetwork, ecsInfo, "conntrack-dump"}
	ecsReconcileClass      = ecsClass{"event", ecsNetwork, ecsInfo, "conntrack-reconcile"}
	ecsGapClass            = ecsClass{"alert", ecsNetwork, ecsInfo, "conntrack-gap"}
	ecsDecodeErrorClass    = ecsClass{"alert", ecsNetwork, ecsInfo, "conntrack-decode-error"}
	ecsFlowsEvictedClass   = ecsClass{"alert", ecsNetwork, ecsInfo, "conntrack-flows-evicted"}
	ecsEventsDisabledClass = ecsClass{"alert", ecsConfiguration, ecsInfo, "conntrack-events-disabled"}
	ecsEventsOnDemandClass = ecsClass{"event", ecsConfiguration, ecsInfo, "conntrack-events-on-demand"}
	ecsStatsErrorClass     = ecsClass{"alert", ecsNetwork, ecsInfo, "conntrack-stats-error"}
	ecsReadingClass        = ecsClass{"metric", ecsNetwork, ecsInfo, "conntrack-stats"}
)

// ecsHealthClasses are the classes of the table health records, by kind.
var ecsHealthClasses = [...]ecsClass{
	health.KindStats:                {"metric", ecsNetwork, ecsInfo, "conntrack-stats"},
	health.KindTablePressure:        {"alert", ecsNetwork, ecsInfo, "conntrack-table-pressure"},
	health.KindTablePressureCleared: {"event", ecsNetwork, ecsInfo, "conntrack-table-pressure-cleared"},
	health.KindDrops:                {"alert", ecsNetwork, ecsInfo, "conntrack-drops"},
	health.KindNotTracking:          {"alert", ecsNetwork, ecsInfo, "conntrack-not-tracking"},
}

// ecsUnknownHealthClass is the class of a health record of a kind this
// package does not know.
var ecsUnknownHealthClass = ecsClass{"event", ecsNetwork, ecsInfo, "conntrack-unknown"}

// ecsRecord starts a record about the watch itself, stamped with the
// current time, and writes its head; nil when the level filters it out.
func (e *Encoder) ecsRecord(level zerolog.Level, c *ecsClass, x *ecsEventExtra, message string) *zerolog.Event {
	z := e.ecsOpen(level)
	if z == nil {
		return nil
	}
	e.ecsHead(z, e.clock(), level, c, x, message)
	return z
}

// ecsOutcomeOf returns the event.outcome of an operation that failed with
// err (nil: it did not).
func ecsOutcomeOf(err error) string {
	if err != nil {
		return ecsFailure
	}
	return ecsSuccess
}

func (e *Encoder) ecsStart(s *Start) {
	z := e.ecsRecord(zerolog.InfoLevel, &ecsStartClass, &ecsEventExtra{outcome: ecsSuccess}, "")
	if z == nil {
		return
	}
	// conntrack.start is a date on entry records: the start record's keys
	// are conntrack.startup.
	ct := e.ecsConntrack("start").Object("startup", startupJSON{s: s})
	if s.NetNS != "" {
		ct.Dict("netns", zerolog.Dict().Str("name", s.NetNS))
	}
	z.Dict("conntrack", ct)
	z.Send()
}

func (e *Encoder) ecsEventsDisabled() {
	z := e.ecsRecord(zerolog.WarnLevel, &ecsEventsDisabledClass, nil, eventsDisabledHint)
	if z == nil {
		return
	}
	z.Dict("conntrack", e.ecsConntrack("events_disabled")).Send()
}

func (e *Encoder) ecsEventsOnDemand() {
	z := e.ecsRecord(zerolog.InfoLevel, &ecsEventsOnDemandClass, nil, eventsOnDemandHint)
	if z == nil {
		return
	}
	z.Dict("conntrack", e.ecsConntrack("events_on_demand")).Send()
}

func (e *Encoder) ecsStop(t *Totals) {
	z := e.ecsRecord(zerolog.InfoLevel, &ecsStopClass, &ecsEventExtra{outcome: ecsSuccess}, "")
	if z == nil {
		return
	}
	// conntrack.stop is a date on entry records: the totals are
	// conntrack.summary.
	z.Dict("conntrack", e.ecsConntrack("stop").Object("summary", (*totalsJSON)(t)))
	z.Send()
}

func (e *Encoder) ecsDump(d *Dump) {
	level := zerolog.InfoLevel
	if d.Err != nil {
		level = zerolog.WarnLevel
	}
	x := ecsEventExtra{outcome: ecsOutcomeOf(d.Err), duration: d.Took, hasDuration: true}
	z := e.ecsRecord(level, &ecsDumpClass, &x, "")
	if z == nil {
		return
	}
	ecsError(z, d.Err)
	z.Dict("conntrack", e.ecsConntrack("dump").Dict("dump", zerolog.Dict().
		Uint64("entries", d.Entries).
		Func(dumpExpectations(d)).
		Func(skippedFull(d.SkippedFull)).
		Float64("duration_s", d.Took.Seconds())))
	z.Send()
}

func (e *Encoder) ecsReconcile(r *Reconcile) {
	level := zerolog.DebugLevel
	if r.Err != nil {
		level = zerolog.WarnLevel
	}
	x := ecsEventExtra{outcome: ecsOutcomeOf(r.Err), duration: r.Took, hasDuration: true}
	z := e.ecsRecord(level, &ecsReconcileClass, &x, "")
	if z == nil {
		return
	}
	ecsError(z, r.Err)
	ns := e.netnsOf(r.NetNS)
	ecsContainer(z, ns)
	ct := e.ecsConntrack("reconcile")
	if ns != nil {
		ct.RawJSON("netns", ns.json)
	}
	z.Dict("conntrack", ct.Dict("reconcile", zerolog.Dict().
		Str("reason", r.Reason).
		Uint64("entries", r.Entries).
		Uint64("inferred", r.Inferred).
		Func(skippedFull(r.SkippedFull)).
		Float64("duration_s", r.Took.Seconds())))
	z.Send()
}

func (e *Encoder) ecsGap(g *Gap) {
	stage, hint := "kernel", gapKernelHint
	if g.Stage == StageOutput {
		stage, hint = "output", gapOutputHint
		if g.WriteError != "" {
			hint = gapWriteErrorHint(g)
		}
	}
	z := e.ecsRecord(zerolog.WarnLevel, &ecsGapClass, nil, hint)
	if z == nil {
		return
	}
	gd := zerolog.Dict().Str("stage", stage)
	if g.Output != "" {
		gd.Str("output", g.Output)
	}
	gd.Uint64("lost", g.Lost).
		Uint64("lost_total", g.Total)
	if g.Stage == StageKernel {
		gd.Uint64("enobufs", g.ENOBUFS)
	}
	z.Dict("conntrack", e.ecsConntrack("gap").Dict("gap", gd))
	z.Send()
}

func (e *Encoder) ecsDecodeError(err error, raw []byte) {
	// The message's bytes, at debug level only, are the raw event:
	// event.original.
	x := ecsEventExtra{outcome: ecsFailure}
	if e.log.GetLevel() <= zerolog.DebugLevel {
		x.original = hex.EncodeToString(raw)
	}
	z := e.ecsRecord(zerolog.WarnLevel, &ecsDecodeErrorClass, &x, "")
	if z == nil {
		return
	}
	ecsError(z, err)
	z.Dict("conntrack", e.ecsConntrack("decode_error").Dict("decode_error", zerolog.Dict().Int("bytes", len(raw))))
	z.Send()
}

func (e *Encoder) ecsFlowsEvicted(f *FlowsEvicted) {
	z := e.ecsRecord(zerolog.WarnLevel, &ecsFlowsEvictedClass, nil, flowsEvictedHint)
	if z == nil {
		return
	}
	z.Dict("conntrack", e.ecsConntrack("flows_evicted").Dict("flows_evicted", zerolog.Dict().
		Uint64("evicted", f.Evicted).
		Uint64("evicted_total", f.Total).
		Int("max_flows", f.MaxFlows)))
	z.Send()
}

func (e *Encoder) ecsHeartbeat(h *Heartbeat) {
	z := e.ecsRecord(zerolog.InfoLevel, &ecsHeartbeatClass, nil, "")
	if z == nil {
		return
	}
	var buf [32]byte
	z.Dict("conntrack", e.ecsConntrack("heartbeat").Dict("heartbeat", zerolog.Dict().
		RawJSON("uptime_s", appendSeconds(buf[:0], h.Uptime)).
		Dict("events", zerolog.Dict().
			Uint64("new", h.New).
			Uint64("update", h.Update).
			Uint64("destroy", h.Destroy)).
		Uint64("written", h.Written).
		Dict("lost", zerolog.Dict().
			Uint64("kernel", h.LostKernel).
			Uint64("output", h.LostOutput)).
		Int("queue", h.QueueDepth)))
	z.Send()
}

func (e *Encoder) ecsHealth(r *health.Record) {
	level := healthLevel(r.Kind)
	z := e.ecsOpen(level)
	if z == nil {
		return
	}
	c := &ecsUnknownHealthClass
	if int(r.Kind) < len(ecsHealthClasses) {
		c = &ecsHealthClasses[r.Kind]
	}
	at := r.Time
	if at.IsZero() {
		at = e.clock()
	}
	e.ecsHead(z, at, level, c, nil, r.Hint)
	name := "unknown"
	if int(r.Kind) < len(healthNames) {
		name = healthNames[r.Kind]
	}
	ns := e.netnsOf(r.NetNS)
	ecsContainer(z, ns)
	ct := e.ecsConntrack(name)
	if ns != nil {
		ct.RawJSON("netns", ns.json)
	}
	table := zerolog.Dict().
		Uint32("count", r.Count).
		Uint32("max", r.Max).
		Float64("fill", ctstat.RoundFill(r.Fill))
	switch r.Kind {
	case health.KindStats:
		table.Uint32("buckets", r.Buckets)
		ct.Dict("table", table)
		if r.HasDelta {
			ct.Dict("stats", zerolog.Dict().
				Float64("interval_s", r.Interval.Seconds()).
				Object("delta", (*cpuStatsJSON)(&r.Delta)))
		}
	case health.KindTablePressure:
		ct.Dict("table", table)
		tp := zerolog.Dict().Float64("threshold", r.Threshold)
		if r.Top != nil {
			tp.Object("top", (*topJSON)(r.Top))
		}
		if r.TopErr != nil {
			tp.Str("top_error", r.TopErr.Error())
		}
		ct.Dict("table_pressure", tp)
	case health.KindTablePressureCleared:
		ct.Dict("table", table)
		ct.Dict("table_pressure", zerolog.Dict().Float64("threshold", r.Threshold))
	case health.KindDrops:
		ct.Dict("table", table)
		d := zerolog.Dict()
		for _, c := range dropCounters {
			d.Uint64(c.String(), r.Delta[c])
		}
		ct.Dict("drops", zerolog.Dict().
			Float64("interval_s", r.Interval.Seconds()).
			Dict("delta", d))
	default:
		ct.Dict("table", table)
	}
	z.Dict("conntrack", ct)
	z.Send()
}

func (e *Encoder) ecsStatsError(err error) {
	z := e.ecsRecord(zerolog.WarnLevel, &ecsStatsErrorClass, &ecsEventExtra{outcome: ecsFailure}, "")
	if z == nil {
		return
	}
	ecsError(z, err)
	z.Dict("conntrack", e.ecsConntrack("stats_error"))
	z.Send()
}

func (e *Encoder) ecsReading(r *ctstat.Reading, perCPU bool) {
	z := e.ecsOpen(zerolog.NoLevel)
	if z == nil {
		return
	}
	at := r.Time
	if at.IsZero() {
		at = e.clock()
	}
	e.ecsHead(z, at, zerolog.NoLevel, &ecsReadingClass, nil, "")
	st := zerolog.Dict()
	(*cpuStatsJSON)(&r.Sum).MarshalZerologObject(st)
	if perCPU {
		st.Array("per_cpu", cpuArray(r.PerCPU))
	}
	z.Dict("conntrack", e.ecsConntrack("stats").
		Dict("table", zerolog.Dict().
			Uint32("count", r.Count).
			Uint32("max", r.Max).
			Float64("fill", ctstat.RoundFill(r.FillPercent())).
			Uint32("buckets", r.Buckets)).
		Dict("stats", st))
	z.Send()
}
