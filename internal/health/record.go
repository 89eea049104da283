package health

import (
	"net/netip"
	"time"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Kind says which of a check's findings a Record reports.
type Kind uint8

// The kinds of record a Check emits.
const (
	// KindStats is every check's reading: the table's count, limit, fill
	// and hash size, and each counter's growth since the previous one.
	KindStats Kind = iota
	// KindTablePressure reports the fill rising through a threshold,
	// with the biggest holders of entries; a warning.
	KindTablePressure
	// KindTablePressureCleared reports the fill falling back below a
	// threshold by the hysteresis margin.
	KindTablePressureCleared
	// KindDrops reports drop, early_drop, insert_failed or invalid
	// growing; a warning.
	KindDrops
	// KindNotTracking reports that conntrack has never tracked a packet
	// in the namespace (no entries, every counter zero): no rule there
	// engages it, and the watch will see nothing; a warning, at the first
	// check and again every Config.NotTrackingRepeat while it stays so.
	KindNotTracking
)

var kindNames = [...]string{"stats", "table_pressure", "table_pressure_cleared", "drops", "not_tracking"}

// String returns the kind's name, as the package documentation calls it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Record is one finding a Check emits, as plain data for the watch loop
// to hand to its record encoder. Which fields are set depends on Kind.
type Record struct {
	// Kind is what the record reports.
	Kind Kind
	// NetNS is the namespace whose table the record describes, as events
	// name it (model.Event.NetNS): the zero value is the watch's own. A
	// record encoder that names namespaces writes its identity.
	NetNS model.NetNS
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
	// (stats: every counter; drops: only drop, early_drop, insert_failed
	// and invalid are set).
	Delta    ctstat.CPUStats
	HasDelta bool

	// Threshold is the percentage crossed (table_pressure, going up) or
	// cleared (table_pressure_cleared).
	Threshold float64
	// Top holds the biggest holders of entries (table_pressure); TopErr
	// says why there is none when the dump failed.
	Top    *Top
	TopErr error

	// Hint is a one-line explanation of the likely cause (drops,
	// not_tracking).
	Hint string
}

// dropCounters are the counters a drops record reports.
var dropCounters = [...]ctstat.Counter{ctstat.Drop, ctstat.EarlyDrop, ctstat.InsertFailed, ctstat.Invalid}

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
