package output

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ctwatch/ctwatch/internal/spool"
)

// ackEvery is how many delivered records a spool's ack waits for (it is
// written sooner when nothing else is out): one pwrite per batch, not per
// record. A crash re-delivers at most that many, which JetStream's
// Nats-Msg-Id dedups.
const ackEvery = 256

// spoolQueue is a Remote's queue on disk: records are appended to the
// spool by the watch loop, read back in order by the transport (a record's
// bytes stay valid in the spool's reader until an ack covers it), and
// acked once it took them, in batches.
type spoolQueue struct {
	s *spool.Spool

	// mu guards what the transport's goroutines share: out, the spool
	// positions of the records handed out and not yet done, in order
	// (out[head:]); and acks, the positions of the records done since the
	// last ack.
	mu   sync.Mutex
	out  []spool.Position
	head int
	acks []spool.Position

	// appendErrs counts records the spool could not take; late counts
	// records delivered after overflow had removed them from the spool
	// before they were acked, which the spool counted as dropped.
	appendErrs, late atomic.Uint64
}

func newSpoolQueue(s *spool.Spool) *spoolQueue {
	return &spoolQueue{s: s, acks: make([]spool.Position, 0, ackEvery)}
}

// SpoolDir returns the directory of an output's spool under dir: the
// output's name with what a file name cannot hold replaced, so that the
// same --output finds its spool again after a restart.
func SpoolDir(dir string, sp Spec) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, sp.Raw)
	return filepath.Join(dir, name)
}

// OpenSpool opens (or creates, with its parents, through safefile) the
// spool of output sp under dir with cfg.
func OpenSpool(dir string, sp Spec, cfg spool.Config) (*spool.Spool, error) {
	return spool.Open(SpoolDir(dir, sp), cfg)
}

func (q *spoolQueue) put(r Record) bool {
	err := q.s.Append(spool.Record{Seq: r.Seq, Run: r.Run, Level: r.Level, Data: r.Data})
	if err != nil {
		q.appendErrs.Add(1)
	}
	return true // counted here when it failed, not as overflow
}

// putWait is put: a spool never refuses a record.
func (q *spoolQueue) putWait(_ context.Context, r Record, _ <-chan struct{}) bool {
	return q.put(r)
}

// handOut notes rec as handed out and returns it as a Record.
func (q *spoolQueue) handOut(rec spool.Record) Record {
	q.mu.Lock()
	q.out = append(q.out, rec.Pos)
	q.mu.Unlock()
	return Record{Data: rec.Data, Seq: rec.Seq, Run: rec.Run, Level: rec.Level}
}

func (q *spoolQueue) Next(ctx context.Context) (Record, error) {
	rec, err := q.s.Next(ctx)
	if err != nil {
		return Record{}, err
	}
	return q.handOut(rec), nil
}

func (q *spoolQueue) TryNext() (Record, bool) {
	// A read error is counted by the spool (Stats.Lost); what follows is
	// read at the next call.
	rec, ok, err := q.s.TryNext()
	if !ok || err != nil {
		return Record{}, false
	}
	return q.handOut(rec), true
}

// Rewind implements Reader: the spool hands out again what no ack covers,
// the records done since the last ack included, so they are acked now.
func (q *spoolQueue) Rewind() {
	q.ack()
	q.mu.Lock()
	q.out, q.head = q.out[:0], 0
	q.mu.Unlock()
	q.s.Rewind()
}

func (q *spoolQueue) done() {
	q.mu.Lock()
	if q.head == len(q.out) {
		q.mu.Unlock()
		return // nothing handed out: a transport's mistake, not a crash
	}
	q.acks = append(q.acks, q.out[q.head])
	if q.head++; q.head == len(q.out) {
		q.out, q.head = q.out[:0], 0
	}
	flush := len(q.acks) >= ackEvery || len(q.out) == 0
	q.mu.Unlock()
	if flush {
		q.ack()
	}
}

// ack acks the records done since the last ack. Those overflow removed
// meanwhile were counted as dropped by the spool, although delivered: they
// are counted late, before the ack, so that a removal racing it can only
// over-count a drop, never hide one.
func (q *spoolQueue) ack() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.acks) == 0 {
		return
	}
	for _, p := range q.acks {
		if q.s.Removed(p) {
			q.late.Add(1)
		}
	}
	// A failed ack only means records go again after a restart.
	_ = q.s.Ack(q.acks[len(q.acks)-1])
	q.acks = q.acks[:0]
}

func (q *spoolQueue) stats() queueStats {
	st := q.s.Stats()
	return queueStats{queued: int(st.Queued), bytes: int(st.Bytes), oldest: st.OldestTime,
		lost: q.appendErrs.Load() + st.Lost, dropped: st.Dropped - q.late.Load()}
}

// stop acks what was delivered and closes the spool: what it holds stays
// for the next run.
func (q *spoolQueue) stop() (int, error) {
	q.ack()
	return 0, q.s.Close()
}
