package watch

import (
	"context"
	"time"

	"github.com/ctwatch/ctwatch/internal/origins"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Source is what the loop reads events from: an *events.Subscriber, or a
// test's stand-in. Only the loop goroutine calls it.
type Source interface {
	// Receive empties b and reads into it what the source holds; with
	// wait, it first waits a bounded time (the subscriber's receive
	// timeout) for something to arrive, so that the loop's timers and its
	// stop are served.
	Receive(b *events.Batch, wait bool) error
	// ReceiveUntil is Receive that waits until deadline at most (the
	// zero time: no limit) for something to arrive; the loop waits so
	// until its next timer is due.
	ReceiveUntil(b *events.Batch, deadline time.Time) error
	// Wake ends the wait of a ReceiveUntil in progress, or of the next;
	// any goroutine may call it.
	Wake()
	// Stats returns the source's counters; the loop watches KernelDrops
	// and ENOBUFS for loss.
	Stats() events.Stats
	// ReadSize is the most messages one Receive returns: a read that
	// returns fewer found the source empty.
	ReadSize() int
	// BufferSize is the receive buffer granted, for the start record.
	BufferSize() int
}

var _ Source = (*events.Subscriber)(nil)

// DumpFunc lists the watched table, calling fn with each entry (an
// EventSnapshot, reused for the next entry) until fn returns false: the
// shape of events.DumpFiltered bound to a namespace. Every dump, the
// startup one, reconciliations and the health monitor's, goes through it.
// f is what the kernel may filter the dump on (the zero filter unless
// Config.KernelFilter): the watch matches every entry listed itself, so a
// stand-in may list more than f selects.
type DumpFunc func(ctx context.Context, f events.DumpFilter, fn func(*model.Event) bool) error

// OriginResolver names the process behind a netlink port id, for events a
// userspace request caused: an *origins.Resolver, or a test's stand-in.
type OriginResolver interface {
	// Resolve returns the pid and program name of the socket's owner
	// when an event from it arrived at time at (the event's Time), 0 and
	// "" when unknown.
	Resolve(portid uint32, at time.Time) (pid int32, program string)
	// Close releases what the resolver holds.
	Close() error
}

var _ OriginResolver = (*origins.Resolver)(nil)

// afterFunc is time.After's shape: the Watch holds one, so that a test can
// run out the shutdown flush's budget at once rather than wait it out.
type afterFunc func(time.Duration) <-chan time.Time
