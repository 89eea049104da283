// Package metrics serves ctwatch's Prometheus metrics on /metrics and its
// liveness on /healthz.
//
// The watch loop keeps its counters itself, cheaply (plain integers owned by
// one goroutine, or atomics), and hands this package a function returning a
// [Snapshot] of them. A custom collector calls it at scrape time and emits
// constant metrics, so that the event path never touches a Prometheus
// vector. Everything is registered on an explicit registry, never the
// global default one.
//
// The metrics:
//
//	ctwatch_events_total{type}              counter  events read from the kernel, type new, update or destroy
//	                                                 (and expect_new, expect_destroy with --events expect)
//	ctwatch_events_lost_total{stage}        counter  events lost: stage kernel (socket overrun, SK_MEMINFO_DROPS)
//	                                                 or output (sink); sum() is the total lost
//	ctwatch_events_filtered_total           counter  events the filter discarded
//	ctwatch_decode_errors_total             counter  messages that could not be decoded
//	ctwatch_records_written_total{output}   counter  records an output took in full (written, or taken by its
//	                                                 server), of every kind; output is the --output as given
//	                                                 ("stdout" for -), a URL's password hidden
//	ctwatch_output_dropped_records_total{output,reason}
//	                                        counter  records an output dropped: reason overflow (queue full),
//	                                                 refused (by its server), failed (write errors, or still
//	                                                 queued in memory at the stop); each is in a gap record
//	ctwatch_output_queued_records{output}   gauge    records waiting in an output's queue
//	ctwatch_output_queue_bytes{output}      gauge    their bytes
//	ctwatch_output_lag_seconds{output}      gauge    how long the oldest waiting record has waited
//	ctwatch_output_retries_total{output}    counter  a remote output's failed sends and connection attempts
//	ctwatch_output_reconnects_total{output} counter  connections a remote output made after its first
//	ctwatch_output_up{output}               gauge    1 while the output works, 0 while it fails
//	ctwatch_unreplied_warnings_total{report} counter unreplied flows, by report: single (a warning of its
//	                                                 own) or summarised (counted into a summary record);
//	                                                 sum() is every unreplied flow
//	ctwatch_inferred_destroys_total         counter  flow ends inferred without a DESTROY
//	ctwatch_flows_evicted_total             counter  flows the tracker forgot to stay within --max-flows
//	ctwatch_flows_tracked                   gauge    flows the tracker holds
//	ctwatch_conntrack_entries               gauge    entries in the conntrack table
//	ctwatch_conntrack_entries_limit         gauge    nf_conntrack_max (0: no limit)
//	ctwatch_conntrack_fill_ratio            gauge    entries / limit, 0 to 1 (absent without a limit)
//	ctwatch_conntrack_stat_<counter>_total  counter  conntrack's per-CPU statistics counter, summed over
//	                                                 CPUs: found, invalid, ignore, insert, insert_failed, drop,
//	                                                 early_drop, error, search_restart, clash_resolve, chaintoolong
//
// Lost events carry a stage label rather than being one number because each
// stage has its own fix (a bigger socket buffer, a faster loop, a faster
// output); every stage is always present, so sum(ctwatch_events_lost_total)
// is the total. The conntrack metrics appear once the first table reading
// has been taken.
package metrics
