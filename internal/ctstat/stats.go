package ctstat

import (
	"math"
	"time"
)

// Counter names one of conntrack's per-CPU statistics counters (struct
// ip_conntrack_stat), and indexes CPUStats.
type Counter uint8

// The counters, in the order ctnetlink numbers them.
const (
	// Found counts lookups that found an existing entry.
	Found Counter = iota
	// Invalid counts packets conntrack could not track (malformed,
	// out of window, unexpected for the protocol's state).
	Invalid
	// Ignore counts packets already attached to an entry or untracked;
	// kernels since 5.17 no longer report it.
	Ignore
	// Insert counts entries inserted into the table.
	Insert
	// InsertFailed counts entries that could not be inserted: a clash
	// with an entry another CPU inserted first, or a hash chain too long.
	InsertFailed
	// Drop counts packets dropped because no entry could be allocated:
	// the table was full and nothing could be early-dropped.
	Drop
	// EarlyDrop counts unassured entries evicted to make room in a full
	// table.
	EarlyDrop
	// Error counts packets the protocol tracker found erroneous (such as
	// ICMP errors that relate to no connection).
	Error
	// SearchRestart counts lookups restarted because the hash table was
	// resized or an entry moved under them.
	SearchRestart
	// ClashResolve counts insertion clashes the kernel resolved by
	// reusing or merging the existing entry (typically parallel UDP
	// packets of one flow, as DNS resolvers send).
	ClashResolve
	// ChainTooLong counts insertions refused because the hash chain was
	// already too long: a sign of too few buckets for the table's size.
	ChainTooLong

	// NumCounters is the number of counters.
	NumCounters
)

var counterNames = [NumCounters]string{
	"found", "invalid", "ignore", "insert", "insert_failed", "drop",
	"early_drop", "error", "search_restart", "clash_resolve", "chaintoolong",
}

// String returns the counter's name as conntrack -S spells it
// ("insert_failed", "chaintoolong"), which the native schema keeps.
func (c Counter) String() string {
	if c < NumCounters {
		return counterNames[c]
	}
	return "unknown"
}

// CPUStats holds conntrack's statistics counters, indexed by Counter: one
// CPU's, or their sum over all CPUs.
type CPUStats [NumCounters]uint64

// Sub returns the growth of each counter from prev to s. The kernel's
// counters are 32-bit and wrap, so the difference is taken modulo 2^32: it
// is exact when a counter grew by less than 2^32 between the two readings,
// whether s and prev are one CPU's counters or sums over all CPUs (the sum of
// wrapped values is congruent to the true sum modulo 2^32).
func (s CPUStats) Sub(prev CPUStats) CPUStats {
	var d CPUStats
	for i := range s {
		d[i] = uint64(uint32(s[i]) - uint32(prev[i]))
	}
	return d
}

// Add returns the counters of s and o added.
func (s CPUStats) Add(o CPUStats) CPUStats {
	for i := range s {
		s[i] += o[i]
	}
	return s
}

// IsZero reports whether every counter is zero.
func (s CPUStats) IsZero() bool { return s == CPUStats{} }

// CPU is one CPU's counters.
type CPU struct {
	// ID is the CPU's number, as the kernel numbers it.
	ID    uint16
	Stats CPUStats
}

// Reading is one reading of the table's statistics in a namespace.
type Reading struct {
	// Time is when the reading was taken.
	Time time.Time
	// Count is the number of entries in the namespace's table.
	Count uint32
	// Max is nf_conntrack_max, the number of entries the table may hold
	// (0 means no limit). It is the same for every namespace.
	Max uint32
	// Buckets is nf_conntrack_buckets, the size of the hash table.
	Buckets uint32
	// PerCPU are the counters of each CPU, in the kernel's order.
	PerCPU []CPU
	// Sum is the counters summed over all CPUs.
	Sum CPUStats
}

// FillPercent returns how full the table is, in percent of Max.
func (r *Reading) FillPercent() float64 { return FillPercent(r.Count, r.Max) }

// FillPercent returns count as a percentage of max, or 0 when max is 0 (the
// kernel then sets no limit).
func FillPercent(count, max uint32) float64 {
	if max == 0 {
		return 0
	}
	return float64(count) * 100 / float64(max)
}

// RoundFill rounds a fill percentage to two decimals, as records carry it:
// more digits than that are noise to a reader and churn to a diff.
func RoundFill(pct float64) float64 { return math.Round(pct*100) / 100 }
