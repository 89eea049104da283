//go:build integration

package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPacerNext(t *testing.T) {
	type step struct {
		done     int
		elapsed  time.Duration
		wantN    int
		wantWait time.Duration
	}
	tests := []struct {
		name  string
		p     pacer
		steps []step
	}{{
		name: "full speed sends everything left, capped per batch",
		p:    pacer{Total: 300, MaxBatch: 128},
		steps: []step{
			{done: 0, wantN: 128},
			{done: 256, wantN: 44},
			{done: 300, wantN: 0},
		},
	}, {
		name: "nothing due: sleep until a tick's batch is",
		// 100,000 ops/s, 1 ms tick: batches of 100, due every 1 ms.
		p: pacer{PerSecond: 100000, Total: 1000, Tick: time.Millisecond},
		steps: []step{
			{done: 0, elapsed: 0, wantWait: time.Millisecond},
			{done: 100, elapsed: 1000 * time.Microsecond, wantWait: time.Millisecond},
			{done: 100, elapsed: 1400 * time.Microsecond, wantN: 40},
			{done: 0, elapsed: time.Millisecond, wantN: 100},
		},
	}, {
		name: "a late wake-up is made up in one batch",
		p:    pacer{PerSecond: 100000, Total: 1000, Tick: time.Millisecond},
		steps: []step{
			{done: 100, elapsed: 3500 * time.Microsecond, wantN: 250},
		},
	}, {
		name: "the batch cap holds when far behind",
		p:    pacer{PerSecond: 100000, Total: 1000, Tick: time.Millisecond, MaxBatch: 128},
		steps: []step{
			{done: 0, elapsed: 5 * time.Millisecond, wantN: 128},
		},
	}, {
		name: "low rates sleep per operation, not per tick",
		// 10 ops/s: one op per 100 ms, more than a tick.
		p: pacer{PerSecond: 10, Total: 3, Tick: time.Millisecond},
		steps: []step{
			{done: 0, elapsed: 0, wantWait: 100 * time.Millisecond},
			{done: 1, elapsed: 150 * time.Millisecond, wantWait: 50 * time.Millisecond},
			{done: 1, elapsed: 200 * time.Millisecond, wantN: 1},
		},
	}, {
		name: "the last batch is only what is left",
		p:    pacer{PerSecond: 100000, Total: 1050, Tick: time.Millisecond},
		steps: []step{
			{done: 1000, elapsed: 10 * time.Millisecond, wantWait: 500 * time.Microsecond},
			{done: 1000, elapsed: 20 * time.Millisecond, wantN: 50},
			{done: 1050, elapsed: 30 * time.Millisecond},
		},
	}, {
		name: "an exact instant is due despite float rounding",
		// 0.3 s × 30 ops/s is 8.999999999999998 in float64.
		p: pacer{PerSecond: 30, Total: 100, Tick: time.Millisecond},
		steps: []step{
			{done: 0, elapsed: 300 * time.Millisecond, wantN: 9},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.steps {
				n, wait := tt.p.next(s.done, s.elapsed)
				if diff := cmp.Diff([2]int64{int64(s.wantN), int64(s.wantWait)}, [2]int64{int64(n), int64(wait)}); diff != "" {
					t.Errorf("next(%d, %v) [n, wait] (-want +got):\n%s", s.done, s.elapsed, diff)
				}
			}
		})
	}
}

// TestPacerRate drives the pacer with a simulated clock whose wake-ups are
// late by a varying amount, as real timers are: the average rate must stay
// exact, at every rate the benchmark uses.
func TestPacerRate(t *testing.T) {
	for _, eventsPerSecond := range []float64{20000, 50000, 150000, 300000} {
		const perOp, total = 3, 100000
		p := pacer{PerSecond: eventsPerSecond / perOp, Total: total, Tick: time.Millisecond, MaxBatch: 128}
		var now time.Duration
		done, batches := 0, 0
		for done < total {
			n, wait := p.next(done, now)
			if n == 0 {
				// Up to 0.9 ms late, in a fixed pattern.
				now += wait + time.Duration(batches%10)*90*time.Microsecond
				continue
			}
			if n > 128 {
				t.Fatalf("%v events/s: batch of %d over the cap", eventsPerSecond, n)
			}
			done += n
			batches++
		}
		got := float64(total*perOp) / now.Seconds()
		if d := got/eventsPerSecond - 1; d < -0.01 || d > 0.01 {
			t.Errorf("%v events/s: achieved %.0f events/s (%.2f %% off)", eventsPerSecond, got, d*100)
		}
	}
}
