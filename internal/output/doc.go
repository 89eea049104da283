// Package output is where `ctwatch watch` sends its stream: one or more
// outputs, each given by an `--output` ([Parse]), fed the same records.
//
// # Outputs
//
// A local output ("-" for standard output, or a file path) is a
// [sink.Writer]: bounded buffers, one writer goroutine, reopened on SIGHUP.
// A remote output (syslog+udp://, syslog+tcp://, syslog+unix://, nats://) is
// a [Remote]: a bounded queue and one delivery goroutine that hands the
// records, in order, to a [Transport] and takes them off the queue only
// once the transport has taken them (JetStream: acknowledged; syslog over
// TCP: written). A server that is gone costs queue space: the transport
// reconnects with backoff and the backlog follows in order.
//
// # Never waiting, never silent
//
// The watch loop hands each record to the [Set], which copies it to every
// output without waiting for any: an output that is behind drops the
// record and counts it, and the others carry on. Each output's losses are
// counted exactly ([Stats]): records dropped because its queue was full,
// refused by the server (too large), lost to write errors, or still queued
// when the watch stopped. The watch turns every change of these counters
// into a gap record naming the output, and a gap record is never dropped:
// the encoder marks it ([Set.Mark]) and every output keeps it, beyond its
// bound if it must, so that each output's stream accounts for every
// record it lacks. The stop record is kept the same way.
//
// # Dumps wait
//
// A table dump is different: ctwatch pulls it, and the kernel keeps what
// ctwatch has not read yet. While the watch writes a dump's records
// (snapshot records, a reconciliation's inferred ends) it brackets them
// with [Set.Wait]: each output then waits for room ([Output.PutWait])
// instead of dropping, so a slow output slows the dump down and loses
// nothing. A local output waits for a free buffer; a remote one with a
// memory queue waits for the transport to take records (the server's
// pace); a spool always has room (its own bound drops its oldest, counted).
// The wait ends with the watch's context: a record that still finds no
// room then is dropped and counted as usual. Live events never wait.
//
// # Ordering
//
// Every output receives every record in the encoder's order, each with its
// sequence number, so that a consumer of any one output can find a hole in
// the numbers and the gap record that explains it.
package output
