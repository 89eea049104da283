//go:build integration

package main

import (
	"math"
	"time"
)

// pacer spreads Total operations over time at PerSecond operations a
// second. It is pure arithmetic on the elapsed time since the start, so that
// a late wake-up is made up by a bigger batch at the next tick rather than
// lowering the rate: the average rate stays exact whatever the timer's
// jitter.
type pacer struct {
	// PerSecond is the rate in operations per second; 0 or less means as
	// fast as possible.
	PerSecond float64
	// Total is the number of operations to perform.
	Total int
	// Tick is the pause the generator prefers between batches; batches are
	// about PerSecond×Tick operations. Sleeping per operation would cost
	// more than the operations at high rates.
	Tick time.Duration
	// MaxBatch caps one batch (the buffers of one sendmsg); 0 means no cap.
	MaxBatch int
}

// next says what to do after done operations, elapsed after the start: n
// operations now, or, when none are due, to sleep for wait first. n is 0
// and wait 0 once done reaches Total.
func (p pacer) next(done int, elapsed time.Duration) (n int, wait time.Duration) {
	left := p.Total - done
	if left <= 0 {
		return 0, 0
	}
	capBatch := func(n int) int {
		if p.MaxBatch > 0 && n > p.MaxBatch {
			return p.MaxBatch
		}
		return n
	}
	if p.PerSecond <= 0 {
		return capBatch(left), 0
	}
	if due := p.due(elapsed); due > done {
		return capBatch(due - done), 0
	}
	// Nothing is due: sleep until a tick's worth is, so that batches are
	// about a tick apart rather than one operation apart.
	batch := max(1, int(math.Ceil(p.PerSecond*p.Tick.Seconds())))
	batch = min(batch, left)
	at := time.Duration(float64(done+batch) / p.PerSecond * float64(time.Second))
	return 0, max(0, at-elapsed)
}

// due is the number of operations that should be done after elapsed.
func (p pacer) due(elapsed time.Duration) int {
	// The small epsilon keeps float rounding from holding an operation
	// back at the exact instant it becomes due.
	n := int(math.Floor(p.PerSecond*elapsed.Seconds() + 1e-9))
	return min(max(n, 0), p.Total)
}
