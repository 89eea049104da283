package events

import "github.com/ctwatch/ctwatch/pkg/model"

// Stats are a Subscriber's counters since it was created. Every message the
// kernel had for the socket is either lost in the kernel (KernelDrops) or
// Received, and every received message is delivered in a Batch, as an event
// or a DecodeFailure.
type Stats struct {
	// Received counts ctnetlink messages read from the socket.
	Received uint64
	// Expects counts the expectation events delivered (in
	// Batch.Expects).
	Expects uint64
	// DecodeErrors counts received messages that could not be decoded
	// (delivered as a Batch's Failures).
	DecodeErrors uint64
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
// them. Receive reuses it from call to call, with its events' slots and
// their Labels' backing arrays: the caller copies what it keeps.
type Batch struct {
	// Seq is the sequence number of Events[0]: the number of events this
	// Subscriber delivered before it, counting from 0. Events delivered in
	// later batches continue the numbering. Failures take no sequence
	// number.
	Seq uint64
	// Events are the decoded events.
	Events []model.Event
	// Expects are the decoded expectation events (of a subscription to
	// ExpectTypes), in the order the kernel sent them; they take no
	// sequence number. Their slots are reused as Events' are.
	Expects []ExpectEvent
	// Failures are the messages of this read that could not be decoded.
	Failures []DecodeFailure
}

// ExpectEvent is an expectation event of a Batch, with its place among the
// batch's connection events: it is kept apart from them so that a
// connection event's slot does not grow by an expectation's three tuples.
type ExpectEvent struct {
	// At is the number of the batch's Events the kernel sent before this
	// one: it came between Events[At-1] and Events[At].
	At int
	model.ExpectEvent
}

// DecodeFailure is a received message that could not be decoded.
type DecodeFailure struct {
	// Err says why.
	Err error
	// Raw is a copy of the whole netlink message, header included.
	Raw []byte
}
