package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ctwatch/ctwatch/internal/ctstat"
)

// Snapshot is the values the metrics expose, taken at scrape time. The
// function returning it is called from the HTTP server's goroutines, so it
// must read the watch loop's counters safely (atomics, or a copy made
// under a lock).
type Snapshot struct {
	Events       EventCounts
	Lost         LostCounts
	Filtered     uint64
	DecodeErrors uint64
	FlowsTracked uint64
	// Outputs are the counters of each --output, by name.
	Outputs []Output
	// UnrepliedWarnings counts unreplied flows reported one by one,
	// UnrepliedSummarised those counted into summaries.
	UnrepliedWarnings, UnrepliedSummarised uint64
	// InferredDestroys counts flow ends deduced without a DESTROY;
	// FlowsEvicted flows the tracker forgot to stay within its bound.
	InferredDestroys, FlowsEvicted uint64

	// NetNS holds, for a watch of several namespaces, each labelled
	// namespace's counts, at most --netns-metrics-max of them and then one
	// labelled "other" for the rest; nil for a watch of one.
	NetNS []NetNS
	// OtherNetNS counts the events of namespaces outside a watched set
	// (dropped), UnknownNetNS those of namespaces not known yet (written
	// with their id only).
	OtherNetNS, UnknownNetNS uint64

	// HaveTable is set once the table has been read; Table is then its
	// latest reading.
	HaveTable bool
	Table     Table
}

// NetNS is what the watch counted of one network namespace.
type NetNS struct {
	// Label is the netns label: the namespace's name, else its inode
	// number, or "other".
	Label string
	// Events counts the events received from it; Tracked is the flows
	// the tracker holds of it.
	Events, Tracked uint64
}

// Output is what one output did with the records handed to it.
type Output struct {
	// Name is the output as --output gave it, the output label.
	Name string
	// Written counts the records it took in full, of every kind:
	// written, or taken by its server.
	Written uint64
	// Overflow, Refused and Failed count the records it dropped: its
	// queue full, refused by its server, lost to write errors.
	Overflow, Refused, Failed uint64
	// Queued and QueueBytes are the records waiting; Lag how long the
	// oldest has waited, in seconds.
	Queued, QueueBytes int
	Lag                float64
	// Retries and Reconnects count a remote output's failed attempts and
	// new connections.
	Retries, Reconnects uint64
	// Failing says that the output fails now.
	Failing bool
}

// EventCounts counts events by type. ExpectNew and ExpectDestroy count
// expectation events, exported (type expect_new, expect_destroy) when
// Expects is set: the watch subscribed to them.
type EventCounts struct {
	New, Update, Destroy     uint64
	Expects                  bool
	ExpectNew, ExpectDestroy uint64
}

// LostCounts counts lost events by the stage that lost them.
type LostCounts struct {
	// Kernel counts events the kernel could not deliver because the
	// socket's buffer was full.
	Kernel uint64
	// Output counts records the sink dropped because its writer was
	// behind.
	Output uint64
}

// Table is the conntrack table as last read.
type Table struct {
	Entries, Limit uint32
	// Stats are the statistics counters summed over CPUs. They should
	// never decrease: health.Monitor.Last's totals, unlike the kernel's
	// sums of wrapping 32-bit counters, do not.
	Stats ctstat.CPUStats
}

// Collector is a prometheus.Collector that reads a Snapshot at each scrape.
type Collector struct {
	snapshot func() Snapshot

	events, lost, filtered, decodeErrors  *prometheus.Desc
	written, unreplied, inferred, evicted *prometheus.Desc
	dropped, queued, queueBytes, lag      *prometheus.Desc
	retries, reconnects, up               *prometheus.Desc
	flows, entries, limit, fill           *prometheus.Desc
	nsEvents, nsTracked, nsUnattributed   *prometheus.Desc
	stats                                 [ctstat.NumCounters]*prometheus.Desc
}

// NewCollector returns a Collector of the snapshots snapshot returns.
func NewCollector(snapshot func() Snapshot) *Collector {
	c := &Collector{
		snapshot: snapshot,
		events: prometheus.NewDesc("ctwatch_events_total",
			"Conntrack events read from the kernel, by type.", []string{"type"}, nil),
		lost: prometheus.NewDesc("ctwatch_events_lost_total",
			"Events lost, by stage: kernel (socket buffer overrun), output (sink behind).", []string{"stage"}, nil),
		filtered: prometheus.NewDesc("ctwatch_events_filtered_total",
			"Events the filter discarded.", nil, nil),
		decodeErrors: prometheus.NewDesc("ctwatch_decode_errors_total",
			"Netlink messages that could not be decoded.", nil, nil),
		written: prometheus.NewDesc("ctwatch_records_written_total",
			"Records each output took in full (written, or taken by its server), of every kind.", []string{"output"}, nil),
		dropped: prometheus.NewDesc("ctwatch_output_dropped_records_total",
			"Records an output dropped, by reason: overflow (its queue was full), refused (by its server), failed (write errors, or queued in memory at the stop).", []string{"output", "reason"}, nil),
		queued: prometheus.NewDesc("ctwatch_output_queued_records",
			"Records waiting in an output's queue.", []string{"output"}, nil),
		queueBytes: prometheus.NewDesc("ctwatch_output_queue_bytes",
			"Bytes of the records waiting in an output's queue.", []string{"output"}, nil),
		lag: prometheus.NewDesc("ctwatch_output_lag_seconds",
			"How long the oldest record waiting in a remote output's queue has waited.", []string{"output"}, nil),
		retries: prometheus.NewDesc("ctwatch_output_retries_total",
			"Failed sends and connection attempts of a remote output.", []string{"output"}, nil),
		reconnects: prometheus.NewDesc("ctwatch_output_reconnects_total",
			"Connections a remote output made after its first.", []string{"output"}, nil),
		up: prometheus.NewDesc("ctwatch_output_up",
			"1 while an output works, 0 while its writes or sends fail.", []string{"output"}, nil),
		unreplied: prometheus.NewDesc("ctwatch_unreplied_warnings_total",
			"Flows still unanswered after --unreplied-after, by how they were reported: alone (single) or counted into a summary (summarised).", []string{"report"}, nil),
		inferred: prometheus.NewDesc("ctwatch_inferred_destroys_total",
			"Flow ends deduced from a dump or a reused key, no DESTROY having been seen.", nil, nil),
		evicted: prometheus.NewDesc("ctwatch_flows_evicted_total",
			"Flows the tracker forgot to stay within --max-flows.", nil, nil),
		fill: prometheus.NewDesc("ctwatch_conntrack_fill_ratio",
			"Entries over the table's limit, 0 to 1 (absent without a limit).", nil, nil),
		flows: prometheus.NewDesc("ctwatch_flows_tracked",
			"Flows the flow tracker holds.", nil, nil),
		entries: prometheus.NewDesc("ctwatch_conntrack_entries",
			"Entries in the conntrack table.", nil, nil),
		limit: prometheus.NewDesc("ctwatch_conntrack_entries_limit",
			"The conntrack table's limit, nf_conntrack_max (0: no limit).", nil, nil),
		nsEvents: prometheus.NewDesc("ctwatch_netns_events_total",
			"Conntrack events read from each watched network namespace (by name, else inode; beyond --netns-metrics-max namespaces, other).", []string{"netns"}, nil),
		nsTracked: prometheus.NewDesc("ctwatch_netns_tracked_flows",
			"Flows the flow tracker holds of each watched network namespace (labelled as ctwatch_netns_events_total).", []string{"netns"}, nil),
		nsUnattributed: prometheus.NewDesc("ctwatch_netns_unattributed_events_total",
			"Events of no watched namespace, by reason: other_netns (outside --netns, dropped), unknown_netns (not known yet, written with the namespace id only).", []string{"reason"}, nil),
	}
	for i := range ctstat.NumCounters {
		c.stats[i] = prometheus.NewDesc("ctwatch_conntrack_stat_"+i.String()+"_total",
			"Conntrack's "+i.String()+" statistics counter, summed over CPUs.", nil, nil)
	}
	return c
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.lost, c.filtered, c.decodeErrors, c.written, c.unreplied,
		c.inferred, c.evicted, c.flows, c.entries, c.limit, c.fill, c.nsEvents, c.nsTracked, c.nsUnattributed,
		c.dropped, c.queued, c.queueBytes, c.lag, c.retries, c.reconnects, c.up} {
		ch <- d
	}
	for _, d := range c.stats {
		ch <- d
	}
}

// Collect sends the metrics of one snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.events, s.Events.New, "new")
	counter(c.events, s.Events.Update, "update")
	counter(c.events, s.Events.Destroy, "destroy")
	if s.Events.Expects {
		counter(c.events, s.Events.ExpectNew, "expect_new")
		counter(c.events, s.Events.ExpectDestroy, "expect_destroy")
	}
	counter(c.lost, s.Lost.Kernel, "kernel")
	counter(c.lost, s.Lost.Output, "output")
	counter(c.filtered, s.Filtered)
	counter(c.decodeErrors, s.DecodeErrors)
	for _, o := range s.Outputs {
		counter(c.written, o.Written, o.Name)
		counter(c.dropped, o.Overflow, o.Name, "overflow")
		counter(c.dropped, o.Refused, o.Name, "refused")
		counter(c.dropped, o.Failed, o.Name, "failed")
		gauge(c.queued, float64(o.Queued), o.Name)
		gauge(c.queueBytes, float64(o.QueueBytes), o.Name)
		gauge(c.lag, o.Lag, o.Name)
		counter(c.retries, o.Retries, o.Name)
		counter(c.reconnects, o.Reconnects, o.Name)
		up := 1.0
		if o.Failing {
			up = 0
		}
		gauge(c.up, up, o.Name)
	}
	counter(c.unreplied, s.UnrepliedWarnings, "single")
	counter(c.unreplied, s.UnrepliedSummarised, "summarised")
	counter(c.inferred, s.InferredDestroys)
	counter(c.evicted, s.FlowsEvicted)
	gauge(c.flows, float64(s.FlowsTracked))
	for _, n := range s.NetNS {
		counter(c.nsEvents, n.Events, n.Label)
		gauge(c.nsTracked, float64(n.Tracked), n.Label)
	}
	if s.NetNS != nil {
		counter(c.nsUnattributed, s.OtherNetNS, "other_netns")
		counter(c.nsUnattributed, s.UnknownNetNS, "unknown_netns")
	}
	if !s.HaveTable {
		return
	}
	gauge(c.entries, float64(s.Table.Entries))
	gauge(c.limit, float64(s.Table.Limit))
	if s.Table.Limit > 0 {
		gauge(c.fill, float64(s.Table.Entries)/float64(s.Table.Limit))
	}
	for i, d := range c.stats {
		counter(d, s.Table.Stats[i])
	}
}

// NewRegistry returns a registry holding a Collector of snapshot, with the
// Go runtime's and the process's standard metrics.
func NewRegistry(snapshot func() Snapshot) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(snapshot),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
