// Package watch is the pipeline behind `ctwatch watch`: it wires the event
// subscriber, the startup dump, the filter, the flow tracker, the table
// health monitor, the encoders and the output sink together, and owns the
// loop that drives them.
//
// # Goroutines and channels
//
// Three goroutines carry an event. The subscriber's reader (events.Subscriber
// Run) owns the netlink socket and sends decoded batches on a channel whose
// owner, and closer, it is; the channel holds Config.QueueLen batches and,
// when it is full, the reader drops the batch and counts it rather than stop
// reading the socket. The loop (Run) is the only goroutine that touches the
// tracker, the health monitor and the encoders; it never blocks on output,
// because the sink's Write only copies a record into a buffer (or drops and
// counts it). The sink's own goroutine writes the buffers out.
//
// # Startup
//
// The subscription comes first, so that nothing that happens while the
// table is dumped is missed: events queue in the socket and the channel
// while the dump, on a second socket, streams the table into the tracker
// (and, with Config.Snapshot, into "snapshot" records). A NEW event queued
// during the dump for a flow the dump already reported is merged into the
// snapshot record rather than written twice, and counted.
//
// # Loss
//
// Loss is never fatal and never silent. Events the kernel dropped (the
// socket's SK_MEMINFO_DROPS), batches the reader dropped because the loop
// was behind, and records the sink dropped because output was behind are
// each counted; whenever one of them grows, a {"level":"warn","event":"gap"}
// record says how many and where, and the shutdown summary totals them.
package watch
