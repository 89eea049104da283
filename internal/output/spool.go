package output

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctwatch/ctwatch/internal/spool"
)

// ackEvery is how many delivered records a spool's ack waits for (it is
// written sooner when nothing else is out): one pwrite per batch, not per
// record. A crash re-delivers at most that many, which JetStream's
// Nats-Msg-Id dedups.
const ackEvery = 256

// canceled is a context that is done: spool.Next with it takes only what
// the reader has read ahead, without waiting.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// spoolQueue is a Remote's queue on disk: records are appended to the
// spool by the watch loop, read back in order by the transport, and acked
// once it took them. What the transport has been handed and not yet
// taken is also in win, a copy: the spool's reader reuses its buffer,
// and a failed send must be able to go again (Rewind).
type spoolQueue struct {
	s   *spool.Spool
	win *memQueue

	// mu guards pos: the spool positions of win's records, in order.
	mu      sync.Mutex
	pos     []spool.Position
	pending int            // records done since the last ack
	last    spool.Position // of the last record done

	// appendErrs counts records the spool could not take; late counts
	// records delivered from the window after overflow had removed them
	// from the spool, which counted them as dropped.
	appendErrs, late atomic.Uint64
}

func newSpoolQueue(s *spool.Spool) *spoolQueue {
	return &spoolQueue{s: s, win: newMemQueue(0, time.Now)}
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

// OpenSpool opens (or creates) the spool of output sp under dir with cfg.
func OpenSpool(dir string, sp Spec, cfg spool.Config) (*spool.Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	return spool.Open(SpoolDir(dir, sp), cfg)
}

func (q *spoolQueue) put(r Record) bool {
	err := q.s.Append(spool.Record{Seq: r.Seq, Run: r.Run, Level: r.Level, Data: r.Data})
	if err != nil {
		q.appendErrs.Add(1)
	}
	return true // counted here when it failed, not as overflow
}

// take copies rec into the window and hands it out.
func (q *spoolQueue) take(rec spool.Record) Record {
	q.win.put(Record{Data: rec.Data, Seq: rec.Seq, Run: rec.Run, Level: rec.Level, Keep: true})
	q.mu.Lock()
	q.pos = append(q.pos, rec.Pos)
	q.mu.Unlock()
	r, _ := q.win.TryNext()
	return r
}

func (q *spoolQueue) Next(ctx context.Context) (Record, error) {
	if r, ok := q.win.TryNext(); ok {
		return r, nil // handed out again after a Rewind
	}
	rec, err := q.s.Next(ctx)
	if err != nil {
		return Record{}, err
	}
	return q.take(rec), nil
}

func (q *spoolQueue) TryNext() (Record, bool) {
	if r, ok := q.win.TryNext(); ok {
		return r, true
	}
	rec, err := q.s.Next(canceled)
	if err != nil {
		return Record{}, false
	}
	return q.take(rec), true
}

func (q *spoolQueue) Rewind() { q.win.Rewind() }

func (q *spoolQueue) done() {
	q.win.done()
	q.mu.Lock()
	if len(q.pos) == 0 {
		q.mu.Unlock()
		return
	}
	p := q.pos[0]
	q.pos = q.pos[1:]
	q.last = p
	q.pending++
	if q.s.Removed(p) {
		q.late.Add(1)
	}
	flush := q.pending >= ackEvery || len(q.pos) == 0
	if flush {
		q.pending = 0
	}
	q.mu.Unlock()
	if flush {
		// A failed ack only means records go again after a restart.
		_ = q.s.Ack(p)
	}
}

func (q *spoolQueue) depth() (int, time.Time) {
	st := q.s.Stats()
	return int(st.Queued), st.OldestTime
}

func (q *spoolQueue) queuedBytes() int { return int(q.s.Stats().Bytes) }

func (q *spoolQueue) lost() uint64 { return q.appendErrs.Load() + q.s.Stats().Lost }

func (q *spoolQueue) dropped() uint64 { return q.s.Stats().Dropped - q.late.Load() }

// stop acks what was delivered and closes the spool: what it holds stays
// for the next run.
func (q *spoolQueue) stop() (int, error) {
	q.mu.Lock()
	pending, last := q.pending, q.last
	q.mu.Unlock()
	var err error
	if pending > 0 {
		err = q.s.Ack(last)
	}
	return 0, errors.Join(err, q.s.Close())
}
