package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// readChunk is how much the reader reads with one pread.
const readChunk = 256 << 10

// reader is the reader goroutine's state: where it is and what it has
// read ahead.
type reader struct {
	pos  Position // after the last record Next returned
	seg  *segment // the segment pos.seg names, nil until found
	buf  []byte   // bytes of seg from bufOff on
	boff int64
	abuf []byte // the ack slot being written
}

func (r *reader) init(s *Spool) {
	r.pos = s.ack.pos
	r.buf = make([]byte, 0, readChunk)
	r.abuf = make([]byte, 0, ackSlot)
}

// Next returns the next record in order, waiting until one is appended
// or ctx is done (then it returns ctx.Err()). The record's Data is valid
// until the next call of Next. A record is returned again after a
// restart unless an Ack covering it returned first. Records found
// corrupt are skipped and counted in [Stats.Lost], never returned. Only
// the reader goroutine calls Next.
func (s *Spool) Next(ctx context.Context) (Record, error) {
	r := &s.rd
	for {
		if r.seg != nil && r.pos.index >= s.oldest.Load() {
			if i := r.pos.off - r.boff; i >= 0 && i < int64(len(r.buf)) {
				fr, n, err := decodeFrame(r.buf[i:], maxRecordLimit)
				if err == nil {
					r.pos.off += int64(n)
					r.pos.index++
					return Record{
						Seq:   fr.seq,
						Run:   r.seg.hdr.run,
						Level: zerolog.Level(fr.level),
						Data:  fr.data,
						Time:  time.Unix(0, fr.unixnano),
						Pos:   r.pos,
					}, nil
				}
				if !errors.Is(err, errShort) {
					s.cut(r.seg, r.pos, err)
				}
			}
		}
		ok, err := s.refill(ctx)
		if err != nil {
			return Record{}, err
		}
		if !ok {
			select {
			case <-s.notify:
			case <-ctx.Done():
				return Record{}, ctx.Err()
			}
		}
	}
}

// refill finds the reader's segment and reads what it has past the
// buffer. It reports false when there is nothing to read yet.
func (s *Spool) refill(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r := &s.rd
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, ErrClosed
	}
	g := r.seg
	if g == nil || g.removed || r.pos.index < s.oldest.Load() {
		g = nil
		for _, c := range s.segs {
			if c.hdr.number >= r.pos.seg {
				g = c
				break
			}
		}
		if g == nil {
			s.mu.Unlock()
			return false, nil
		}
		if g.hdr.number != r.pos.seg || r.pos.index < g.hdr.first || r.pos.off < g.hdr.size() {
			r.pos = Position{seg: g.hdr.number, off: g.hdr.size(), index: g.hdr.first}
		}
		r.seg, r.buf = g, r.buf[:0]
	}
	end, cut := g.end, g.cut != 0 && r.pos.index >= g.cut
	last := s.segs[len(s.segs)-1] == g
	var next *segment
	if !last {
		for _, c := range s.segs {
			if c.hdr.number > g.hdr.number {
				next = c
				break
			}
		}
	}
	s.mu.Unlock()

	if !cut && r.pos.off < end {
		// The unread bytes of the buffer move to its start, and the
		// rest is read after them.
		have := int64(0)
		if i := r.pos.off - r.boff; i >= 0 && i < int64(len(r.buf)) {
			have = int64(copy(r.buf, r.buf[i:]))
		}
		want := min(end-r.pos.off, int64(max(cap(r.buf), readChunk)))
		if have == want && want == int64(cap(r.buf)) {
			// A frame larger than the buffer.
			want = min(end-r.pos.off, 2*int64(cap(r.buf)))
		}
		if int64(cap(r.buf)) < want {
			nb := make([]byte, have, want)
			copy(nb, r.buf[:have])
			r.buf = nb
		}
		r.buf = r.buf[:want]
		r.boff = r.pos.off
		n, err := g.f.ReadAt(r.buf[have:], r.pos.off+have)
		r.buf = r.buf[:have+int64(n)]
		if n == 0 && errors.Is(err, io.EOF) {
			// Shorter than what was written to it: cut by someone else.
			s.cut(g, r.pos, fmt.Errorf("file ends before offset %d, the end of what was appended", end))
			return true, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, os.ErrClosed) {
				return true, nil // removed under us: the next refill sees it
			}
			return false, fmt.Errorf("spool: read %s at offset %d: %w", g.path, r.pos.off+have, err)
		}
		return true, nil
	}
	if next != nil {
		// The segment is done (sealed, or cut by corruption): the next
		// one begins where its header ends.
		r.seg, r.buf = next, r.buf[:0]
		r.pos = Position{seg: next.hdr.number, off: next.hdr.size(), index: next.hdr.first}
		return true, nil
	}
	return false, nil
}

// cut records that g is corrupt at p: its records from there on are
// lost, and the writer leaves it if it is the tail.
func (s *Spool) cut(g *segment, p Position, err error) {
	s.mu.Lock()
	if g.cut == 0 || p.index < g.cut {
		lim := g.limit()
		g.cut = p.index
		if lim > p.index {
			s.st.Lost += lim - p.index
		}
	}
	s.mu.Unlock()
	s.cfg.Log.Warn().Err(&CorruptError{Path: g.path, Offset: p.off, Err: err}).
		Msg("spool: corrupt record: the rest of the segment is lost")
}

// Ack marks every record up to and including the one at p delivered
// (p is a [Record.Pos] from Next) and persists that with one pwrite of
// the ack file: after a restart, Next resumes after p. Segments wholly
// delivered are deleted. Acking a position at or before an earlier ack
// does nothing. Ack is called by one goroutine at a time: the reader's,
// or the one that learns what the output took (a JetStream publisher's
// acknowledgements), concurrently with Next.
func (s *Spool) Ack(p Position) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if p.index <= s.ack.pos.index {
		s.mu.Unlock()
		return nil
	}
	from := s.ack.pos.index
	var done []*segment
	keep := 0
	for i, g := range s.segs {
		s.st.Delivered += g.count(from, p.index)
		// The tail stays: it is appended to, and holds the numbering.
		if i < len(s.segs)-1 && (g.hdr.number < p.seg || g.hdr.number == p.seg && p.index >= g.limit()) {
			g.removed = true
			s.bytes -= g.end
			done = append(done, g)
		} else {
			s.segs[keep] = g
			keep++
		}
	}
	clear(s.segs[keep:])
	s.segs = s.segs[:keep]
	s.ack = ackState{gen: s.ack.gen + 1, pos: p}
	a := s.ack
	s.mu.Unlock()

	r := &s.rd
	r.abuf = a.appendTo(r.abuf[:0])
	if _, err := s.ackf.WriteAt(r.abuf, int64(a.gen%2)*ackSlot); err != nil {
		return fmt.Errorf("spool: write ack file %s: %w", s.ackf.Name(), err)
	}
	for _, g := range done {
		s.removeFile(g)
	}
	return nil
}
