package health

import (
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The records' event names.
const (
	EventStats                = "stats"
	EventTablePressure        = "table_pressure"
	EventTablePressureCleared = "table_pressure_cleared"
	EventDrops                = "drops"
)

// Record is one record a Check emits, for the watch loop to write:
//
//	log.WithLevel(rec.Level).EmbedObject(&rec).Send()
//
// Which fields it carries depends on Event; MarshalZerologObject writes only
// those.
type Record struct {
	// Level is info for stats and table_pressure_cleared, warn for
	// table_pressure and drops.
	Level zerolog.Level
	// Event is one of the Event* names.
	Event string
	// Time is when the reading was taken.
	Time time.Time

	// Count, Max and Fill (percent of Max) describe the table; Buckets
	// is its hash size (stats only).
	Count, Max, Buckets uint32
	Fill                float64

	// Interval is the time since the previous reading, which Delta
	// covers (stats and drops; zero on the first reading, which has no
	// Delta).
	Interval time.Duration
	// Delta is how much each counter grew since the previous reading
	// (stats: every counter; drops: drop, early_drop, insert_failed and
	// invalid).
	Delta    ctstat.CPUStats
	HasDelta bool

	// Threshold is the percentage crossed (table_pressure, going up) or
	// cleared (table_pressure_cleared).
	Threshold float64
	// Top holds the biggest holders of entries (table_pressure); TopErr
	// says why there is none when the dump failed.
	Top    *Top
	TopErr error

	// Hint is a one-line explanation of the likely cause (drops).
	Hint string
}

// dropCounters are the counters a drops record reports.
var dropCounters = [...]ctstat.Counter{ctstat.Drop, ctstat.EarlyDrop, ctstat.InsertFailed, ctstat.Invalid}

// MarshalZerologObject writes the record's keys: time, event, count, max,
// fill, then the event's own. It does not write the level, which the
// logger's WithLevel does.
func (r *Record) MarshalZerologObject(z *zerolog.Event) {
	if !r.Time.IsZero() {
		var buf [40]byte
		z.RawJSON("time", model.AppendJSONTime(buf[:0], r.Time))
	}
	z.Str("event", r.Event)
	z.Uint32("count", r.Count)
	z.Uint32("max", r.Max)
	z.Float64("fill", ctstat.RoundFill(r.Fill))
	switch r.Event {
	case EventStats:
		z.Uint32("buckets", r.Buckets)
		if r.HasDelta {
			z.Float64("interval_s", r.Interval.Seconds())
			z.Object("delta", &r.Delta)
		}
	case EventTablePressure:
		z.Float64("threshold", r.Threshold)
		if r.Top != nil {
			z.Object("top", r.Top)
		}
		if r.TopErr != nil {
			z.Str("top_error", r.TopErr.Error())
		}
	case EventTablePressureCleared:
		z.Float64("threshold", r.Threshold)
	case EventDrops:
		z.Float64("interval_s", r.Interval.Seconds())
		z.Dict("delta", dropDict(&r.Delta))
		z.Str("hint", r.Hint)
	}
}

func dropDict(d *ctstat.CPUStats) *zerolog.Event {
	z := zerolog.Dict()
	for _, c := range dropCounters {
		z.Uint64(c.String(), d[c])
	}
	return z
}

// Top names the biggest holders of table entries.
type Top struct {
	// Src are the original direction's source addresses holding the most
	// entries, most first.
	Src []SrcCount
	// DPort are the original direction's destination ports (of protocols
	// with ports) holding the most entries, most first.
	DPort []PortCount
	// Scanned is how many entries were examined.
	Scanned int
	// Sampled is set when the dump was cut at Config.MaxDump: the counts
	// are then of the first Scanned entries in the kernel's hash order,
	// a sample, not of the whole table.
	Sampled bool
}

// SrcCount is a source address and its number of entries.
type SrcCount struct {
	Addr    netip.Addr
	Entries int
}

// PortCount is a destination port and its number of entries.
type PortCount struct {
	Proto   model.Proto
	Port    uint16
	Entries int
}

// MarshalZerologObject writes src, dport, scanned and sampled.
func (t *Top) MarshalZerologObject(z *zerolog.Event) {
	z.Array("src", srcArray(t.Src))
	z.Array("dport", portArray(t.DPort))
	z.Int("scanned", t.Scanned)
	z.Bool("sampled", t.Sampled)
}

type srcArray []SrcCount

func (a srcArray) MarshalZerologArray(arr *zerolog.Array) {
	for i := range a {
		arr.Object(&a[i])
	}
}

// MarshalZerologObject writes addr and entries.
func (s *SrcCount) MarshalZerologObject(z *zerolog.Event) {
	z.Str("addr", s.Addr.String())
	z.Int("entries", s.Entries)
}

type portArray []PortCount

func (a portArray) MarshalZerologArray(arr *zerolog.Array) {
	for i := range a {
		arr.Object(&a[i])
	}
}

// MarshalZerologObject writes proto, port and entries.
func (p *PortCount) MarshalZerologObject(z *zerolog.Event) {
	z.Str("proto", p.Proto.JSONName())
	z.Uint16("port", p.Port)
	z.Int("entries", p.Entries)
}
