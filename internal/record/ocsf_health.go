package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
)

// The OCSF schema's table health records and ctstat readings: Base Events
// (OCSF 1.8.0 has no metrics class), activity Other, activity_name naming
// the record. The table's size is under unmapped.conntrack.table, each
// kind's own keys under unmapped.conntrack.<kind>.

// ocsfHealthNames are the activity names of the health records, by kind.
var ocsfHealthNames = [...]string{
	health.KindStats:                "Stats",
	health.KindTablePressure:        "Table Pressure",
	health.KindTablePressureCleared: "Table Pressure Cleared",
	health.KindDrops:                "Drops",
	health.KindNotTracking:          "Not Tracking",
}

// ocsfHealthSeverity is a health record's severity_id (D19): medium when
// action is needed (pressure, not tracking), high when the table is full
// or the kernel drops packets, informational otherwise.
func ocsfHealthSeverity(r *health.Record) int {
	switch r.Kind {
	case health.KindTablePressure:
		if r.Fill >= 100 {
			return ocsfHigh
		}
		return ocsfMedium
	case health.KindNotTracking:
		return ocsfMedium
	case health.KindDrops:
		return ocsfHigh
	}
	return ocsfInformational
}

func (e *Encoder) ocsfHealth(r *health.Record) {
	name, event := "Unknown", "unknown"
	if int(r.Kind) < len(ocsfHealthNames) {
		name, event = ocsfHealthNames[r.Kind], healthNames[r.Kind]
	}
	ns := e.netnsOf(r.NetNS)
	z, seq := e.ocsfRecordNS(healthLevel(r.Kind), ocsfClass{class: ocsfBaseEvent, activity: ocsfActivityOther,
		activityName: name, severity: ocsfHealthSeverity(r)}, r.Time, ns)
	if z == nil {
		return
	}
	if r.Hint != "" {
		z.Str("message", r.Hint)
	}
	c := e.ocsfConntrack(seq, event)
	if ns != nil {
		c.RawJSON("netns", ns.json)
	}
	t := zerolog.Dict().
		Uint32("count", r.Count).
		Uint32("max", r.Max).
		Float64("fill", ctstat.RoundFill(r.Fill))
	if r.Kind == health.KindStats {
		t.Uint32("buckets", r.Buckets)
	}
	c.Dict("table", t)
	switch r.Kind {
	case health.KindStats:
		if r.HasDelta {
			c.Dict("stats", zerolog.Dict().
				Float64("interval_s", r.Interval.Seconds()).
				Object("delta", (*cpuStatsJSON)(&r.Delta)))
		}
	case health.KindTablePressure:
		p := zerolog.Dict().Float64("threshold", r.Threshold)
		if r.Top != nil {
			p.Object("top", (*topJSON)(r.Top))
		}
		if r.TopErr != nil {
			p.Str("top_error", r.TopErr.Error())
		}
		c.Dict("table_pressure", p)
	case health.KindTablePressureCleared:
		c.Dict("table_pressure", zerolog.Dict().Float64("threshold", r.Threshold))
	case health.KindDrops:
		d := zerolog.Dict()
		for _, k := range dropCounters {
			d.Uint64(k.String(), r.Delta[k])
		}
		c.Dict("drops", zerolog.Dict().Float64("interval_s", r.Interval.Seconds()).Dict("delta", d))
	}
	ocsfUnmapped(z, c)
}

func (e *Encoder) ocsfReading(r *ctstat.Reading, perCPU bool) {
	z, seq := e.ocsfRecord(zerolog.NoLevel, ocsfClass{class: ocsfBaseEvent, activity: ocsfActivityOther,
		activityName: "Stats", severity: ocsfInformational}, r.Time)
	if z == nil {
		return
	}
	c := e.ocsfConntrack(seq, "stats").Dict("table", zerolog.Dict().
		Uint32("count", r.Count).
		Uint32("max", r.Max).
		Float64("fill", ctstat.RoundFill(r.FillPercent())).
		Uint32("buckets", r.Buckets))
	s := zerolog.Dict()
	(*cpuStatsJSON)(&r.Sum).MarshalZerologObject(s)
	if perCPU {
		s.Array("per_cpu", cpuArray(r.PerCPU))
	}
	ocsfUnmapped(z, c.Dict("stats", s))
}
