package flow

import (
	"time"
)

// Config sizes a Tracker and tunes its detectors. Start from DefaultConfig:
// New fills in zero sizes, but a zero UnrepliedAfter disables the
// unreplied detector.
type Config struct {
	// MaxFlows bounds the flows tracked. When a new flow would exceed it,
	// the least recently seen flow is forgotten (evicted) without a
	// lifecycle record, and counted. Memory is about 170 bytes per flow,
	// 210 with NAT (see BenchmarkMemory). Default 1<<20, for a
	// million-entry table.
	MaxFlows int
	// UnrepliedAfter is how long a flow may stay [UNREPLIED] before Expire
	// reports it. 0 (or negative) disables the detector. Default 5s.
	UnrepliedAfter time.Duration
	// UnrepliedBurst is how many unreplied flows are reported one by one
	// in an UnrepliedInterval; the interval's further ones are counted into
	// one UnrepliedSummary, so that a scan of 2000 destinations is a
	// handful of records that still count all 2000. Negative reports every
	// flow alone. Default 5.
	UnrepliedBurst int
	// UnrepliedInterval is the period of UnrepliedBurst's budget and of
	// the summaries. Default 10s.
	UnrepliedInterval time.Duration
	// RepeatWindow is how long a destination with unreplied flows is
	// remembered for Unreplied.Repeats after its last one. Default 10
	// minutes.
	RepeatWindow time.Duration
	// MaxDestinations bounds the destinations remembered for repeat
	// counting; the least recently reported is forgotten first. Default
	// 65536.
	MaxDestinations int
	// Tombstones bounds the ended flows remembered (key and end time, in a
	// flow-sized slot), so that a dump taken while they ended does not
	// bring them back to life: Seed and Reconcile skip an entry that ended
	// at or after the dump began. Default MaxFlows/32, at least 64 and at
	// most 32768; negative disables.
	Tombstones int
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		MaxFlows:          1 << 20,
		UnrepliedAfter:    5 * time.Second,
		UnrepliedBurst:    5,
		UnrepliedInterval: 10 * time.Second,
		RepeatWindow:      10 * time.Minute,
		MaxDestinations:   1 << 16,
	}
}
