package output

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
)

// Record is one record of the stream as an output takes it.
type Record struct {
	// Data is the record as the encoder wrote it, its newline included.
	// It belongs to the queue: valid until the record is done.
	Data []byte
	// Seq is the record's sequence number: the encoder's for JSON
	// records, the Set's own count for conntrack -E text lines, which
	// carry none.
	Seq uint64
	// Run is the id of the run that wrote the record (a record replayed
	// from a spool keeps its own run's).
	Run string
	// Level is the record's zerolog level.
	Level zerolog.Level
	// Keep marks a record no output may drop: gap and stop records.
	Keep bool
}

// ErrRefused is wrapped by a transport's error for a record that the
// server will never take (larger than it accepts): it is skipped and
// counted, and delivery goes on with the next.
var ErrRefused = errors.New("record refused")

// Reader is a transport's side of an output's queue. Only the transport's
// goroutine calls it.
type Reader interface {
	// Next returns the oldest record not yet handed out, waiting until
	// there is one or ctx ends.
	Next(ctx context.Context) (Record, error)
	// TryNext is Next without waiting: ok is false when nothing waits.
	TryNext() (r Record, ok bool)
	// Done says what became of the oldest record handed out and not yet
	// done: taken by the server (err nil) or refused (err wraps
	// ErrRefused). Its memory is then the queue's again.
	Done(err error)
	// Rewind hands out again, from the oldest, the records handed out
	// and not yet done: after a failure, they are sent again in order.
	Rewind()
	// Failing says that delivery fails (err) or works again (nil), for
	// the output's health: called on each change.
	Failing(err error)
}

// Transport delivers the records of a queue to a server.
type Transport interface {
	// Run delivers records from q until ctx ends, then returns ctx's
	// error; it returns another error only when it cannot go on at all.
	// It reconnects by itself, with backoff, while the server is gone.
	Run(ctx context.Context, q Reader) error
	// Stats returns the transport's counters.
	Stats() TransportStats
	// Close releases the connection; Run must have returned.
	Close() error
}

// TransportStats are what a transport counts of its connection.
type TransportStats struct {
	// Retries counts sends tried again and failed connection attempts.
	Retries uint64
	// Reconnects counts connections made after the first.
	Reconnects uint64
	// Bytes counts the bytes the server took.
	Bytes uint64
}
