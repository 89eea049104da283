// Package jetstream delivers ctwatch records to a NATS JetStream stream, the
// `nats://HOST:PORT/SUBJECT` output.
//
// The stream is the operator's: the package never creates or changes one.
// [Publisher.CheckStream] says at start, with a [*NoStreamError], when no
// stream takes the subject, and how to create one.
//
// Records are published asynchronously with a bounded window of records in
// flight. Each carries the header Nats-Msg-Id = run id + "-" + seq, so a record
// published again (after a timeout, a reconnect or a restart of ctwatch on its
// spool) is stored once, as long as the retry falls inside the stream's
// duplicate window. [Publisher.Run] reports, strictly in the order the
// records were given, which were stored (acked by the server) and which the
// server refused ([*RefusedError], for example a record larger than the
// server's max payload): a caller's spool can drop a record as soon as its
// result is reported.
//
// The stream holds the records in their order, except when a publish fails
// while later ones are in flight and those succeed: across a change of
// leader of a clustered stream (records the old leader never answered are
// stored after later ones the new leader took), or when the stream is
// created while records are in flight. Each is still stored once, and
// records carry their seq.
//
// Records go out on the core connection, each attempt with a reply subject
// of its own, and Run reads the acks from one channel subscription: the
// client's PublishAsync, with a future, a timer and map entries per record
// and its acks decoded with encoding/json, cost about three times the CPU
// per record. Acks are read by a decoder of the few keys needed, checked
// against encoding/json by a fuzz test. Every record is one message with
// its own ack: JetStream's atomic batches refuse a whole batch for one
// Nats-Msg-Id already stored (see docs/delivery.md).
//
// A failed or timed-out publish is retried: the publisher stops taking new
// records, waits until every record in flight is resolved, and publishes the
// failed ones again in their order, with exponential backoff and jitter
// (100 ms to 30 s) between rounds that make no progress. The connection
// reconnects by itself with the same bounded backoff. Every retry,
// reconnect attempt and reconnect is counted in [Stats].
package jetstream
