package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/health"
)

// The native schema's table health records and ctstat readings, as free
// conversions of the values they write.
type (
	healthJSON   health.Record
	topJSON      health.Top
	srcArray     []health.SrcCount
	srcJSON      health.SrcCount
	portArray    []health.PortCount
	portJSON     health.PortCount
	cpuStatsJSON ctstat.CPUStats
	cpuJSON      ctstat.CPU
	cpuArray     []ctstat.CPU
	readingJSON  ctstat.Reading
)

// healthNames are the "event" values of the health records, by kind.
var healthNames = [...]string{
	health.KindStats:                "stats",
	health.KindTablePressure:        "table_pressure",
	health.KindTablePressureCleared: "table_pressure_cleared",
	health.KindDrops:                "drops",
	health.KindNotTracking:          "not_tracking",
}

// healthLevel is the level of a health record: a warning when the table is
// under pressure or drops, info otherwise.
func healthLevel(k health.Kind) zerolog.Level {
	switch k {
	case health.KindTablePressure, health.KindDrops, health.KindNotTracking:
		return zerolog.WarnLevel
	}
	return zerolog.InfoLevel
}

// dropCounters are the counters a drops record reports, in its order.
var dropCounters = [...]ctstat.Counter{ctstat.Drop, ctstat.EarlyDrop, ctstat.InsertFailed, ctstat.Invalid}

// head writes the keys that come before the envelope: time (when known) and
// event.
func (r *healthJSON) head(z *zerolog.Event) {
	if !r.Time.IsZero() {
		var buf [40]byte
		z.RawJSON("time", AppendTime(buf[:0], r.Time))
	}
	name := "unknown"
	if int(r.Kind) < len(healthNames) {
		name = healthNames[r.Kind]
	}
	z.Str("event", name)
}

// MarshalZerologObject writes the record's keys after head's and the
// envelope: count, max, fill, then the kind's own. It does not write the
// level, which the logger's WithLevel does.
func (r *healthJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Uint32("count", r.Count)
	z.Uint32("max", r.Max)
	z.Float64("fill", ctstat.RoundFill(r.Fill))
	switch r.Kind {
	case health.KindStats:
		z.Uint32("buckets", r.Buckets)
		if r.HasDelta {
			z.Float64("interval_s", r.Interval.Seconds())
			z.Object("delta", (*cpuStatsJSON)(&r.Delta))
		}
	case health.KindTablePressure:
		z.Float64("threshold", r.Threshold)
		if r.Top != nil {
			z.Object("top", (*topJSON)(r.Top))
		}
		if r.TopErr != nil {
			z.Str("top_error", r.TopErr.Error())
		}
	case health.KindTablePressureCleared:
		z.Float64("threshold", r.Threshold)
	case health.KindDrops:
		z.Float64("interval_s", r.Interval.Seconds())
		d := zerolog.Dict()
		for _, c := range dropCounters {
			d.Uint64(c.String(), r.Delta[c])
		}
		z.Dict("delta", d)
		z.Str("hint", r.Hint)
	case health.KindNotTracking:
		z.Str("hint", r.Hint)
	}
}

// MarshalZerologObject writes src, dport, scanned and sampled.
func (t *topJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Array("src", srcArray(t.Src))
	z.Array("dport", portArray(t.DPort))
	z.Int("scanned", t.Scanned)
	z.Bool("sampled", t.Sampled)
}

// MarshalZerologArray writes one object per source.
func (a srcArray) MarshalZerologArray(arr *zerolog.Array) {
	for i := range a {
		arr.Object((*srcJSON)(&a[i]))
	}
}

// MarshalZerologObject writes addr and entries.
func (s *srcJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Str("addr", s.Addr.String())
	z.Int("entries", s.Entries)
}

// MarshalZerologArray writes one object per port.
func (a portArray) MarshalZerologArray(arr *zerolog.Array) {
	for i := range a {
		arr.Object((*portJSON)(&a[i]))
	}
}

// MarshalZerologObject writes proto, port and entries.
func (p *portJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Str("proto", p.Proto.JSONName())
	z.Uint16("port", p.Port)
	z.Int("entries", p.Entries)
}

// MarshalZerologObject writes one key per counter, named as conntrack -S
// names it (ctstat.Counter.String).
func (s *cpuStatsJSON) MarshalZerologObject(z *zerolog.Event) {
	for i := range s {
		z.Uint64(ctstat.Counter(i).String(), s[i])
	}
}

// MarshalZerologObject writes the CPU's number as "cpu", then its counters.
func (c *cpuJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Uint16("cpu", c.ID)
	(*cpuStatsJSON)(&c.Stats).MarshalZerologObject(z)
}

// MarshalZerologArray writes one object per CPU.
func (a cpuArray) MarshalZerologArray(arr *zerolog.Array) {
	for i := range a {
		arr.Object((*cpuJSON)(&a[i]))
	}
}

// MarshalZerologObject writes the reading's count, max, fill (in percent,
// rounded to two decimals), buckets and stats (the summed counters).
func (r *readingJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Uint32("count", r.Count)
	z.Uint32("max", r.Max)
	z.Float64("fill", ctstat.RoundFill((*ctstat.Reading)(r).FillPercent()))
	z.Uint32("buckets", r.Buckets)
	z.Object("stats", (*cpuStatsJSON)(&r.Sum))
}
