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
	// RecordsWritten counts the records written to the output, of every
	// kind; Output names the output, the value of the output label (one
	// output today, several once outputs are plural).
	RecordsWritten uint64
	Output         string
	// UnrepliedWarnings counts unreplied flows reported one by one,
	// UnrepliedSummarised those counted into summaries.
	UnrepliedWarnings, UnrepliedSummarised uint64
	// InferredDestroys counts flow ends deduced without a DESTROY;
	// FlowsEvicted flows the tracker forgot to stay within its bound.
	InferredDestroys, FlowsEvicted uint64

	// HaveTable is set once the table has been read; Table is then its
	// latest reading.
	HaveTable bool
	Table     Table
}

// EventCounts counts events by type.
type EventCounts struct {
	New, Update, Destroy uint64
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
	flows, entries, limit, fill           *prometheus.Desc
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
			"Records written to the output, of every kind, by output.", []string{"output"}, nil),
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
		c.inferred, c.evicted, c.flows, c.entries, c.limit, c.fill} {
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
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.events, s.Events.New, "new")
	counter(c.events, s.Events.Update, "update")
	counter(c.events, s.Events.Destroy, "destroy")
	counter(c.lost, s.Lost.Kernel, "kernel")
	counter(c.lost, s.Lost.Output, "output")
	counter(c.filtered, s.Filtered)
	counter(c.decodeErrors, s.DecodeErrors)
	counter(c.written, s.RecordsWritten, s.Output)
	counter(c.unreplied, s.UnrepliedWarnings, "single")
	counter(c.unreplied, s.UnrepliedSummarised, "summarised")
	counter(c.inferred, s.InferredDestroys)
	counter(c.evicted, s.FlowsEvicted)
	gauge(c.flows, float64(s.FlowsTracked))
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
