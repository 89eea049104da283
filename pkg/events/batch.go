package events

import (
	"sync"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Stats are a Subscriber's counters since it was created. Every message the
// kernel queued for the socket is either lost in the kernel (KernelDrops) or
// Received; every received message is either delivered in a Batch (as an
// event or a DecodeFailure) or counted in QueueDropped.
type Stats struct {
	// Received counts ctnetlink messages read from the socket.
	Received uint64
	// DecodeErrors counts received messages that could not be decoded
	// (delivered as a Batch's Failures).
	DecodeErrors uint64
	// QueueDropped counts received messages, events and failures, that
	// were dropped with their batch because the consumer's channel was
	// full.
	QueueDropped uint64
	// KernelDrops is the socket's drop counter (SK_MEMINFO_DROPS): events
	// the kernel could not queue because the receive buffer was full. It
	// is exact, and it is read from the socket when Stats is called.
	KernelDrops uint64
	// ENOBUFS counts ENOBUFS errors returned by reads. The subscriber sets
	// NETLINK_NO_ENOBUFS, so the kernel should never return one; losses
	// show up in KernelDrops instead.
	ENOBUFS uint64
}

// Batch is a run of events read in one go, in the order the kernel sent
// them.
type Batch struct {
	// Seq is the sequence number of Events[0]: the number of events this
	// Subscriber received before it, counting from 0. Events delivered in
	// later batches continue the numbering, so a consumer that sees Seq
	// jump knows how many events a dropped batch held. Failures take no
	// sequence number.
	Seq uint64
	// Events are the decoded events.
	Events []model.Event
	// Failures are the messages of this read that could not be decoded.
	Failures []DecodeFailure

	pool *sync.Pool
}

// DecodeFailure is a received message that could not be decoded.
type DecodeFailure struct {
	// Err says why.
	Err error
	// Raw is a copy of the whole netlink message, header included.
	Raw []byte
}

// Release hands the batch back for reuse once the consumer is done with it
// and everything it refers to (including its events' Labels). The batch
// must not be used afterwards.
func (b *Batch) Release() {
	if b == nil || b.pool == nil {
		return
	}
	b.Seq = 0
	b.Events = b.Events[:0]
	clear(b.Failures)
	b.Failures = b.Failures[:0]
	b.pool.Put(b)
}

// len returns the number of messages the batch holds.
func (b *Batch) len() int { return len(b.Events) + len(b.Failures) }
