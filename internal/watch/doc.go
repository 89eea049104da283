// Package watch is the pipeline behind `ctwatch watch`: it wires the event
// subscriber, the startup dump, the filter, the flow tracker, the table
// health monitor, the encoders and the output sink together, and owns the
// loop that drives them.
//
// # Goroutines
//
// One goroutine, the loop (Run), reads the event socket and handles what it
// reads: it receives a batch from its Source (an events.Subscriber: a
// non-blocking recvmmsg, and when the socket is empty a wait in Go's
// netpoller), decodes, tracks, filters and encodes it, and runs its timers
// (loss checks, the unreplied detector, reconciliations, heartbeats,
// namespace checks) between batches. Wake-ups are proportional to work:
// each timer has its own deadline, only while it has something to do (a
// loss check after events or records, the detector when a flow comes due,
// the periodic reconciliation at its pace while seeded flows remain), and
// the loop waits for events until the first of them, at most 10 s (100 ms
// with --all-netns, whose discovery it takes at its turns). A stop or the
// output's end ends the wait at once (Source.Wake). It never blocks on output
// for an event: the sink's Write only copies a record into a buffer, or
// drops and counts it, and the sink's own goroutine writes the buffers
// out. A dump's records are the exception: a dump is pulled by the loop
// and the kernel keeps what is not read yet, so its snapshot records and
// a reconciliation's inferred ends wait for room in the output
// (output.Set.Wait) instead of being dropped. The socket's
// receive buffer is the only queue in front of the loop; what overflows it
// the kernel counts exactly. The table health monitor and the metrics
// server run on goroutines of their own beside the loop, and stop with it.
//
// # Expectations
//
// With expectation types in Config.Types, each batch also carries the
// kernel's expectation events (events.Batch.Expects); the loop writes them
// in the kernel's order among the batch's connection events, past the
// tracker and the filter, which are about connections, and counts them
// (Counters.ExpectNew, ExpectDestroy, ExpectWritten; the stop record and
// ctwatch_events_total). With Config.Snapshot too, each startup dump of a
// namespace then lists its expectation table after its entries
// (Config.DumpExpect) and writes an "expect_snapshot" record for each,
// waiting for the output as entry snapshots do.
//
// # Startup
//
// The subscription comes first, so that nothing that happens while the
// table is dumped is missed: events queue in the socket
// while the dump, on a second socket, streams the table into the tracker
// (and, with Config.Snapshot, into "snapshot" records). A NEW event queued
// during the dump for a flow the dump already reported is merged into the
// snapshot record rather than written twice, and counted.
//
// With Config.KernelFilter, the filter's BPF program (filter.Filter.BPF)
// is attached to the event socket before it joins the groups: the events
// outside it are dropped by the kernel, never received, tracked or
// counted; the filter still runs on every event received, and the start
// record says which part of it runs where (docs/filter.md). Every dump
// asks the kernel to list only what the part of Config.Filter its dump
// filter expresses selects (filter.Filter.DumpFilter), and the tracker is
// seeded only with the entries Filter selects; a reconciliation asks only
// for what a flow cannot change (family, tuple, zone), so that it still
// lists a tracked flow whose mark or status changed, rather than end it as
// vanished.
//
// # Loss
//
// Loss is never fatal and never silent. Events the kernel dropped (the
// socket's SK_MEMINFO_DROPS) and records the sink dropped because output
// was behind are each counted; whenever one of them grows, a {"level":"warn","event":"gap"}
// record says how many and where, and the shutdown summary totals them.
//
// # Faults
//
// The sink reports each change in the output's health (the first failure
// of a write or reopen, each change of errno, a torn record, recovery) on
// its Faults channel, which ends the loop's wait; the loop takes them at
// every turn and writes them as output_error and output_recovered records
// into the same output, where they land once writes succeed again (the
// sink has said them on stderr at once). /healthz is unhealthy while
// writes or reopens fail. The loop asks whether the watched namespace is
// gone (no name, no process: only the watch's descriptor holds it) at once
// when the name it was opened by is removed (netns.Handle.WatchRemoval),
// and every 15 Config.NetnsCheck (one stat while the name is still the
// namespace; every NetnsCheck when the name cannot be watched) for what
// that does not see, such as the name unmounted and left in place: once
// it is, a netns_gone record, its tracked flows ended as inferred, /healthz
// unhealthy, and Run returns ErrNetnsGone unless Config.OnNetnsGone is
// NetnsGoneWait.
//
// # Reconciliation
//
// Under nf_conntrack_events=2 only the flows a dump seeded and no event
// has touched can end without a DESTROY, so a namespace is reconciled
// periodically only while the tracker holds some (flow.Tracker.SeededNetNS).
// A dump walks the host's whole table, so each is paced by its measured
// CPU time (pace.go): the next is due once that is Config.ReconcileBudget
// of the time since, and no sooner than Config.ReconcileInterval. A dump
// that fails infers nothing.
//
// # Several namespaces
//
// With Config.AllNetNS or Config.NetNSSet the source is one socket
// listening to every namespace (events.Config.AllNetNS), and each event
// names its namespace by id. For AllNetNS, Config.Discovery (an
// nsdiscover.Watcher) runs beside the loop, which takes what it found at
// every turn without waiting: a namespace found gets a netns_added record
// (and its startup dump if it was there when the watch began, or with
// Snapshot), one gone has its flows ended as inferred (netns_gone) and a
// netns_removed record. A fixed set is given ids when Run starts and
// checked every NetnsCheck; events of other namespaces are dropped and
// counted. Each namespace is a slot of a slice indexed by its id, where
// its events and records are counted without a lock or an allocation; the
// encoder names each record's namespace through the same identities.
// Reconciliations and table statistics are per namespace, and a namespace
// is dumped only when it needs it (docs/netns.md).
//
// # Completeness
//
// The loop and the health monitor write through one record.Encoder, which
// numbers every record it writes (seq) in the order written, and stamps
// each with the run id and host name of Config; a heartbeat record every
// Config.Heartbeat reports the counters and the number of records written,
// so that a consumer can prove it got everything (docs/schema.md).
//
// # The world, injected
//
// What the loop takes from the world comes through Config: the event
// Source, the table Dump, the Clock, the coalescing Sleep, ReadSysctl,
// ReadStats and the Origins resolver, each defaulting to the real one for
// Config.NS. The unit tests drive the real Run with stand-ins for them, on
// a clock that moves only when the test says; the integration tests run it
// against the kernel.
package watch
