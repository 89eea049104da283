package output

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/internal/spool"
)

// RemoteConfig configures a Remote.
type RemoteConfig struct {
	// QueueBytes bounds the memory queue (DefaultQueueBytes when 0).
	QueueBytes int
	// Spool, when not nil, is the output's disk queue instead of the
	// memory queue: records wait in it across a dead server and a
	// restart of ctwatch. The Remote closes it.
	Spool *spool.Spool
	// Now is the clock of the delivery lag (time.Now when nil).
	Now func() time.Time
}

// queue is a Remote's queue: in memory, or a spool. put is called by the
// watch loop; the Reader methods and done by the transport's goroutines,
// one at a time each; the rest by any goroutine.
type queue interface {
	// put queues r, or reports false when it was dropped for want of
	// room.
	put(r Record) bool
	// putWait is put waiting for room until ctx ends or stop is closed
	// (delivery ended), reporting false then.
	putWait(ctx context.Context, r Record, stop <-chan struct{}) bool
	Next(ctx context.Context) (Record, error)
	TryNext() (Record, bool)
	Rewind()
	// done frees the oldest record handed out.
	done()
	// stats returns the queue's state, read at once.
	stats() queueStats
	// stop ends the queue: it returns the records it held that are lost
	// with the process (a memory queue's; a spool keeps them).
	stop() (int, error)
}

// Remote is a remote output: a bounded queue that the watch loop fills
// without waiting, and one delivery goroutine that empties it into a
// Transport, in order, taking a record off the queue only once the
// transport has taken it.
type Remote struct {
	spec Spec
	tr   Transport
	q    queue
	now  func() time.Time

	cancel context.CancelFunc
	// exited is closed when the delivery goroutine returns; runErr says
	// why it did before ctx ended, if it did.
	exited chan struct{}
	runErr error

	// faults carries the changes of the output's health to the Set's
	// watcher. Owner: the Remote; never closed; it holds faultQueue
	// Faults and one that finds it full is dropped and counted.
	faults        chan sink.Fault
	faultsDropped atomic.Uint64
	// notify is what NotifyFaults was given.
	notify sink.Notify

	// failMu guards failErr, the health as last reported: the
	// transport's goroutines may report it.
	failMu  sync.Mutex
	failErr error
	// failing is failErr != nil, read without the lock on every record
	// done.
	failing   atomic.Bool
	lastErrno atomic.Uint32

	queued, delivered, refused, overflow atomic.Uint64
	lostAtStop                           atomic.Uint64
	// idle, on idleMu, is broadcast when a record is done while a Flush
	// waits (flushers counts them), and when delivery ends.
	idle     sync.Cond
	idleMu   sync.Mutex
	flushers atomic.Int32
}

// faultQueue is the capacity of a Remote's fault channel.
const faultQueue = 16

// NewRemote starts delivering to tr the records Put gives.
func NewRemote(spec Spec, tr Transport, cfg RemoteConfig) *Remote {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	var q queue = newMemQueue(cfg.QueueBytes, cfg.Now)
	if cfg.Spool != nil {
		q = newSpoolQueue(cfg.Spool)
	}
	r := &Remote{
		spec:   spec,
		tr:     tr,
		q:      q,
		now:    cfg.Now,
		cancel: cancel,
		exited: make(chan struct{}),
		faults: make(chan sink.Fault, faultQueue),
	}
	r.idle.L = &r.idleMu
	go func() {
		defer r.wake() // a Flush waiting sees that delivery ended
		defer close(r.exited)
		if err := tr.Run(ctx, (*remoteReader)(r)); err != nil && ctx.Err() == nil {
			r.runErr = err
			r.Failing(err)
		}
	}()
	return r
}

// Spec returns what the output was made from.
func (r *Remote) Spec() Spec { return r.spec }

// Put queues rec without waiting; a record that finds the queue full is
// dropped and counted, unless rec.Keep.
func (r *Remote) Put(rec Record) {
	if !r.q.put(rec) {
		r.overflow.Add(1)
		return
	}
	r.queued.Add(1)
}

// PutWait queues rec, waiting for room in a memory queue until ctx ends
// or delivery ends (a spool always has room: its bound drops its oldest
// records, counted). Without a spool, waiting means a dump goes at the
// pace the server takes records, bounded by ctx; a record still without
// room then is dropped and counted as by Put.
func (r *Remote) PutWait(ctx context.Context, rec Record) {
	if !r.q.putWait(ctx, rec, r.exited) {
		r.overflow.Add(1)
		return
	}
	r.queued.Add(1)
}

// Faults returns the output's health changes: a failure, a change of its
// errno, and recovery.
func (r *Remote) Faults() <-chan sink.Fault { return r.faults }

// NotifyFaults has f called after each health change is reported, as
// sink.Writer.NotifyFaults.
func (r *Remote) NotifyFaults(f func()) { r.notify.Set(f) }

// Flush waits until the queue is empty: every record put (and, with a
// spool, every one an earlier run left) delivered, refused or dropped; or
// ctx ends.
func (r *Remote) Flush(ctx context.Context) error {
	// Counted before the queue is looked at: a record done from then on
	// wakes the wait.
	r.flushers.Add(1)
	defer r.flushers.Add(-1)
	stop := context.AfterFunc(ctx, r.wake)
	defer stop()
	r.idleMu.Lock()
	defer r.idleMu.Unlock()
	for {
		if r.q.stats().queued == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-r.exited:
			return r.runErr
		default:
		}
		r.idle.Wait()
	}
}

// Close stops delivery, counts what is still queued as lost, and closes the
// transport. Flush first to give the queue its chance.
func (r *Remote) Close() error {
	r.cancel()
	<-r.exited
	n, err := r.q.stop()
	r.lostAtStop.Add(uint64(n))
	return errors.Join(err, r.tr.Close())
}

// Stats returns the output's counters.
func (r *Remote) Stats() Stats {
	qs := r.q.stats()
	ts := r.tr.Stats()
	st := Stats{
		Name:       r.spec.Name,
		Kind:       r.spec.Kind,
		Records:    r.delivered.Load(),
		Queued:     qs.queued,
		QueueBytes: qs.bytes,
		Overflow:   r.overflow.Load() + qs.dropped,
		Refused:    r.refused.Load(),
		Failed:     r.lostAtStop.Load() + qs.lost,
		Retries:    ts.Retries,
		Reconnects: ts.Reconnects,
		Bytes:      ts.Bytes,
		LastErrno:  syscall.Errno(r.lastErrno.Load()),
	}
	if !qs.oldest.IsZero() {
		st.Lag = max(0, r.now().Sub(qs.oldest))
	}
	st.Dropped = st.Overflow + st.Refused + st.Failed
	return st
}

// Failing implements Reader (through remoteReader): a change of health is
// a Fault.
func (r *Remote) Failing(err error) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	prev := r.failErr
	r.failErr = err
	r.failing.Store(err != nil)
	if err != nil {
		r.lastErrno.Store(uint32(errnoOf(err)))
	}
	switch {
	case err == nil && prev == nil:
		return
	case err == nil:
		r.fault(sink.Fault{Op: "send", Path: r.spec.Name, Lost: r.Stats().Dropped})
	case prev != nil && errnoOf(prev) == errnoOf(err):
		return // the same failure again
	default:
		r.fault(sink.Fault{Op: "send", Path: r.spec.Name, Err: err, Errno: errnoOf(err)})
	}
}

func (r *Remote) fault(f sink.Fault) {
	select {
	case r.faults <- f:
	default:
		r.faultsDropped.Add(1)
	}
	r.notify.Call()
}

func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

// remoteReader is the Remote as its transport's Reader: the queue, with
// the counting of what became of each record.
type remoteReader Remote

func (rr *remoteReader) Next(ctx context.Context) (Record, error) { return rr.q.Next(ctx) }
func (rr *remoteReader) TryNext() (Record, bool)                  { return rr.q.TryNext() }
func (rr *remoteReader) Rewind()                                  { rr.q.Rewind() }
func (rr *remoteReader) Failing(err error)                        { (*Remote)(rr).Failing(err) }

func (rr *remoteReader) Done(err error) {
	// Counted before the queue lets it go: a Flush that sees the queue
	// empty must find every record it held counted in Stats.
	if err != nil {
		rr.refused.Add(1)
	} else {
		rr.delivered.Add(1)
	}
	rr.q.done()
	if err == nil && rr.failing.Load() {
		(*Remote)(rr).Failing(nil)
	}
	if rr.flushers.Load() > 0 {
		(*Remote)(rr).wake()
	}
}

// wake wakes a waiting Flush.
func (r *Remote) wake() {
	r.idleMu.Lock()
	r.idle.Broadcast()
	r.idleMu.Unlock()
}
