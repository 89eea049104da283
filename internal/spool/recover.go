package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/internal/safefile"
)

// errShortHeader is wrapped by the CorruptError of a segment file too
// short to hold its header.
var errShortHeader = errors.New("shorter than a segment header")

// ackName and lockName are the spool directory's other files.
const (
	ackName  = "ack"
	lockName = "lock"
)

// CorruptError describes a place where a spool file is not what the
// spool wrote: Open and Next log it, and count the records it cost.
type CorruptError struct {
	// Path and Offset name the file and where in it the damage begins.
	Path   string
	Offset int64
	// Lost is how many records are lost because of it, when known (a
	// removed segment's records are counted in the Lost of the segment
	// before it).
	Lost uint64
	// Err says what is wrong.
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool file %s: offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

func (s *Spool) openAck() error {
	path := filepath.Join(s.dir, ackName)
	f, err := safefile.OpenFile(path, os.O_RDWR|os.O_CREATE, safefile.Options{})
	if err != nil {
		return fmt.Errorf("spool: open ack file: %w", err)
	}
	s.ackf = f
	b := make([]byte, 2*ackSlot)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("spool: read ack file %s: %w", path, err)
	}
	b = b[:n]
	var found int
	for i := 0; i+ackSlot <= len(b); i += ackSlot {
		if a, ok := decodeAck(b[i:]); ok {
			found++
			if a.gen > s.ack.gen {
				s.ack = a
			}
		}
	}
	if n > 0 && found == 0 {
		s.cfg.Log.Warn().Str("file", path).Int("bytes", n).
			Msg("spool: no valid ack in the ack file; every record in the spool is delivered again")
	}
	return nil
}

// damage is a corrupt segment found by recover.
type damage struct {
	g    *segment
	cerr *CorruptError
}

// recover reads the segment files: every frame's CRC is checked, so the
// counts are exact and the reader never meets a frame recovery did not.
func (s *Spool) recover() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var nums []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || n == 0 {
			continue // not ours
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	hasAck := s.ack.gen != 0
	if hasAck {
		s.nextSeg = s.ack.pos.seg + 1
		s.nextIndex = s.ack.pos.index
	}
	buf := bufio.NewReaderSize(nil, 1<<20)
	var (
		base      uint64
		baseKnown bool
		prev      *segment
		damaged   []damage // logged once the next segment says how many records they cost
	)
	for i, n := range nums {
		path := s.segPath(n)
		last := i == len(nums)-1
		if hasAck && n < s.ack.pos.seg {
			// Delivered: the process died between the ack and the removal.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: remove delivered segment: %w", err)
			}
			continue
		}
		s.nextSeg = max(s.nextSeg, n+1)
		g, cerr, err := s.scan(path, n, last, buf)
		if err != nil {
			return err
		}
		if g != nil && prev != nil && g.hdr.first < prev.next() {
			// Numbered before the end of the segment before it: one of
			// the two headers is wrong, and the older one is kept.
			g.f.Close()
			g, cerr = nil, &CorruptError{Path: path, Err: fmt.Errorf("first index %d is before the end %d of the segment before", g.hdr.first, prev.next())}
		}
		if g == nil && last && errors.Is(cerr, errShortHeader) {
			// A crash while the segment was being created: it holds no
			// record, and is a torn tail like any other.
			s.st.Torn++
			if fi, err := os.Stat(path); err == nil {
				s.st.TornBytes += fi.Size()
			}
			s.cfg.Log.Warn().Str("file", path).Int64("offset", 0).Err(cerr.Err).Msg("spool: torn tail (a segment without its header) removed")
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: remove segment: %w", err)
			}
			continue
		}
		if g == nil {
			// No usable header: a damaged segment, whose records the gap
			// between its neighbours counts.
			s.cfg.Log.Warn().Str("file", path).Int64("offset", cerr.Offset).Err(cerr.Err).
				Msg("spool: segment without a valid header removed")
			s.damage = append(s.damage, cerr)
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: remove segment: %w", err)
			}
			if !baseKnown && hasAck {
				base, baseKnown = s.ack.pos.index, true
			}
			continue
		}
		if !baseKnown {
			base, baseKnown = g.hdr.first, true
			if hasAck {
				base = max(base, s.ack.pos.index)
			}
		}
		if prev != nil && g.hdr.first > prev.hdr.first+prev.valid {
			prev.lost = g.hdr.first - prev.hdr.first - prev.valid
		}
		if cerr != nil {
			damaged = append(damaged, damage{g, cerr})
		}
		s.segs = append(s.segs, g)
		s.bytes += g.end
		s.nextIndex = max(s.nextIndex, g.next())
		prev = g
	}
	for _, d := range damaged {
		d.cerr.Lost = d.g.lost
		s.damage = append(s.damage, d.cerr)
		s.cfg.Log.Warn().Str("file", d.cerr.Path).Int64("offset", d.cerr.Offset).Uint64("records_lost", d.g.lost).Err(d.cerr.Err).
			Msg("spool: corrupt segment: its records from this offset on are lost")
	}
	if len(s.segs) > 0 {
		s.oldest.Store(s.segs[0].hdr.first)
	} else {
		s.oldest.Store(s.nextIndex)
	}
	if !baseKnown || base > s.nextIndex {
		base = s.nextIndex
	}
	s.st.Recovered = s.nextIndex - base
	var queued uint64
	for _, g := range s.segs {
		queued += g.count(s.ack.pos.index, g.limit())
	}
	s.st.Lost = s.st.Recovered - min(queued, s.st.Recovered)
	s.st.Recovered = max(s.st.Recovered, queued)
	if s.st.Lost > 0 {
		s.cfg.Log.Warn().Uint64("records", s.st.Lost).Str("dir", s.dir).
			Msg("spool: undelivered records lost to corruption")
	}
	return nil
}

// scan reads segment n at path, checking every frame. It returns the
// segment (nil when its header is unusable) and, for damage, a
// CorruptError. The last segment's damaged end is a torn tail: it is
// truncated and counted. The segment's file is left open, read-only (a
// recovered segment is never appended to: the writer begins a new one).
func (s *Spool) scan(path string, n uint64, last bool, br *bufio.Reader) (*segment, *CorruptError, error) {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := safefile.OpenFile(path, flag, safefile.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("spool: open segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	size := fi.Size()
	br.Reset(io.NewSectionReader(f, 0, size))
	hb, _ := br.Peek(hdrFixed + maxRunLen)
	h, err := decodeSegHeader(hb)
	if err == nil && h.number != n {
		err = fmt.Errorf("header names segment %d", h.number)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, errShort) {
			err = fmt.Errorf("%w (%d bytes)", errShortHeader, size)
		}
		return nil, &CorruptError{Path: path, Err: err}, nil
	}
	g := &segment{hdr: h, path: path, f: f, end: h.size()}
	br.Discard(int(h.size()))
	var (
		cerr    *CorruptError
		scratch = make([]byte, frameHeader, 64<<10)
	)
	for {
		scratch = scratch[:frameHeader]
		m, err := io.ReadFull(br, scratch)
		if m == 0 && errors.Is(err, io.EOF) {
			break // the end, on a frame boundary
		}
		if err == nil {
			n := int(binary.LittleEndian.Uint32(scratch[4:]))
			if n > maxRecordLimit {
				err = fmt.Errorf("record length %d is above the limit %d", n, maxRecordLimit)
			} else {
				scratch = slices.Grow(scratch, n)[:frameHeader+n]
				_, err = io.ReadFull(br, scratch[frameHeader:])
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("frame cut short by the end of the file (%d bytes left)", size-g.end)
		}
		var fr frame
		if err == nil {
			fr, _, err = decodeFrame(scratch, maxRecordLimit)
		}
		if err != nil {
			cerr = &CorruptError{Path: path, Offset: g.end, Err: err}
			break
		}
		if g.valid == 0 {
			g.firstSeq = fr.seq
		}
		g.lastSeq = fr.seq
		g.valid++
		g.end += int64(len(scratch))
	}
	if cerr != nil && last {
		// A torn tail: a write the crash cut short. Nothing after it was
		// acknowledged by Append (it is the last thing written), so it
		// is taken away, not counted as lost records.
		torn := size - g.end
		s.st.Torn++
		s.st.TornBytes += torn
		s.cfg.Log.Warn().Str("file", path).Int64("offset", g.end).Int64("bytes", torn).Err(cerr.Err).
			Msg("spool: torn tail truncated")
		if err := f.Truncate(g.end); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("spool: truncate torn tail of %s at offset %d: %w", path, g.end, err)
		}
		cerr = nil
	}
	return g, cerr, nil
}

// Damage returns what Open found damaged (torn tails aside, which are
// counted in [Stats.Torn]), in file order, for the caller to report. It
// does not change after Open; any goroutine may call it.
func (s *Spool) Damage() []*CorruptError { return s.damage }
