package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of [Config].
const (
	// DefaultMaxBytes is the bound of a spool's files, --spool-max-bytes.
	DefaultMaxBytes = 1 << 30
	// DefaultSegmentBytes is the size of a segment file: the unit in
	// which delivered and overflowing records leave the disk.
	DefaultSegmentBytes = 64 << 20
	// DefaultMaxRecordBytes bounds one record's data unless
	// [Config.MaxRecordBytes] says otherwise.
	DefaultMaxRecordBytes = 1 << 20
	// maxRecordLimit is the largest record length recovery accepts
	// whatever the configuration; a larger length is corruption.
	maxRecordLimit = 64 << 20
	// minSegmentBytes keeps segments large enough to hold a header and
	// a few records.
	minSegmentBytes = 4 << 10
	// maxSegments bounds the open segment files: SegmentBytes is raised
	// to MaxBytes/maxSegments when it is smaller.
	maxSegments = 64
)

// ErrTooLarge is wrapped by Append's error for a record whose data is
// longer than [Config.MaxRecordBytes]; nothing is written.
var ErrTooLarge = errors.New("record is larger than the spool's limit")

// ErrLocked is wrapped by Open's error when another process (or another
// Spool in this one) holds the directory.
var ErrLocked = errors.New("spool is in use by another process")

// ErrClosed is returned by methods of a closed Spool.
var ErrClosed = errors.New("spool is closed")

// Record is one record in the spool.
type Record struct {
	// Seq is the record's sequence number, unique per run.
	Seq uint64
	// Run is the run id (a UUID) of the run that wrote the record; a
	// record replayed after a restart keeps the id of its own run. At
	// most 255 bytes.
	Run string
	// Level is the record's zerolog level (the syslog severity).
	Level zerolog.Level
	// Data is the JSON line as the encoder wrote it. Append copies it;
	// from Next it aliases the reader's buffer and stays valid until an
	// Ack covers the record or Rewind is called.
	Data []byte
	// Time is when the record was appended (set by Append from
	// [Config.Now]; ignored in Append's argument).
	Time time.Time
	// Pos is the record's position, set by Next: [Spool.Ack] of it marks
	// this record and every one before it delivered.
	Pos Position
}

// Position is a place in the spool: the end of one record. Positions of
// one spool only grow, across restarts too. The zero Position is before
// every record.
type Position struct {
	seg   uint64 // segment number
	off   int64  // offset just after the record in its segment file
	index uint64 // index of the next record: the spool's records are numbered from 0
}

// Index is the number of records before this position in the spool's
// life (counting records since acked, dropped and lost).
func (p Position) Index() uint64 { return p.index }

// Drop describes records removed by overflow before they were
// delivered.
type Drop struct {
	// Records is how many records were dropped.
	Records uint64
	// FirstSeq and LastSeq are the Seq of the first and the last of them
	// (their seqs need not be contiguous: a spool may hold several runs).
	FirstSeq, LastSeq uint64
}

// Config configures a Spool. The zero Config is valid.
type Config struct {
	// MaxBytes bounds the spool's files (headers and framing
	// included): when an append would exceed it, the oldest segments are
	// removed, their undelivered records counted in [Stats.Dropped] and
	// reported to OnDrop. Default DefaultMaxBytes (1 GiB). It must be at
	// least twice SegmentBytes (SegmentBytes is lowered to fit).
	MaxBytes int64
	// SegmentBytes is the size at which a segment file is closed and a
	// new one begun: the unit of deletion after ack and of overflow.
	// Default the smaller of DefaultSegmentBytes and MaxBytes/8, raised
	// to MaxBytes/64 so that at most about 64 files are open.
	SegmentBytes int64
	// MaxRecordBytes bounds a record's Data (default
	// DefaultMaxRecordBytes, at most what a segment holds).
	MaxRecordBytes int
	// SyncInterval, when positive, makes Append fdatasync the segment it
	// wrote to when the last sync is older than this (and sync the
	// directory after creating a segment), so that a power loss loses at
	// most about that much. The last records of a burst, which no later
	// Append syncs, are synced by the spool's idle sync, about one
	// interval after the last sync. Zero never syncs: every appended
	// record survives a crash of the process, not of the machine.
	SyncInterval time.Duration
	// Now is the clock records are stamped with (default time.Now).
	Now func() time.Time
	// OnDrop, when set, is called by Append, on the writer's goroutine
	// and with the spool locked (it must not call the Spool), for every
	// segment whose undelivered records overflow removed.
	OnDrop func(Drop)
	// Log receives what recovery found (torn tails, corrupt segments,
	// an unreadable ack) and read errors, each naming the file and the
	// offset. The zero Logger logs nothing.
	Log zerolog.Logger
}

// Stats is a snapshot of a spool's counters. Recovered + Appended =
// Delivered + Dropped + Lost + Queued holds at every snapshot.
type Stats struct {
	// Bytes is the size of the spool's segment files.
	Bytes int64
	// Segments is the number of segment files.
	Segments int
	// Queued is the number of records not yet delivered (acked).
	Queued uint64
	// Recovered is the number of undelivered records Open found, those
	// since lost to corruption included.
	Recovered uint64
	// Appended counts records appended since Open.
	Appended uint64
	// Delivered counts records acked since Open.
	Delivered uint64
	// Dropped counts undelivered records removed by overflow.
	Dropped uint64
	// Lost counts undelivered records that corruption made unreadable.
	Lost uint64
	// Torn counts torn tails Open truncated (writes a crash of the
	// machine cut short: Append had not returned for them, or had
	// without a sync), TornBytes their size.
	Torn, TornBytes int64
	// Syncs counts the fdatasyncs of segments (by Append, Sync and the
	// idle sync); Unsynced is the number of records appended since the
	// last one.
	Syncs, Unsynced uint64
	// OldestSeq and OldestTime are the Seq and the append time of the
	// oldest queued record (zero when nothing is queued): the delivery
	// lag is now minus OldestTime.
	OldestSeq  uint64
	OldestTime time.Time
}

// segment is one segment file. Its fields other than f and hdr are
// guarded by Spool.mu.
type segment struct {
	hdr  segHeader
	path string
	f    *os.File // read-write for the tail, read-only otherwise
	// end is the committed end: the header and whole frames lie before
	// it, and readers read no further.
	end int64
	// valid is the number of frames before end.
	valid uint64
	// lost is the number of records lost after the valid ones (a corrupt
	// region Open found); the next segment starts at first+valid+lost.
	lost uint64
	// cut, when not zero, is the index from which the reader found the
	// segment corrupt: records from there on are lost.
	cut      uint64
	firstSeq uint64
	lastSeq  uint64
	removed  bool
}

// limit is the index after the last deliverable record.
func (g *segment) limit() uint64 {
	l := g.hdr.first + g.valid
	if g.cut != 0 && g.cut < l {
		return g.cut
	}
	return l
}

// next is the index of the next segment's first record.
func (g *segment) next() uint64 { return g.hdr.first + g.valid + g.lost }

// count is the number of deliverable records of g in [lo, hi).
func (g *segment) count(lo, hi uint64) uint64 {
	lo = max(lo, g.hdr.first)
	hi = min(hi, g.limit())
	if hi <= lo {
		return 0
	}
	return hi - lo
}

// Spool is an append-only queue of records on disk, for one output.
//
// Goroutines: one writer goroutine calls Append and Sync (with
// SyncInterval, the spool's idle sync, a timer's goroutine, is a writer
// too: wmu makes the two one at a time); one reader goroutine
// (the output's) calls Next, TryNext and Rewind; one goroutine at a time calls Ack, the
// reader's or another; Stats and Damage may be called from any
// goroutine; Close is called once, after all of them have stopped.
type Spool struct {
	dir  string
	cfg  Config
	lock *os.File
	ackf *os.File // owned by Ack's goroutine

	// Writer-owned: taken by Append, Sync and the idle sync with wmu held.
	wmu      sync.Mutex
	tail     *segment
	wbuf     []byte
	lastSync time.Time // real time, whatever Config.Now says
	// idle is the idle sync's timer, armed (idleArmed) by an Append that
	// leaves records unsynced; nil without SyncInterval.
	idle      *time.Timer
	idleArmed bool

	// Reader-owned.
	rd reader

	notify chan struct{} // cap 1: a token means "something was appended"; Append never waits on it

	// oldest is the first index not yet removed by overflow, so that the
	// reader notices a drop without taking the lock.
	oldest atomic.Uint64

	mu        sync.Mutex
	segs      []*segment // oldest first; the last is the one appended to
	ack       ackState
	nextIndex uint64 // index of the next appended record
	nextSeg   uint64 // number of the next segment file
	bytes     int64
	st        Stats // counters; Bytes, Segments, Queued and Oldest* are computed
	closed    bool

	damage []*CorruptError // what Open found; read-only after Open
}

// Open opens the spool in dir, creating the directory (mode 0750) when
// it is missing, and recovers what an earlier process left there: torn
// tails are truncated and counted, corrupt segments skipped with their
// records counted as lost (each logged with its file and offset), and
// the reader resumes after the last persisted ack. Only one Spool may
// have dir open: a second gets an error wrapping [ErrLocked].
func Open(dir string, cfg Config) (*Spool, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = min(DefaultSegmentBytes, cfg.MaxBytes/8)
	}
	cfg.SegmentBytes = max(cfg.SegmentBytes, cfg.MaxBytes/maxSegments, minSegmentBytes)
	if cfg.MaxBytes < 2*cfg.SegmentBytes {
		return nil, fmt.Errorf("spool %s: max bytes %d is less than two segments of %d bytes", dir, cfg.MaxBytes, cfg.SegmentBytes)
	}
	room := int(cfg.SegmentBytes) - hdrFixed - maxRunLen - frameHeader
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = DefaultMaxRecordBytes
	}
	cfg.MaxRecordBytes = min(cfg.MaxRecordBytes, room, maxRecordLimit)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Spool{dir: dir, cfg: cfg, notify: make(chan struct{}, 1), nextSeg: 1}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if cfg.SyncInterval > 0 {
		s.idle = time.AfterFunc(time.Hour, s.idleSync)
		s.idle.Stop()
	}
	return s, nil
}

func (s *Spool) open() error {
	var err error
	if s.lock, err = lockDir(s.dir); err != nil {
		return err
	}
	if err := s.openAck(); err != nil {
		return err
	}
	if err := s.recover(); err != nil {
		return err
	}
	s.rd.init(s)
	return nil
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

func (s *Spool) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%0*d%s", segNameLen, n, segSuffix))
}

// Append adds r to the spool with one write(2), and returns once the
// record is in the kernel's page cache: from then on a crash of the
// process cannot lose it. Append never waits for the reader. When the
// record would take the spool above MaxBytes, the oldest segments are
// removed first, their undelivered records counted as dropped (and
// reported to OnDrop). Append does wait for the disk when the kernel
// throttles writers (dirty pages piling up on a slow disk). Only the
// writer goroutine calls Append.
func (s *Spool) Append(r Record) error {
	if len(r.Data) > s.cfg.MaxRecordBytes {
		return fmt.Errorf("spool %s: record seq %d of %d bytes: %w (%d)", s.dir, r.Seq, len(r.Data), ErrTooLarge, s.cfg.MaxRecordBytes)
	}
	if len(r.Run) > maxRunLen {
		return fmt.Errorf("spool %s: record seq %d: run id of %d bytes is longer than %d", s.dir, r.Seq, len(r.Run), maxRunLen)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.cfg.Now()
	s.wbuf = appendFrame(s.wbuf[:0], &r, now.UnixNano())
	n := int64(len(s.wbuf))

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	rotate := s.tail == nil || s.tail.cut != 0 || s.tail.hdr.run != r.Run || s.tail.end+n > s.cfg.SegmentBytes
	s.mu.Unlock()
	if rotate {
		if err := s.rotate(r.Run); err != nil {
			return err
		}
	}
	var drops []*segment
	s.mu.Lock()
	for s.bytes+n > s.cfg.MaxBytes && len(s.segs) > 1 {
		drops = append(drops, s.dropOldest())
	}
	s.mu.Unlock()
	for _, g := range drops {
		s.removeFile(g)
	}

	t := s.tail
	if _, err := t.f.WriteAt(s.wbuf, t.end); err != nil {
		// Whatever part was written lies past the committed end, where
		// no reader looks; take it back so that recovery does not see a
		// torn frame in the middle of the spool.
		if terr := t.f.Truncate(t.end); terr != nil {
			s.mu.Lock()
			s.tail = nil // the next Append begins a new segment
			s.mu.Unlock()
		}
		return fmt.Errorf("spool: append record seq %d to %s at offset %d: %w", r.Seq, t.path, t.end, err)
	}
	s.mu.Lock()
	t.end += n
	t.valid++
	s.nextIndex++
	s.bytes += n
	s.st.Appended++
	s.st.Unsynced++
	if t.valid == 1 {
		t.firstSeq = r.Seq
	}
	t.lastSeq = r.Seq
	if t.cut != 0 {
		s.st.Lost++ // the reader already gave up on this segment
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if s.cfg.SyncInterval <= 0 {
		return nil
	}
	if time.Since(s.lastSync) >= s.cfg.SyncInterval {
		return s.syncLocked()
	}
	if !s.idleArmed {
		// Should no Append come before the interval is up, the idle
		// sync takes these records to the disk.
		s.idleArmed = true
		s.idle.Reset(time.Until(s.lastSync.Add(s.cfg.SyncInterval)))
	}
	return nil
}

// Sync writes what was appended to the disk (fdatasync of the segment
// appended to), so that a power loss cannot lose it; with nothing
// appended since the last sync it does nothing. Only the writer goroutine
// calls it; with [Config.SyncInterval], Append and the idle sync do it by
// themselves.
func (s *Spool) Sync() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.syncLocked()
}

// syncLocked syncs the tail when records were appended since the last
// sync. wmu is held.
func (s *Spool) syncLocked() error {
	t := s.tail
	if t == nil || s.unsynced() == 0 {
		return nil
	}
	s.lastSync = time.Now()
	err := fdatasync(t.f)
	s.mu.Lock()
	s.st.Syncs++
	if err == nil {
		s.st.Unsynced = 0 // no Append since: wmu is held
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("spool: sync %s: %w", t.path, err)
	}
	return nil
}

// unsynced is the number of records appended since the last sync.
func (s *Spool) unsynced() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Unsynced
}

// idleSync is the idle sync's timer function: it syncs the records the
// last appends left unsynced once the last sync is SyncInterval old, so
// that the end of a burst is as durable as its middle.
func (s *Spool) idleSync() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.idleArmed = false
	s.mu.Lock()
	closed, unsynced := s.closed, s.st.Unsynced
	s.mu.Unlock()
	if closed || unsynced == 0 {
		return
	}
	if wait := time.Until(s.lastSync.Add(s.cfg.SyncInterval)); wait > 0 {
		s.idleArmed = true
		s.idle.Reset(wait)
		return
	}
	if err := s.syncLocked(); err != nil {
		s.cfg.Log.Warn().Err(err).Msg("spool: idle sync")
	}
}

// rotate begins a new segment for records of run.
func (s *Spool) rotate(run string) error {
	s.mu.Lock()
	h := segHeader{number: s.nextSeg, first: s.nextIndex, run: run}
	s.mu.Unlock()
	path := s.segPath(h.number)
	f, err := createFile(path)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	b := h.appendTo(nil)
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: write header of %s: %w", path, err)
	}
	if s.cfg.SyncInterval > 0 {
		// What the old tail holds, before it is left: the new tail's
		// records are the only unsynced ones then.
		if err := s.syncLocked(); err != nil {
			s.cfg.Log.Warn().Err(err).Msg("spool: sync the segment left")
		}
		syncDir(s.dir)
	}
	g := &segment{hdr: h, path: path, f: f, end: int64(len(b))}
	s.mu.Lock()
	s.segs = append(s.segs, g)
	s.nextSeg++
	s.bytes += g.end
	s.mu.Unlock()
	s.tail = g
	return nil
}

// dropOldest removes the oldest segment from the list, counting its
// undelivered records as dropped. s.mu is held.
func (s *Spool) dropOldest() *segment {
	g := s.segs[0]
	s.segs = s.segs[1:]
	s.bytes -= g.end
	g.removed = true
	s.oldest.Store(s.segs[0].hdr.first)
	if n := g.count(s.ack.pos.index, g.limit()); n > 0 {
		d := Drop{Records: n, FirstSeq: g.firstSeq, LastSeq: g.lastSeq}
		if a := s.ack.pos; a.seg == g.hdr.number && a.index > g.hdr.first {
			// Part of the segment was delivered: the first dropped record
			// is the one after the ack.
			if fr, err := readFrameHeaderAt(g.f, a.off); err == nil {
				d.FirstSeq = fr.seq
			}
		}
		s.st.Dropped += n
		if s.cfg.OnDrop != nil {
			s.cfg.OnDrop(d)
		}
	}
	return g
}

// removeFile closes and deletes the file of a segment taken off the list.
func (s *Spool) removeFile(g *segment) {
	g.f.Close()
	if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.cfg.Log.Warn().Err(err).Str("file", g.path).Msg("spool: remove segment")
	}
}

// Stats returns the spool's counters. Any goroutine may call it.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Bytes = s.bytes
	st.Segments = len(s.segs)
	a := s.ack.pos
	for _, g := range s.segs {
		n := g.count(a.index, g.limit())
		if n > 0 && st.Queued == 0 {
			off := g.hdr.size()
			if a.seg == g.hdr.number && a.index > g.hdr.first {
				off = a.off
			}
			if fr, err := readFrameHeaderAt(g.f, off); err == nil {
				st.OldestSeq = fr.seq
				st.OldestTime = time.Unix(0, fr.unixnano)
			}
		}
		st.Queued += n
	}
	return st
}

// Close closes the spool's files and releases its directory. It is
// called once, after the writer and the reader have stopped; what was
// appended stays for the next Open.
func (s *Spool) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	var err error
	if s.idle != nil {
		s.idle.Stop()
		err = s.syncLocked() // a clean stop leaves nothing unsynced
	}
	return errors.Join(err, s.closeFiles())
}

func (s *Spool) closeFiles() error {
	var errs []error
	for _, g := range s.segs {
		if err := g.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ackf != nil {
		if err := s.ackf.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.lock != nil {
		if err := s.lock.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
