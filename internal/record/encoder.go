package record

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Schema names a record schema.
type Schema uint8

// The schemas. Native is the zero value.
const (
	// Native is ctwatch's own schema, docs/schema.md.
	Native Schema = iota
	// ECS is the Elastic Common Schema, version ECSVersion.
	ECS
	// OCSF is the Open Cybersecurity Schema Framework, version
	// OCSFVersion.
	OCSF
)

// The versions of the external schemas the records follow.
const (
	ECSVersion  = "9.4.0"
	OCSFVersion = "1.8.0"
)

var schemaNames = [...]string{"native", "ecs", "ocsf"}

// String returns the schema's name, as ParseSchema reads it.
func (s Schema) String() string {
	if int(s) < len(schemaNames) {
		return schemaNames[s]
	}
	return "unknown"
}

// ParseSchema parses a schema's name.
func ParseSchema(s string) (Schema, error) {
	for i, n := range schemaNames {
		if s == n {
			return Schema(i), nil
		}
	}
	return 0, fmt.Errorf("unknown record schema %q", s)
}

// Config configures an Encoder.
type Config struct {
	// Schema is the schema records are written in.
	Schema Schema
	// Log is where JSON records go; its level filters them (decode_error
	// records carry the message's bytes only at debug level).
	Log zerolog.Logger
	// Clock stamps the records that report the program's own doings
	// (start, dump, gap, ...); entry and health records carry the time of
	// what they report. Nil means time.Now.
	Clock func() time.Time
	// Run identifies this run of the program: it changes on every start,
	// so that a consumer tells two runs' sequence numbers apart.
	Run string
	// Host is the name of the host the records come from.
	Host string
	// Version is ctwatch's version, for the schemas that name the product
	// writing them.
	Version string
	// Mark, if not nil, is called with each record's sequence number just
	// before the record is written to Log, under the encoder's lock, keep
	// set for the records no output may drop (gap and stop records, which
	// account for the others). It lets a writer that fans records out to
	// several outputs (package output) know what it is handed next
	// without parsing it.
	Mark func(seq uint64, keep bool)
	// NetNS, if not nil, names the namespace of each entry, snapshot,
	// inferred, unreplied and table health record (model.Event.NetNS,
	// flow.Inferred.NetNS, flow.Unreplied.NetNS, health.Record.NetNS):
	// the record gets a "netns" object (ECS: conntrack.netns, container.id
	// and orchestrator.resource for a pod; OCSF: unmapped.conntrack.netns
	// and device.container) with what it returns; false writes only the
	// id of a peer ({"nsid":N}) and {"self":true} for the receiving
	// socket's own namespace. Nil, when one namespace is watched, writes
	// none. It is called on the hot path and must not
	// allocate (nsdiscover.Watcher.Lookup does not).
	NetNS func(model.NetNS) (nsdiscover.NS, bool)
}

// Encoder writes records in one schema, one method per record kind. Any
// goroutine may use it (the watch loop and the health monitor do): a
// mutex makes taking a record's sequence number and writing it one step,
// so that records reach the logger whole and in the order of their
// numbers, and a consumer reading them in order sees 1, 2, 3, ...
type Encoder struct {
	schema  Schema
	log     zerolog.Logger
	clock   func() time.Time
	run     string
	host    string
	version string
	mark    func(seq uint64, keep bool)
	// keep is set, under mu, while a record no output may drop is written.
	keep bool
	// nativeHost is the native "host" object, {"name":host}, made once.
	nativeHost []byte
	// netns is Config.NetNS; netnsCache, made when it is set, holds the
	// namespaces' identities as last rendered (netns.go).
	netns      func(model.NetNS) (nsdiscover.NS, bool)
	netnsCache *netnsCache
	// mu is held from a record's sequence number to its write.
	mu sync.Mutex
	// seq is the sequence number of the last record written.
	seq atomic.Uint64
}

// New returns an encoder.
func New(cfg Config) *Encoder {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	e := &Encoder{schema: cfg.Schema, log: cfg.Log, clock: cfg.Clock,
		run: cfg.Run, host: cfg.Host, version: cfg.Version, mark: cfg.Mark, nativeHost: nativeHostJSON(cfg.Host),
		netns: cfg.NetNS}
	if cfg.NetNS != nil {
		e.netnsCache = new(netnsCache)
	}
	return e
}

// Seq returns the sequence number of the last record written, 0 before the
// first.
func (e *Encoder) Seq() uint64 { return e.seq.Load() }

// nextSeq takes the sequence number of a record about to be written. Call
// it only for a record that will be written (its zerolog event is not nil),
// so that the numbers a consumer sees have no hole the program made.
func (e *Encoder) nextSeq() uint64 {
	seq := e.seq.Add(1)
	if e.mark != nil {
		e.mark(seq, e.keep)
	}
	return seq
}

// Schema returns the schema the encoder writes.
func (e *Encoder) Schema() Schema { return e.schema }

// write writes v, under mu, with the writer of e's schema: one of the
// three method expressions, which neither allocate nor reflect.
func write[T any](e *Encoder, v T, native, ecs, ocsf func(*Encoder, T)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	bySchema(e, v, native, ecs, ocsf)
}

// writeKept is write for a record no output may drop (keep is set while
// it is written).
func writeKept[T any](e *Encoder, v T, native, ecs, ocsf func(*Encoder, T)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keep = true
	defer func() { e.keep = false }()
	bySchema(e, v, native, ecs, ocsf)
}

// bySchema calls the writer of e's schema with v.
func bySchema[T any](e *Encoder, v T, native, ecs, ocsf func(*Encoder, T)) {
	switch e.schema {
	case Native:
		native(e, v)
	case ECS:
		ecs(e, v)
	case OCSF:
		ocsf(e, v)
	}
}

// Entry writes an entry event: a live event, or a snapshot line of a dump.
// res is the tracker's view of a live event (its transition, and its
// lifecycle on DESTROY), or nil for an event the tracker did not observe.
// It neither reflects nor allocates.
func (e *Encoder) Entry(ev *model.Event, res *flow.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.schema {
	case Native:
		e.nativeEntry(ev, res)
	case ECS:
		e.ecsEntry(ev, res)
	case OCSF:
		e.ocsfEntry(ev, res)
	}
}

// Event writes ev alone as a record without a level: what `ctwatch parse`
// makes of a line.
func (e *Encoder) Event(ev *model.Event) {
	write(e, ev, (*Encoder).nativeEvent, (*Encoder).ecsEvent, (*Encoder).ocsfEvent)
}

// Inferred writes a flow's end that no DESTROY announced.
func (e *Encoder) Inferred(in *flow.Inferred) {
	write(e, in, (*Encoder).nativeInferred, (*Encoder).ecsInferred, (*Encoder).ocsfInferred)
}

// Unreplied writes the unreplied detector's warning about a flow.
func (e *Encoder) Unreplied(u *flow.Unreplied) {
	write(e, u, (*Encoder).nativeUnreplied, (*Encoder).ecsUnreplied, (*Encoder).ocsfUnreplied)
}

// AppendText appends ev as conntrack -E prints it, and a newline, to dst:
// the text form of entry records, whatever the schema of the others.
func (e *Encoder) AppendText(dst []byte, ev *model.Event, o *model.TextOptions) []byte {
	if ev.Entry.Fields.Has(model.FieldStart) {
		// conntrack-tools prints the age of entries that carry their
		// start time.
		SetDeltaTime(&ev.Entry, e.clock())
	}
	dst = model.AppendText(dst, ev, o)
	return append(dst, '\n')
}

// Start writes the record that opens a watch.
func (e *Encoder) Start(s *Start) {
	write(e, s, (*Encoder).nativeStart, (*Encoder).ecsStart, (*Encoder).ocsfStart)
}

// EventsDisabled warns that the kernel sends no events
// (nf_conntrack_events is 0).
func (e *Encoder) EventsDisabled() {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.schema {
	case Native:
		e.nativeEventsDisabled()
	case ECS:
		e.ecsEventsDisabled()
	case OCSF:
		e.ocsfEventsDisabled()
	}
}

// EventsOnDemand notes that the kernel sends events only while a listener
// existed when a flow began (nf_conntrack_events is 2).
func (e *Encoder) EventsOnDemand() {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.schema {
	case Native:
		e.nativeEventsOnDemand()
	case ECS:
		e.ecsEventsOnDemand()
	case OCSF:
		e.ocsfEventsOnDemand()
	}
}

// Stop writes the record that closes a watch, with its totals.
func (e *Encoder) Stop(t *Totals) {
	writeKept(e, t, (*Encoder).nativeStop, (*Encoder).ecsStop, (*Encoder).ocsfStop)
}

// Dump writes the outcome of the startup dump.
func (e *Encoder) Dump(d *Dump) {
	write(e, d, (*Encoder).nativeDump, (*Encoder).ecsDump, (*Encoder).ocsfDump)
}

// Reconcile writes the outcome of a reconciliation.
func (e *Encoder) Reconcile(r *Reconcile) {
	write(e, r, (*Encoder).nativeReconcile, (*Encoder).ecsReconcile, (*Encoder).ocsfReconcile)
}

// Gap writes a loss of events or records.
func (e *Encoder) Gap(g *Gap) {
	writeKept(e, g, (*Encoder).nativeGap, (*Encoder).ecsGap, (*Encoder).ocsfGap)
}

// DecodeError writes a message that could not be decoded: its error, its
// length and, when the logger is at debug level, its bytes.
func (e *Encoder) DecodeError(err error, raw []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.schema {
	case Native:
		e.nativeDecodeError(err, raw)
	case ECS:
		e.ecsDecodeError(err, raw)
	case OCSF:
		e.ocsfDecodeError(err, raw)
	}
}

// FlowsEvicted warns that the flow tracker forgot flows to make room.
func (e *Encoder) FlowsEvicted(f *FlowsEvicted) {
	write(e, f, (*Encoder).nativeFlowsEvicted, (*Encoder).ecsFlowsEvicted, (*Encoder).ocsfFlowsEvicted)
}

// Heartbeat writes a liveness record: a consumer that stops seeing them
// knows the agent is dead or cut off, and their counters and sequence
// number tell it how far behind it is.
func (e *Encoder) Heartbeat(h *Heartbeat) {
	write(e, h, (*Encoder).nativeHeartbeat, (*Encoder).ecsHeartbeat, (*Encoder).ocsfHeartbeat)
}

// Health writes a table health record.
func (e *Encoder) Health(r *health.Record) {
	write(e, r, (*Encoder).nativeHealth, (*Encoder).ecsHealth, (*Encoder).ocsfHealth)
}

// StatsError writes the failure of a table health check.
func (e *Encoder) StatsError(err error) {
	write(e, err, (*Encoder).nativeStatsError, (*Encoder).ecsStatsError, (*Encoder).ocsfStatsError)
}

// Reading writes a ctstat reading as `ctwatch stats --json` prints it,
// with each CPU's counters when perCPU is set.
func (e *Encoder) Reading(r *ctstat.Reading, perCPU bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.schema {
	case Native:
		e.nativeReading(r, perCPU)
	case ECS:
		e.ecsReading(r, perCPU)
	case OCSF:
		e.ocsfReading(r, perCPU)
	}
}
