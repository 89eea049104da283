package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/filter"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/origins"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/sysctl"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Format is the form of entry records.
type Format uint8

// The output formats.
const (
	// FormatJSON writes every record as one JSON object per line.
	FormatJSON Format = iota
	// FormatText writes entry events as conntrack -E prints them; the other
	// records (gaps, warnings) go to the diagnostic logger.
	FormatText
)

// ParseFormat parses "json" or "text".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return FormatJSON, nil
	case "text":
		return FormatText, nil
	}
	return 0, fmt.Errorf("unknown format %q (want json or text)", s)
}

// Updates says which UPDATE events are written.
type Updates uint8

// The UPDATE policies.
const (
	// UpdatesChanges writes an UPDATE only when it changes something
	// beyond the timeout and counters; the others are counted.
	UpdatesChanges Updates = iota
	// UpdatesAll writes every UPDATE, as conntrack -E does.
	UpdatesAll
	// UpdatesNone writes no UPDATE: only NEW and DESTROY.
	UpdatesNone
)

// ParseUpdates parses "changes", "all" or "none".
func ParseUpdates(s string) (Updates, error) {
	switch s {
	case "changes":
		return UpdatesChanges, nil
	case "all":
		return UpdatesAll, nil
	case "none":
		return UpdatesNone, nil
	}
	return 0, fmt.Errorf("unknown update policy %q (want changes, all or none)", s)
}

func (u Updates) String() string {
	switch u {
	case UpdatesAll:
		return "all"
	case UpdatesNone:
		return "none"
	}
	return "changes"
}

// Config configures a watch. The zero value of each field but Out and Log
// is a sensible default.
type Config struct {
	// NS is the namespace to watch; nil is the caller's own. A watch of
	// several namespaces (AllNetNS, NetNSSet) leaves it nil.
	NS *netns.Handle
	// AllNetNS watches every network namespace of the host: one socket in
	// the caller's namespace listens to all (events.Config.AllNetNS), and
	// Discovery finds the namespaces, gives each an id and names them.
	// Records carry a "netns" object naming theirs.
	AllNetNS bool
	// NetNSSet watches a chosen set of namespaces (two or more) through
	// the same socket: each is given an id when Run starts, events of
	// other namespaces are dropped and counted (other_netns). Run does not
	// close them.
	NetNSSet []*netns.Handle
	// NetNSMetricsMax bounds the netns label values of the per-namespace
	// metrics (default 100): namespaces beyond are counted under "other".
	NetNSMetricsMax int
	// Discovery finds the namespaces for AllNetNS; nil runs an
	// nsdiscover.Watcher logging to Log.
	Discovery Discovery
	// AtStart returns the inodes of the namespaces present when the watch
	// starts, those whose tables are dumped when found (AllNetNS); nil
	// looks at /run/netns and the processes.
	AtStart func() (map[uint64]bool, error)
	// DumpNetNS lists one namespace's table for a watch of several, with
	// f as DumpFunc takes it; nil is events.DumpFiltered there, with
	// Labels.
	DumpNetNS func(ctx context.Context, h *netns.Handle, f events.DumpFilter, fn func(*model.Event) bool) error
	// ReadStatsNetNS reads one namespace's table statistics for a watch of
	// several; nil is ctstat.Read.
	ReadStatsNetNS func(ctx context.Context, h *netns.Handle) (ctstat.Reading, error)
	// Types are the event types to subscribe to; 0 means all.
	Types events.Types
	// BufferSize is the socket receive buffer in bytes; 0 keeps the
	// kernel's default.
	BufferSize int
	// Snapshot writes every entry of the startup dump as a "snapshot"
	// record before the live stream.
	Snapshot bool
	// DumpTimeout bounds the startup dump and each reconciliation's
	// (default 60 s); not a Snapshot's, whose records wait for the output
	// however slow it is: each of its reads is bounded instead (the idle
	// timeout of events.DumpNamed) and Run's context.
	DumpTimeout time.Duration
	// Filter selects the entry records written; nil writes all.
	Filter *filter.Filter
	// KernelFilter makes the kernel filter events and dumps by Filter
	// where it can; false receives everything and filters what is
	// written.
	//
	// For events, Run compiles Filter into a BPF program
	// (filter.Filter.BPF) and attaches it to the event socket it
	// subscribes: the kernel drops the events outside the filter before
	// they are queued, so they are neither received nor tracked, and no
	// counter sees them. Filter still runs on every event received, and
	// alone checks what the program does not compile. A program too large
	// for the kernel is not attached: events are filtered in userspace
	// only and the start record says why. A Source given in Config is not
	// filtered by the kernel (the program is compiled and reported, not
	// attached).
	//
	// For dumps, the kernel lists only entries of Filter.DumpFilter (the
	// part of Filter its dump filter expresses exactly), and the watch
	// still matches each one: the startup dump (and a namespace's, in a
	// watch of several) seeds the tracker only with entries Filter
	// selects, so that flows outside the filter are not tracked, and so
	// does the health monitor's top list. A reconciliation's dump is
	// filtered only on what cannot change over a flow's life (family,
	// tuple, zone): filtered on mark or status too, it would not list a
	// tracked flow whose mark or status changed, and the sweep would end
	// that live flow as vanished.
	//
	// The program and the dumps' filters cover only Filter.Stable, the
	// criteria a flow meets for its whole life or not at all, unless
	// KernelFilterChanging is set: --state, --status and --mark stay in
	// userspace, so every event of a flow the kernel lets through reaches
	// the tracker, its end too.
	KernelFilter bool
	// KernelFilterChanging also puts --state, --status and --mark into
	// the kernel program (with KernelFilter): cheapest, but a flow that
	// stops matching gets no more events, so the tracker keeps it as it
	// last matched (an unreplied warning for a flow answered since, no
	// DESTROY) until a reconciliation or its expiry ends it.
	KernelFilterChanging bool
	// Format is the form of entry records.
	Format Format
	// Text is the text form of entry records with FormatText.
	Text model.TextOptions
	// Labels names the connlabel bits of the events and of the dumps
	// (events.Config.Labels, events.DumpNamed) when Run subscribes and
	// Dump is nil; nil writes them by number. A Source or Dump given here
	// names them itself.
	Labels *model.LabelNames
	// Updates is the UPDATE policy.
	Updates Updates
	// LossInterval is how often loss counters are checked for growth
	// (default 100 ms).
	LossInterval time.Duration
	// Coalesce is how long the loop lets events accumulate after a read
	// that found the socket nearly empty, before reading again (default
	// 1 ms; negative: never). Events come in bursts (the packets of one
	// connection, a batch of ctnetlink requests): reading each as it
	// comes wakes ctwatch several times a burst, and a wake-up costs more
	// than the events. Under load reads come back full and there is no
	// pause; on a quiet host it adds at most this much latency.
	Coalesce time.Duration

	// Flow configures the flow tracker (flow.DefaultConfig() when zero).
	Flow flow.Config
	// ExpireInterval is how often the unreplied-flow detector runs
	// (default 250 ms).
	ExpireInterval time.Duration
	// ReconcileInterval is how often the tracker is compared with a dump
	// of the table when the kernel's nf_conntrack_events is 2, under which
	// flows created before ctwatch started never report their end (default
	// 30 s; negative: never, not even after a loss). After lost events the
	// tracker reconciles at once, whatever the sysctl, though at most once
	// a second and leaving at least ten times a dump's duration between
	// dumps.
	ReconcileInterval time.Duration
	// ReconcileBudget is the share of one CPU the periodic
	// reconciliations may take (default 0.005: half the 1 % they must
	// stay under, so that two dumps falling into one short span, and the
	// watch's own idle cost, still fit): after each, the next is
	// due once the CPU time the last took (ThreadCPU) is that share of
	// the time since, if that is later than ReconcileInterval. None is
	// due while the namespace holds no flow seeded from a dump and
	// untouched by any event since (docs/flows.md).
	ReconcileBudget float64
	// ThreadCPU returns the CPU time the calling thread has used, by which
	// a dump's cost is measured (the loop's goroutine stays on its thread
	// meanwhile); ok false when unknown, and the wall time is taken. nil
	// reads getrusage(RUSAGE_THREAD).
	ThreadCPU func() (cpu time.Duration, ok bool)

	// Health configures the table health monitor: "stats", "table_pressure"
	// and "drops" records every Health.Interval (0: off).
	Health health.Config
	// MetricsAddr is the address /metrics and /healthz are served on; ""
	// serves none.
	MetricsAddr string

	// Out receives the stream: every record with FormatJSON, the entry
	// lines with FormatText.
	Out *output.Set
	// Log writes the records that are not entry lines (start, gap,
	// warnings): into Out with FormatJSON, to the diagnostic stream with
	// FormatText. It carries no timestamp of its own: records add "time".
	Log zerolog.Logger
	// Reopen receives a value when the output file is to be reopened
	// (SIGHUP); nil never.
	Reopen <-chan struct{}
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Source is where the events come from; nil subscribes to NS's
	// conntrack events (Types, BufferSize) when Run starts, before the
	// startup dump, and closes the subscription when Run returns. A
	// Source given here is the caller's to close, and should be
	// subscribed before Run: the dump is merged with the events queued
	// from the subscription on, so that nothing in between is missed.
	Source Source
	// Dump lists the table for the startup dump, reconciliations and the
	// health monitor; nil dumps NS's (events.DumpNamed, with Labels).
	Dump DumpFunc
	// DumpExpect lists a namespace's expectation table for the startup
	// dumps of a Snapshot watch of expectation events (Types); nil is
	// events.DumpExpect.
	DumpExpect DumpExpectFunc
	// Origins names the programs behind events caused by userspace
	// requests, as each written event is handled; nil resolves them in
	// NS (origins.New). Run closes it when it returns.
	Origins OriginResolver
	// Sleep is the coalescing pause (Coalesce); nil is time.Sleep.
	Sleep func(time.Duration)
	// ReadSysctl reads an integer sysctl of NS (nf_conntrack_events, which
	// decides the periodic reconciliation); nil reads it from /proc.
	ReadSysctl func(name string) (int64, error)
	// ReadStats reads the table's fill and statistics counters for the
	// health monitor; nil reads NS's through one ctstat.Reader (one socket
	// kept open; only the health goroutine calls it).
	ReadStats func(ctx context.Context) (ctstat.Reading, error)
	// Version is written into the start record.
	Version string
	// Schema is the schema of the records (with Format JSON; text lines are
	// conntrack -E's whatever it says).
	Schema record.Schema
	// Run identifies this run in every record; Host names the host.
	Run, Host string
	// OnNetnsGone is what the watch does once NS is gone: no name and no
	// process holds it, only the watch's own descriptor, so nothing can
	// happen in it any more (default NetnsGoneExit).
	OnNetnsGone NetnsGonePolicy
	// NetnsCheck is how often the watch checks whether NS is gone
	// (default 2 s; negative: never); while the removal of the name NS
	// was opened by is watched (inotify), which wakes the check at once,
	// only every 15 NetnsCheck (30 s). The check runs on the loop and
	// reads every process's namespace link: about 5 µs a process, so 10 ms
	// every 2 s on a host of 2,000 processes, which the socket's buffer
	// absorbs.
	NetnsCheck time.Duration
	// Orphaned reports whether NS is gone; nil is NS.Orphaned (never for
	// the caller's own namespace).
	Orphaned func() (bool, error)
	// AssignNSID gives a namespace of NetNSSet its id in the caller's
	// namespace, keeping one it has; nil asks the kernel over rtnetlink
	// (nsdiscover.IDs.Assign).
	AssignNSID func(h *netns.Handle) (int32, error)
	// OrphanedNetNS reports whether a namespace of NetNSSet is gone; nil
	// is its Handle.Orphaned.
	OrphanedNetNS func(h *netns.Handle) (bool, error)
	// Heartbeat is how often a "heartbeat" record tells that the watch is
	// alive, with its counters and sequence number (0: never). The loop
	// waits for events until it is due at most, so it comes on time; its
	// deadline coalesces with the loop's other timers.
	Heartbeat time.Duration

	// selfNetNS is set by withDefaults when the watched namespace is the
	// caller's own and Orphaned the real check, which then never says
	// gone.
	selfNetNS bool
	// watchNetNS is set by withDefaults when Orphaned is the real check:
	// NS's removal is then watched rather than polled where it can be.
	watchNetNS bool
}

func (c *Config) withDefaults() {
	if c.DumpTimeout <= 0 {
		c.DumpTimeout = 60 * time.Second
	}
	if c.LossInterval <= 0 {
		c.LossInterval = 100 * time.Millisecond
	}
	if c.Coalesce == 0 {
		c.Coalesce = time.Millisecond
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Dump == nil {
		fd, labels := c.NS.FD(), c.Labels
		c.Dump = func(ctx context.Context, f events.DumpFilter, fn func(*model.Event) bool) error {
			return dumpFiltered(ctx, fd, labels, f, fn)
		}
	}
	if c.Origins == nil {
		c.Origins = origins.New(c.NS)
	}
	if c.Sleep == nil {
		c.Sleep = time.Sleep
	}
	if c.ReadSysctl == nil {
		ns := c.NS
		c.ReadSysctl = func(name string) (int64, error) { return sysctl.ReadInt(ns, name) }
	}
	if c.ReadStats == nil {
		// One socket for the watch's life: only the health goroutine reads.
		c.ReadStats = ctstat.NewReader(c.NS).Read
	}
	if c.Types == 0 {
		c.Types = events.AllTypes
	}
	if c.Flow == (flow.Config{}) {
		c.Flow = flow.DefaultConfig()
	}
	if c.ExpireInterval <= 0 {
		c.ExpireInterval = 250 * time.Millisecond
	}
	if c.NetnsCheck == 0 {
		c.NetnsCheck = defaultNetnsCheck
	}
	if c.NetNSMetricsMax <= 0 {
		c.NetNSMetricsMax = 100
	}
	if c.DumpNetNS == nil {
		labels := c.Labels
		c.DumpNetNS = func(ctx context.Context, h *netns.Handle, f events.DumpFilter, fn func(*model.Event) bool) error {
			return dumpFiltered(ctx, h.FD(), labels, f, fn)
		}
	}
	if c.ReadStatsNetNS == nil {
		c.ReadStatsNetNS = ctstat.Read
	}
	if c.AllNetNS && c.Discovery == nil {
		c.Discovery = nsdiscover.New(nsdiscover.Config{Log: c.Log})
	}
	if c.AtStart == nil {
		c.AtStart = namespacesAtStart
	}
	if c.Orphaned == nil {
		// Its own namespace never goes: no check is due.
		c.selfNetNS = c.NS == nil
		c.watchNetNS = c.NS != nil
		c.Orphaned = c.NS.Orphaned
	}
	if c.OrphanedNetNS == nil {
		c.OrphanedNetNS = (*netns.Handle).Orphaned
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = 30 * time.Second
	}
	if c.ReconcileBudget <= 0 {
		c.ReconcileBudget = 0.005
	}
	if c.ThreadCPU == nil {
		c.ThreadCPU = threadCPU
	}
}
