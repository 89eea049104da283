package watch

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Counters are a watch's running totals. The loop updates them; any
// goroutine may read them (the metrics endpoint does, at scrape time).
type Counters struct {
	// Received counts the events received from the kernel, by type
	// (indexed by model.EventType).
	Received [model.EventSnapshot + 1]atomic.Uint64
	// ExpectNew and ExpectDestroy count the expectation events received;
	// ExpectWritten the expectation records handed to the output.
	ExpectNew, ExpectDestroy, ExpectWritten atomic.Uint64
	// Snapshot counts the entries of the startup dump.
	Snapshot atomic.Uint64
	// Written counts the entry records handed to the output.
	Written atomic.Uint64
	// Filtered counts entry events the filter did not select.
	Filtered atomic.Uint64
	// Suppressed counts UPDATE events not written under the UPDATE policy.
	Suppressed atomic.Uint64
	// Merged counts NEW events queued during the startup dump for flows the
	// dump already reported, written once as their snapshot record.
	Merged atomic.Uint64
	// DecodeErrors counts messages that could not be decoded.
	DecodeErrors atomic.Uint64
	// LostKernel counts events the kernel dropped because the socket's
	// receive buffer was full.
	LostKernel atomic.Uint64
	// LostOutput counts records the output sink dropped because the output
	// was behind.
	LostOutput atomic.Uint64
	// Gaps counts the gap records written.
	Gaps atomic.Uint64
	// Unnamed counts the entry records of events a userspace request
	// caused whose program could not be named: its socket was closed
	// before the event was handled.
	Unnamed atomic.Uint64
	// OtherNetNS counts the events of namespaces outside a watched set,
	// dropped before the tracker; UnknownNetNS the events of namespaces
	// not known (yet) to a watch of every namespace, written with their
	// namespace id only.
	OtherNetNS, UnknownNetNS atomic.Uint64
	// Tracked is the number of flows the tracker holds.
	Tracked atomic.Int64
	// UnrepliedWarnings, UnrepliedSummarised, FlowsEvicted and Inferred
	// are the tracker's counts (flow.Stats) as of the loop's last batch or
	// timer: unreplied flows warned about one by one and counted into
	// summaries, flows forgotten to stay within MaxFlows, and flow ends
	// inferred without a DESTROY. The tracker is the loop's alone; these
	// copies are for the metrics endpoint.
	UnrepliedWarnings, UnrepliedSummarised, FlowsEvicted, Inferred atomic.Uint64

	// heartbeat is when the loop last turned, in Unix nanoseconds.
	heartbeat atomic.Int64
	// healthRecords counts the records the health monitor wrote: no
	// activity for the loop's loss check (Watch.activity).
	healthRecords atomic.Uint64
}

// Summary is a copy of Counters at one moment.
type Summary struct {
	Received                                [model.EventSnapshot + 1]uint64
	ExpectNew, ExpectDestroy, ExpectWritten uint64
	// Expects is set when the watch subscribed to expectation events.
	Expects                                   bool
	Snapshot, Written, Filtered, Suppressed   uint64
	Merged, DecodeErrors                      uint64
	LostKernel, LostOutput, Gaps              uint64
	Unnamed                                   uint64
	UnrepliedWarnings, FlowsEvicted, Inferred uint64
	SkippedFull                               uint64
	UnrepliedSummarised                       uint64
	OtherNetNS, UnknownNetNS                  uint64
}

// Summary copies the counters.
func (c *Counters) Summary() Summary {
	var s Summary
	for i := range c.Received {
		s.Received[i] = c.Received[i].Load()
	}
	s.ExpectNew = c.ExpectNew.Load()
	s.ExpectDestroy = c.ExpectDestroy.Load()
	s.ExpectWritten = c.ExpectWritten.Load()
	s.Snapshot = c.Snapshot.Load()
	s.Written = c.Written.Load()
	s.Filtered = c.Filtered.Load()
	s.Suppressed = c.Suppressed.Load()
	s.Merged = c.Merged.Load()
	s.DecodeErrors = c.DecodeErrors.Load()
	s.LostKernel = c.LostKernel.Load()
	s.LostOutput = c.LostOutput.Load()
	s.Gaps = c.Gaps.Load()
	s.Unnamed = c.Unnamed.Load()
	s.UnrepliedWarnings = c.UnrepliedWarnings.Load()
	s.UnrepliedSummarised = c.UnrepliedSummarised.Load()
	s.FlowsEvicted = c.FlowsEvicted.Load()
	s.Inferred = c.Inferred.Load()
	s.OtherNetNS = c.OtherNetNS.Load()
	s.UnknownNetNS = c.UnknownNetNS.Load()
	return s
}

// Events returns the number of events received from the kernel.
func (s Summary) Events() uint64 {
	return s.Received[model.EventNew] + s.Received[model.EventUpdate] + s.Received[model.EventDestroy]
}

// Lost returns the number of events and records lost anywhere.
func (s Summary) Lost() uint64 { return s.LostKernel + s.LostOutput }

// String is the one-line summary printed when a watch stops.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d events (new %d, update %d, destroy %d)", s.Events(),
		s.Received[model.EventNew], s.Received[model.EventUpdate], s.Received[model.EventDestroy])
	if s.Expects {
		fmt.Fprintf(&b, ", %d expectation events (new %d, destroy %d)", s.ExpectNew+s.ExpectDestroy, s.ExpectNew, s.ExpectDestroy)
	}
	if s.Snapshot > 0 {
		fmt.Fprintf(&b, ", %d snapshot entries", s.Snapshot)
	}
	// Written counts the records handed to the output: "written" only
	// when the output lost none of them.
	written := "written"
	if s.LostOutput > 0 {
		written = "handed to the output (not all written: see lost)"
	}
	fmt.Fprintf(&b, "; %d records %s, %d filtered, %d updates suppressed", s.Written, written, s.Filtered, s.Suppressed)
	if s.Merged > 0 {
		fmt.Fprintf(&b, ", %d merged into snapshot", s.Merged)
	}
	fmt.Fprintf(&b, "; lost %d (kernel %d, output %d); %d decode errors",
		s.Lost(), s.LostKernel, s.LostOutput, s.DecodeErrors)
	if s.Unnamed > 0 {
		fmt.Fprintf(&b, "; %d records of userspace requests without their program", s.Unnamed)
	}
	if s.UnrepliedWarnings > 0 || s.FlowsEvicted > 0 || s.Inferred > 0 || s.UnrepliedSummarised > 0 {
		fmt.Fprintf(&b, "; %d unreplied warnings", s.UnrepliedWarnings)
		if s.UnrepliedSummarised > 0 {
			fmt.Fprintf(&b, " (%d more unreplied flows summarised)", s.UnrepliedSummarised)
		}
		fmt.Fprintf(&b, ", %d flows evicted, %d destroys inferred", s.FlowsEvicted, s.Inferred)
	}
	if s.SkippedFull > 0 {
		fmt.Fprintf(&b, "; %d dumped entries not tracked (tracker full)", s.SkippedFull)
	}
	if s.OtherNetNS > 0 {
		fmt.Fprintf(&b, "; %d events of namespaces outside --netns dropped", s.OtherNetNS)
	}
	if s.UnknownNetNS > 0 {
		fmt.Fprintf(&b, "; %d events of namespaces not known yet", s.UnknownNetNS)
	}
	return b.String()
}

// totals is the summary as the stop record reports it.
func (s Summary) totals() record.Totals {
	return record.Totals{
		New:                 s.Received[model.EventNew],
		Update:              s.Received[model.EventUpdate],
		Destroy:             s.Received[model.EventDestroy],
		Expects:             s.Expects,
		ExpectNew:           s.ExpectNew,
		ExpectDestroy:       s.ExpectDestroy,
		ExpectWritten:       s.ExpectWritten,
		Snapshot:            s.Snapshot,
		Written:             s.Written,
		Filtered:            s.Filtered,
		Suppressed:          s.Suppressed,
		Merged:              s.Merged,
		LostKernel:          s.LostKernel,
		LostOutput:          s.LostOutput,
		DecodeErrors:        s.DecodeErrors,
		UnrepliedWarnings:   s.UnrepliedWarnings,
		FlowsEvicted:        s.FlowsEvicted,
		Inferred:            s.Inferred,
		SkippedFull:         s.SkippedFull,
		UnrepliedSummarised: s.UnrepliedSummarised,
	}
}
