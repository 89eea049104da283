package output

import (
	"context"
	"sync"
	"time"
)

// DefaultQueueBytes bounds a remote output's memory queue by default.
const DefaultQueueBytes = 64 << 20

// chunkSize is the size of the arenas records are copied into, so that
// queueing a record allocates nothing once the arenas exist.
const chunkSize = 64 << 10

// freeChunks bounds the arenas kept for reuse; beyond, a drained queue
// gives its memory back.
const freeChunks = 16

// chunk is an arena of records' bytes, freed once every record in it is
// done.
type chunk struct {
	data []byte
	refs int
}

// qent is one queued record.
type qent struct {
	rec Record
	c   *chunk
	at  int64 // when it was queued, Unix nanoseconds
}

// memQueue is a remote output's queue when there is no spool: its records
// in memory, in order. It holds at most max bytes of records; a record
// that finds it full is dropped (and counted by the caller), except a kept
// one, which is queued beyond the bound. What is queued is never dropped
// for what comes later: a server back after an outage gets the oldest
// records first. Put is called by the watch loop, the Reader methods by
// the output's delivery goroutine; mu serialises them.
type memQueue struct {
	mu sync.Mutex
	// ents[head:] are queued, ents[head:cursor] handed out and not done.
	ents         []qent
	head, cursor int
	bytes, max   int
	cur          *chunk // the arena being filled
	free         []*chunk
	// avail holds one signal: a record was queued while the delivery
	// goroutine may be waiting. Owner: the queue; never closed; a full
	// channel already says it.
	avail chan struct{}
	// room holds one signal: a record was done, freeing room for a
	// putWait that may be waiting. Owner: the queue; never closed; a full
	// channel already says it.
	room chan struct{}
	now  func() time.Time
}

func newMemQueue(max int, now func() time.Time) *memQueue {
	if max <= 0 {
		max = DefaultQueueBytes
	}
	return &memQueue{max: max, avail: make(chan struct{}, 1), room: make(chan struct{}, 1), now: now}
}

// put copies r into the queue and reports whether there was room.
func (q *memQueue) put(r Record) bool {
	n := len(r.Data)
	q.mu.Lock()
	if q.bytes+n > q.max && !r.Keep {
		q.mu.Unlock()
		return false
	}
	c := q.cur
	if c == nil || len(c.data)+n > cap(c.data) {
		c = q.arena(n)
		q.cur = c
	}
	start := len(c.data)
	c.data = append(c.data, r.Data...)
	r.Data = c.data[start:len(c.data):len(c.data)]
	c.refs++
	q.ents = append(q.ents, qent{rec: r, c: c, at: q.now().UnixNano()})
	q.bytes += n
	q.mu.Unlock()
	select {
	case q.avail <- struct{}{}:
	default:
	}
	return true
}

// putWait is put waiting for room until ctx ends or stop is closed. A
// record larger than the whole bound waits for the queue to empty, and
// is then queued beyond the bound.
func (q *memQueue) putWait(ctx context.Context, r Record, stop <-chan struct{}) bool {
	for {
		if q.put(r) {
			return true
		}
		q.mu.Lock()
		empty := len(q.ents) == q.head
		q.mu.Unlock()
		if empty {
			r.Keep = true
			return q.put(r)
		}
		select {
		case <-q.room:
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// arena returns an empty arena for at least n bytes. Call with mu held.
func (q *memQueue) arena(n int) *chunk {
	if n <= chunkSize {
		if k := len(q.free); k > 0 {
			c := q.free[k-1]
			q.free = q.free[:k-1]
			return c
		}
		return &chunk{data: make([]byte, 0, chunkSize)}
	}
	return &chunk{data: make([]byte, 0, n)} // a large record's own
}

// TryNext implements Reader.
func (q *memQueue) TryNext() (Record, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cursor >= len(q.ents) {
		return Record{}, false
	}
	r := q.ents[q.cursor].rec
	q.cursor++
	return r, true
}

// Next implements Reader.
func (q *memQueue) Next(ctx context.Context) (Record, error) {
	for {
		if r, ok := q.TryNext(); ok {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-q.avail:
		}
	}
}

// done frees the oldest record handed out.
func (q *memQueue) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head >= q.cursor {
		return // nothing handed out: a transport's mistake, not a crash
	}
	e := &q.ents[q.head]
	q.bytes -= len(e.rec.Data)
	if e.c.refs--; e.c.refs == 0 {
		q.release(e.c)
	}
	*e = qent{}
	q.head++
	select {
	case q.room <- struct{}{}:
	default:
	}
	switch {
	case q.head == len(q.ents):
		q.ents, q.head, q.cursor = q.ents[:0], 0, 0
	case q.head >= 4096 && q.head*2 >= len(q.ents):
		k := copy(q.ents, q.ents[q.head:])
		clear(q.ents[k:])
		q.ents = q.ents[:k]
		q.cursor -= q.head
		q.head = 0
	}
}

// release takes back an arena none of whose records is queued any more.
// Call with mu held.
func (q *memQueue) release(c *chunk) {
	if c == q.cur {
		c.data = c.data[:0] // still being filled: start it again
		return
	}
	if cap(c.data) == chunkSize && len(q.free) < freeChunks {
		c.data = c.data[:0]
		q.free = append(q.free, c)
	}
}

// Rewind implements Reader.
func (q *memQueue) Rewind() {
	q.mu.Lock()
	q.cursor = q.head
	q.mu.Unlock()
}

// queueStats is a queue's state.
type queueStats struct {
	// queued records of bytes bytes wait, the oldest since oldest (zero
	// when none).
	queued, bytes int
	oldest        time.Time
	// lost counts records the queue itself lost (a spool's write errors
	// and corruption), dropped those its bound removed after queueing
	// them (a spool drops its oldest; a memory queue refuses in put).
	lost, dropped uint64
}

func (q *memQueue) stats() queueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := queueStats{queued: len(q.ents) - q.head, bytes: q.bytes}
	if st.queued > 0 {
		st.oldest = time.Unix(0, q.ents[q.head].at)
	}
	return st
}

// stop empties the queue and returns how many records it held: at stop,
// what a memory queue could not deliver is lost.
func (q *memQueue) stop() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.ents) - q.head
	clear(q.ents)
	q.ents, q.head, q.cursor, q.bytes = q.ents[:0], 0, 0, 0
	q.cur, q.free = nil, nil
	return n, nil
}
