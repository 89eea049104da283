package record

import (
	"time"

	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Start is what the start record reports: the watch's settings and the
// kernel's as found.
type Start struct {
	// Version is ctwatch's version.
	Version string
	// NetNS names the watched network namespace.
	NetNS string
	// Events are the event types subscribed to ("new,update,destroy").
	Events string
	// BufferRequested is the receive buffer asked for, BufferSize the one
	// the kernel granted, in bytes.
	BufferRequested, BufferSize int
	// Filter is the filter expression, empty for none.
	Filter string
	// FilterKernel and FilterUser split a filter by where it runs: the
	// criteria compiled into the event socket's BPF program, and those
	// only userspace checks, each in the filter's canonical flag form
	// ("any" for none). Both are empty when there is no filter, and
	// then the start record has neither, nor FilterProgram and
	// FilterError.
	FilterKernel, FilterUser string
	// FilterProgram is the length of the kernel program in instructions,
	// 0 when none is attached.
	FilterProgram int
	// FilterError says why the filter could not run in the kernel (a
	// program too large), empty when it does or was not asked to.
	FilterError string
	// Text is set when entry records are written as text.
	Text bool
	// Updates is the UPDATE policy.
	Updates string
	// MaxFlows is the flow tracker's bound.
	MaxFlows int
	// UnrepliedAfter is when the unreplied detector warns.
	UnrepliedAfter time.Duration
	// CTEvents is net.netfilter.nf_conntrack_events, or -1 when unknown.
	CTEvents int64
	// Metrics is the address /metrics is served on, empty when it is not.
	Metrics string
}

// Totals are a watch's final counters, for the stop record.
type Totals struct {
	// New, Update and Destroy count the events received, by type.
	New, Update, Destroy uint64
	// Expects is set for a watch of expectation events: ExpectNew and
	// ExpectDestroy count those received, ExpectWritten their records
	// (received.expect_new, received.expect_destroy, expectations).
	Expects                                 bool
	ExpectNew, ExpectDestroy, ExpectWritten uint64
	// Snapshot counts the entries of the startup dump.
	Snapshot uint64
	// Written, Filtered, Suppressed and Merged count entry records
	// written, and entry events not selected by the filter, suppressed by
	// the UPDATE policy and merged into their snapshot record.
	Written, Filtered, Suppressed, Merged uint64
	// LostKernel and LostOutput count what was lost, by stage.
	LostKernel, LostOutput uint64
	// DecodeErrors counts messages that could not be decoded.
	DecodeErrors uint64
	// UnrepliedWarnings, FlowsEvicted and Inferred are the tracker's
	// counts of unreplied warnings, evictions and inferred destroys.
	UnrepliedWarnings, FlowsEvicted, Inferred uint64
	// SkippedFull counts the dumps' entries the tracker left untracked
	// because it was full (a dump never evicts).
	SkippedFull uint64
	// UnrepliedSummarised counts the unreplied flows counted into
	// summaries rather than warned about one by one.
	UnrepliedSummarised uint64
	// Outputs is what became of the records handed to each output by
	// the time of the stop record.
	Outputs []OutputTotal
	// NetNS is, when several namespaces are watched, each one's counts:
	// at most MaxStopNetNS are written, the rest counted in netns_more.
	// Empty (one namespace watched) writes nothing.
	NetNS []NetNSTotal
	// NetNSMore counts namespaces the caller left out of NetNS; the
	// record's netns_more adds those beyond MaxStopNetNS. Written when
	// not zero.
	NetNSMore int
	// OtherNetNS counts the events of namespaces not chosen (--netns
	// given twice or more), dropped; UnknownNetNS the events of a
	// namespace the discovery did not know (yet), written with its id
	// only. Each is written when not zero.
	OtherNetNS, UnknownNetNS uint64
}

// MaxStopNetNS is the most namespaces a stop record lists (Totals.NetNS);
// the rest are counted in its netns_more, so that the record of a node
// with thousands of pods stays a record.
const MaxStopNetNS = 1000

// NetNSTotal is what one namespace gave a watch of several.
type NetNSTotal struct {
	// NS is its identity.
	NS nsdiscover.NS
	// Events counts the events received from it; Records the entry
	// records written of them.
	Events, Records uint64
}

// NetnsAdded reports a namespace watched from now on.
type NetnsAdded struct {
	// NS is its identity.
	NS nsdiscover.NS
	// Dumped is set when its table was dumped (seeding the tracker, and
	// snapshot records with --snapshot); Entries counts the dump's
	// entries.
	Dumped  bool
	Entries uint64
	// Err is why the dump failed or is incomplete, nil when it did not.
	Err error
}

// NetnsRemoved reports a namespace that vanished while watched.
type NetnsRemoved struct {
	// NS is its identity.
	NS nsdiscover.NS
	// Ended counts its flows the tracker ended, written as inferred
	// destroys with inferred_reason netns_gone.
	Ended int
	// Events counts the events received from it while it was watched.
	Events uint64
}

// OutputTotal is what one output took of the records handed to it.
type OutputTotal struct {
	// Name is the output as --output gave it.
	Name string
	// Written counts the records it took in full (written, or taken by
	// the server); Dropped those it lost, counted in gap records;
	// Queued those still waiting when the stop record was written.
	Written, Dropped, Queued uint64
}

// Dump is the outcome of the startup dump.
type Dump struct {
	// Entries counts the entries dumped.
	Entries uint64
	// SkippedFull counts the entries left untracked because the tracker
	// was full.
	SkippedFull uint64
	// Took is how long the dump took.
	Took time.Duration
	// Err is why it failed or is incomplete, nil when it did not.
	Err error
	// ExpectDumped is set when the expectation table was listed too
	// (--snapshot of expectation events); Expectations counts its
	// expectations.
	ExpectDumped bool
	Expectations uint64
}

// Reconcile is the outcome of a reconciliation of the tracker with a dump.
type Reconcile struct {
	// Reason is why it ran: "gap" (after a loss) or "periodic".
	Reason string
	// Entries counts the entries dumped; Inferred the destroys inferred;
	// SkippedFull the entries left untracked because the tracker was full.
	Entries, Inferred, SkippedFull uint64
	// Took is how long it took.
	Took time.Duration
	// Err is why the dump failed, nil when it did not.
	Err error
	// NetNS is the namespace reconciled, named when the encoder names
	// namespaces (Config.NetNS).
	NetNS model.NetNS
}

// Stage is where a loss happened.
type Stage uint8

// The stages that lose.
const (
	// StageKernel: the socket's receive buffer overflowed and the kernel
	// dropped events.
	StageKernel Stage = iota
	// StageOutput: the output sink dropped records.
	StageOutput
)

// Gap is a loss of events (kernel) or records (output) since the last.
type Gap struct {
	Stage Stage
	// Output names the output that lost records (output stage).
	Output string
	// Lost counts what was lost since the last gap of the stage; Total
	// since the start.
	Lost, Total uint64
	// ENOBUFS counts the socket's overrun errors since the last gap
	// (kernel stage).
	ENOBUFS uint64
	// WriteError, for the output stage, is the hint of the write failure
	// (sink.Hint: "ENOSPC: disk full; ...") when records were lost to
	// write errors, and "" when they were dropped because the output was
	// behind; the record's hint says which.
	WriteError string
}

// FlowsEvicted reports flows the tracker forgot to make room.
type FlowsEvicted struct {
	// Evicted counts the flows evicted since the last report; Total since
	// the start.
	Evicted, Total uint64
	// MaxFlows is the tracker's bound.
	MaxFlows int
}

// Heartbeat is what a liveness record reports: how long the watch has run
// and its counters so far. The record's own sequence number is the
// encoder's, so a consumer compares it with the records it received.
type Heartbeat struct {
	// Uptime is how long the watch has run.
	Uptime time.Duration
	// New, Update and Destroy count the events received, by type.
	New, Update, Destroy uint64
	// Expects is set for a watch of expectation events: ExpectNew and
	// ExpectDestroy count those received, ExpectWritten their records
	// (received.expect_new, received.expect_destroy, expectations).
	Expects                                 bool
	ExpectNew, ExpectDestroy, ExpectWritten uint64
	// Written counts the records written so far, all kinds.
	Written uint64
	// LostKernel and LostOutput count what was lost so far, by stage.
	LostKernel, LostOutput uint64
	// QueueDepth counts the records waiting in the output's queue.
	QueueDepth int
}
