// Package spool is the disk queue of one remote output: records wait in
// it, in order, until the output has taken them, across a slow or absent
// server and across a crash or restart of ctwatch.
//
// # Files
//
// A spool is one directory (one per output, DIR/<output>/, mode 0750)
// holding:
//
//   - segment files NNNNNNNNNNNN.seg (mode 0640), appended to and never
//     rewritten. A segment begins with a header (magic, version, its
//     number, the index of its first record and the run id of all its
//     records) and holds frames
//     crc32c | len | seq | unixnano | level | data, the CRC32C covering
//     everything after itself. A new segment is begun when the current
//     one reaches [Config.SegmentBytes] or the run id changes, and at
//     every Open (a recovered segment is never appended to).
//   - ack, two slots written in turn with pwrite, each with its own CRC:
//     the position (segment, offset, record index) up to which records
//     are delivered.
//   - lock, held with flock by the process that has the spool open: a
//     second ctwatch on the same directory gets [ErrLocked], naming it.
//
// Every file is opened through internal/safefile (no symbolic links,
// ctwatch's own files only).
//
// # Goroutines
//
// One writer goroutine calls [Spool.Append]. One reader goroutine (the
// output's) calls [Spool.Next], [Spool.TryNext] and [Spool.Rewind]. [Spool.Ack] is called by one goroutine at
// a time, the reader's or the one that learns what the output took (it
// may run concurrently with Next). [Spool.Stats] and [Spool.Damage] may be
// called from any goroutine. [Spool.Close] is called once, after all of
// them have stopped. A mutex guards what they share (the segment list, the
// ack, the counters); it is never held across a write of a record.
//
// # Bound and overflow
//
// The spool's files hold at most [Config.MaxBytes] (default 1 GiB).
// Append never waits for the reader (it may wait for the disk, when the
// kernel throttles writers of dirty pages): when a record would take the spool
// past the bound, the oldest segments are removed first, whole, and
// their undelivered records counted in [Stats.Dropped] and reported to
// [Config.OnDrop] with their seq range. A record Next had already handed
// out but that was not acked when its segment went counts as dropped even
// if the output takes it afterwards: a loss report can overstate by the
// output's in-flight window, never understate. After a drop, Next goes
// on with the oldest record left.
//
// # What survives what
//
// Append is one write(2) of the record's frame: once it returns, the
// record is in the kernel's page cache and a crash of the process
// (SIGKILL, a panic, the OOM killer) cannot lose it. Ack is one pwrite of
// the ack file, persisted the same way. A restarted process delivers every
// record after the last ack, again if it was delivered before but not
// acked: delivery is at least once, and JetStream's Nats-Msg-Id (run id
// and seq, which the spool keeps) stores a record sent twice once.
//
// A crash of the machine (power loss, kernel panic) loses what the kernel
// had not written back, by default up to its writeback delay (about 30 s,
// vm.dirty_expire_centisecs). With [Config.SyncInterval] set, Append
// fdatasyncs the segment when the last sync is older than the interval
// (and the directory after creating a segment), bounding the loss to
// about one interval at the cost of a disk flush per interval. The
// records a burst appends after its last such sync, for which no Append
// comes, are synced by the spool's idle sync, a timer that Append arms
// and that runs as the writer (Append, Sync and it hold one lock) once
// the last sync is an interval old; Close syncs what is left. The ack
// file is never synced: after a power loss it may be older, and records
// are delivered again, not lost.
//
// # Damage
//
// Open reads every segment and checks every frame, so its counts are
// exact. The last segment's end after its last whole frame is a torn
// tail (a write cut short, for which Append had not returned): it is
// truncated and counted in [Stats.Torn] and [Stats.TornBytes]. A damaged
// frame in an older segment makes the rest of that segment unreadable:
// its records are counted in [Stats.Lost] (the next segment's first index
// says how many) and the next segments are still delivered. A segment
// without a valid header is removed, its records counted the same way
// when a later segment shows how many there were. A last segment too
// short for its header is what a crash at its creation leaves: a torn
// tail, removed and counted as one (nothing says how many records a
// damaged one held).
// Each is logged to [Config.Log] as a [CorruptError] naming the file and
// the offset. Next checks every frame again and skips what was damaged
// since (counted as lost, logged); it never returns a record whose CRC
// fails. At every moment
//
//	Recovered + Appended = Delivered + Dropped + Lost + Queued
//
// # Reading
//
// Next hands out records in order; Ack(p) says that the output took
// every record up to the one at p, Rewind that the records handed out
// since the last Ack must be sent again. A record's Data stays valid
// until an Ack covers it (or Rewind), so a transport keeps a window of
// records in flight without copying them: the reader reads into a new
// buffer when records of the old one still wait for their Ack, and
// reuses it otherwise.
//
// # Cost
//
// Append, Next and Ack of one record cost one write(2), one pwrite of
// the ack file and a share of a 256 KiB pread, and no allocation
// (BenchmarkAppendNextAck); an output that acks a window of records at
// once saves the pwrites. A reader that keeps up with the writer while
// records are in flight allocates one buffer per pread, at most one per
// record (BenchmarkAppendNextAckWindow64). Open reads every segment: measured, 160 ms for
// 293 MB (a million records) from the page cache; from a cold disk, the
// time to read the spool.
package spool
