package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

const testRun = "6f1c2a4e-8b0d-4c1e-9a5f-3d2b1c0e9f87"

// got is what a test keeps of a record from Next (Data copied).
type got struct {
	Seq   uint64
	Run   string
	Level zerolog.Level
	Data  string
}

func rec(seq uint64, size int) Record {
	d := fmt.Appendf(nil, `{"seq":%d,"pad":"`, seq)
	for len(d) < size-2 {
		d = append(d, 'x')
	}
	d = append(d, `"}`...)
	return Record{Seq: seq, Run: testRun, Level: zerolog.Level(seq % 4), Data: d}
}

func want(r Record) got { return got{r.Seq, r.Run, r.Level, string(r.Data)} }

func open(t testing.TB, dir string, cfg Config) *Spool {
	t.Helper()
	s, err := Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// next reads n records, failing the test after 10 s (a spool that holds
// them hands them out at once).
func next(t testing.TB, s *Spool, n int) ([]got, Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []got
	var pos Position
	for range n {
		r, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(out), err)
		}
		out = append(out, got{r.Seq, r.Run, r.Level, string(r.Data)})
		pos = r.Pos
	}
	return out, pos
}

// drain reads every queued record.
func drain(t testing.TB, s *Spool) ([]got, Position) {
	t.Helper()
	return next(t, s, int(s.Stats().Queued))
}

// checkInvariant checks that every record is accounted for.
func checkInvariant(t testing.TB, s *Spool) Stats {
	t.Helper()
	st := s.Stats()
	if in, out := st.Recovered+st.Appended, st.Delivered+st.Dropped+st.Lost+st.Queued; in != out {
		t.Errorf("recovered %d + appended %d = %d, but delivered %d + dropped %d + lost %d + queued %d = %d",
			st.Recovered, st.Appended, in, st.Delivered, st.Dropped, st.Lost, st.Queued, out)
	}
	return st
}

func appendAll(t testing.TB, s *Spool, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

func recs(from, n uint64, size int) []Record {
	var out []Record
	for i := range n {
		out = append(out, rec(from+i, size))
	}
	return out
}

func wants(rs []Record) []got {
	var out []got
	for _, r := range rs {
		out = append(out, want(r))
	}
	return out
}

// TestInOrder: records come back as appended, across segment boundaries
// and with records larger than the reader's buffer, and an ack of the
// last one empties the spool down to its tail segment.
func TestInOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		n       uint64
		size    int
		segsMin int
	}{
		{"one segment", Config{}, 100, 200, 1},
		{"many segments", Config{MaxBytes: 1 << 20, SegmentBytes: 16 << 10}, 1000, 300, 10},
		{"large records", Config{MaxBytes: 64 << 20, SegmentBytes: 4 << 20, MaxRecordBytes: 1 << 20}, 12, 700 << 10, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir(), tc.cfg)
			defer s.Close()
			rs := recs(1, tc.n, tc.size)
			appendAll(t, s, rs)
			if st := s.Stats(); st.Segments < tc.segsMin || st.Queued != tc.n || st.OldestSeq != 1 {
				t.Errorf("after append: %d segments, %d queued, oldest seq %d; want at least %d, %d, 1", st.Segments, st.Queued, st.OldestSeq, tc.segsMin, tc.n)
			}
			out, pos := drain(t, s)
			if diff := cmp.Diff(wants(rs), out); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if err := s.Ack(pos); err != nil {
				t.Fatal(err)
			}
			st := checkInvariant(t, s)
			if st.Delivered != tc.n || st.Queued != 0 || st.Segments != 1 {
				t.Errorf("after ack: delivered %d, queued %d, %d segments; want %d, 0, 1", st.Delivered, st.Queued, st.Segments, tc.n)
			}
			files, _ := filepath.Glob(filepath.Join(s.Dir(), "*.seg"))
			if len(files) != 1 {
				t.Errorf("segment files after ack: %v, want the tail only", files)
			}
		})
	}
}

// TestReopen: a reopened spool delivers what was not acked, in order,
// after the last ack, keeping each record's run id; records appended
// after the reopen follow, under their own run.
func TestReopen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		acked  int // records read and acked before the close
		read   int // records read (not acked) before the close
		segCfg Config
	}{
		{"nothing read", 0, 0, Config{}},
		{"read not acked", 0, 30, Config{}},
		{"acked some", 20, 30, Config{}},
		{"acked all", 50, 50, Config{}},
		{"acked across segments", 37, 45, Config{MaxBytes: 1 << 20, SegmentBytes: 4 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, tc.segCfg)
			rs := recs(1, 50, 150)
			appendAll(t, s, rs)
			if tc.acked > 0 {
				_, pos := next(t, s, tc.acked)
				if err := s.Ack(pos); err != nil {
					t.Fatal(err)
				}
			}
			next(t, s, tc.read-tc.acked)
			s.Close()

			s = open(t, dir, tc.segCfg)
			defer s.Close()
			st := checkInvariant(t, s)
			if st.Recovered != uint64(50-tc.acked) {
				t.Errorf("recovered %d, want %d", st.Recovered, 50-tc.acked)
			}
			later := rec(1000, 100)
			later.Run = "second-run"
			appendAll(t, s, []Record{later})
			out, pos := drain(t, s)
			if diff := cmp.Diff(append(wants(rs[tc.acked:]), want(later)), out); diff != "" {
				t.Errorf("records after reopen (-want +got):\n%s", diff)
			}
			if err := s.Ack(pos); err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, s)
			s.Close()

			// Everything acked: a third open delivers only what follows.
			s = open(t, dir, tc.segCfg)
			defer s.Close()
			if st := s.Stats(); st.Recovered != 0 || st.Queued != 0 {
				t.Errorf("third open: recovered %d, queued %d; want 0", st.Recovered, st.Queued)
			}
			marker := rec(2000, 100)
			appendAll(t, s, []Record{marker})
			out, _ = next(t, s, 1)
			if diff := cmp.Diff([]got{want(marker)}, out); diff != "" {
				t.Errorf("third open (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOverflow: past MaxBytes the oldest segments go; what they held
// undelivered is counted exactly, OnDrop's seq ranges name exactly the
// records that are not delivered, and the rest arrive in order.
func TestOverflow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     uint64
		acked int // records read and acked before the appends that overflow
	}{
		{"nothing acked", 2000, 0},
		{"first segment partly acked", 2000, 5},
		{"no overflow", 100, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var drops []Drop
			cfg := Config{MaxBytes: 64 << 10, SegmentBytes: 8 << 10, OnDrop: func(d Drop) { drops = append(drops, d) }}
			s := open(t, t.TempDir(), cfg)
			defer s.Close()
			rs := recs(1, tc.n, 200)
			appendAll(t, s, rs[:10])
			if tc.acked > 0 {
				_, pos := next(t, s, tc.acked)
				if err := s.Ack(pos); err != nil {
					t.Fatal(err)
				}
			}
			appendAll(t, s, rs[10:])
			st := checkInvariant(t, s)
			if st.Bytes > cfg.MaxBytes {
				t.Errorf("spool holds %d bytes, above MaxBytes %d", st.Bytes, cfg.MaxBytes)
			}
			dropped := map[uint64]bool{}
			var sum uint64
			for _, d := range drops {
				sum += d.Records
				for q := d.FirstSeq; q <= d.LastSeq; q++ {
					dropped[q] = true
				}
			}
			if sum != st.Dropped || uint64(len(dropped)) != st.Dropped {
				t.Errorf("OnDrop reported %d records over %d seqs, Stats.Dropped %d", sum, len(dropped), st.Dropped)
			}
			var left []Record
			for _, r := range rs[tc.acked:] {
				if !dropped[r.Seq] {
					left = append(left, r)
				}
			}
			out, _ := drain(t, s)
			if diff := cmp.Diff(wants(left), out); diff != "" {
				t.Errorf("records left after overflow (-want +got):\n%s", diff)
			}
			if want := tc.n - uint64(tc.acked) - uint64(len(left)); st.Dropped != want {
				t.Errorf("dropped %d, want %d", st.Dropped, want)
			}
			if tc.n > 1000 && st.Dropped == 0 {
				t.Errorf("nothing dropped: the test does not overflow")
			}
		})
	}
}

// TestOverflowWhileReading: a drop of the segment the reader is in
// moves the reader to the oldest record left, without handing out a
// dropped record.
func TestOverflowWhileReading(t *testing.T) {
	var dropped []Drop
	s := open(t, t.TempDir(), Config{MaxBytes: 32 << 10, SegmentBytes: 8 << 10, OnDrop: func(d Drop) { dropped = append(dropped, d) }})
	defer s.Close()
	rs := recs(1, 1000, 200)
	appendAll(t, s, rs[:20])
	next(t, s, 3) // the reader has the first segment in its buffer
	appendAll(t, s, rs[20:])
	out, _ := drain(t, s)
	first := dropped[len(dropped)-1].LastSeq + 1
	if diff := cmp.Diff(wants(rs[first-1:]), out); diff != "" {
		t.Errorf("records after the drop (-want +got):\n%s", diff)
	}
	st := checkInvariant(t, s)
	if st.Dropped != first-1 {
		t.Errorf("dropped %d, want %d (seqs 1 to %d)", st.Dropped, first-1, first-1)
	}
}

// lastSegment returns the path of the newest segment file in dir.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("segments in %s: %v %v", dir, files, err)
	}
	return files
}

// logBuffer is a zerolog logger into a buffer, safe for the test to read.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // when not nil, a token after each write
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wrote != nil {
		select {
		case l.wrote <- struct{}{}:
		default:
		}
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRecoverDamage: a torn tail is truncated and counted, a corrupt
// segment in the middle costs exactly its records after the damage, and
// the log names the file and the offset.
func TestRecoverDamage(t *testing.T) {
	const size = 200
	frame := int64(frameHeader + size)
	hdr := segHeader{run: testRun}.size()
	for _, tc := range []struct {
		name string
		// damage changes the files of a spool of 4 segments of 20
		// records each (seqs 1 to 80).
		damage    func(t *testing.T, segs []string)
		lost      []uint64 // seqs lost
		gone      []uint64 // seqs not delivered and not counted
		torn      int64
		logs      []string // in the log
		wantBytes int64    // size of the last segment after recovery; 0: not checked
	}{
		{
			name: "torn tail, half a frame",
			damage: func(t *testing.T, segs []string) {
				appendFile(t, segs[3], rec(81, size), frame/2)
			},
			torn: 1, logs: []string{"torn tail", "000000000004.seg", fmt.Sprint(hdr + 20*frame)},
			wantBytes: hdr + 20*frame,
		},
		{
			name: "torn tail, whole length but bad crc",
			damage: func(t *testing.T, segs []string) {
				writeAt(t, segs[3], hdr+19*frame+frame-1, []byte{0})
			},
			lost: nil, torn: 1, logs: []string{"crc32c"},
			wantBytes: hdr + 19*frame,
		},
		{
			name: "bit flip in a middle segment",
			damage: func(t *testing.T, segs []string) {
				writeAt(t, segs[1], hdr+5*frame+30, []byte{'#'})
			},
			lost: seqs(26, 40), logs: []string{"000000000002.seg", fmt.Sprintf(`"offset":%d`, hdr+5*frame), "corrupt segment"},
		},
		{
			name: "length field garbage in a middle segment",
			damage: func(t *testing.T, segs []string) {
				writeAt(t, segs[2], hdr+4, []byte{0xff, 0xff, 0xff, 0x7f})
			},
			lost: seqs(41, 60), logs: []string{"above the limit"},
		},
		{
			name: "middle segment header damaged",
			damage: func(t *testing.T, segs []string) {
				writeAt(t, segs[1], 3, []byte{'!'})
			},
			lost: seqs(21, 40), logs: []string{"000000000002.seg", "without a valid header"},
		},
		{
			name: "middle segment emptied",
			damage: func(t *testing.T, segs []string) {
				if err := os.Truncate(segs[2], 0); err != nil {
					t.Fatal(err)
				}
			},
			lost: seqs(41, 60), logs: []string{"shorter than a segment header"},
		},
		{
			name: "last segment cut inside its header",
			damage: func(t *testing.T, segs []string) {
				if err := os.Truncate(segs[3], 10); err != nil {
					t.Fatal(err)
				}
			},
			// Taken for a crash at its creation (a torn tail): nothing
			// follows it to say how many records it held, so they are
			// gone without a count.
			gone: seqs(61, 80), torn: 1, logs: []string{"000000000004.seg", "without its header"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{MaxBytes: 256 << 10, SegmentBytes: hdr + 20*frame}
			s := open(t, dir, cfg)
			rs := recs(1, 80, size)
			appendAll(t, s, rs)
			s.Close()
			segs := segments(t, dir)
			if len(segs) != 4 {
				t.Fatalf("%d segments, want 4", len(segs))
			}
			tc.damage(t, segs)

			var log logBuffer
			cfg.Log = zerolog.New(&log)
			s = open(t, dir, cfg)
			defer s.Close()
			st := checkInvariant(t, s)
			if st.Lost != uint64(len(tc.lost)) || st.Torn != tc.torn {
				t.Errorf("lost %d, torn %d; want %d, %d", st.Lost, st.Torn, len(tc.lost), tc.torn)
			}
			lost := map[uint64]bool{}
			for _, q := range append(tc.lost, tc.gone...) {
				lost[q] = true
			}
			var left []Record
			for _, r := range rs {
				if !lost[r.Seq] {
					left = append(left, r)
				}
			}
			if tc.torn > 0 && tc.wantBytes > 0 && tc.wantBytes < hdr+20*frame {
				left = left[:len(left)-1] // the damaged last frame is the torn tail
			}
			out, _ := drain(t, s)
			if diff := cmp.Diff(wants(left), out); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if tc.torn == 0 {
				d := s.Damage()
				if len(d) != 1 || !strings.HasPrefix(d[0].Error(), "spool file "+dir) {
					t.Errorf("Damage() = %v, want one CorruptError naming a file in %s", d, dir)
				}
			} else if d := s.Damage(); len(d) != 0 {
				t.Errorf("Damage() = %v for a torn tail, want none", d)
			}
			for _, w := range tc.logs {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log does not say %q:\n%s", w, log.String())
				}
			}
			if tc.wantBytes > 0 {
				if fi, err := os.Stat(segs[3]); err != nil || fi.Size() != tc.wantBytes {
					t.Errorf("last segment after recovery: %v %v, want %d bytes", fi.Size(), err, tc.wantBytes)
				}
			}
		})
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends the first n bytes of r's frame to path: a write a
// crash cut short.
func appendFile(t *testing.T, path string, r Record, n int64) {
	t.Helper()
	b := appendFrame(nil, &r, 1)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b[:n]); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptWhileRunning: a record damaged on disk after it was
// appended is not handed out; the rest of its segment is counted lost,
// and records appended after it still arrive.
func TestCorruptWhileRunning(t *testing.T) {
	dir := t.TempDir()
	log := logBuffer{wrote: make(chan struct{}, 1)}
	s := open(t, dir, Config{Log: zerolog.New(&log)})
	defer s.Close()
	rs := recs(1, 10, 100)
	appendAll(t, s, rs)
	hdr := segHeader{run: testRun}.size()
	writeAt(t, segments(t, dir)[0], hdr+3*(frameHeader+100)+50, []byte{'#'})
	out, _ := next(t, s, 3)
	// The reader meets the damage, logs it and waits; what is appended
	// then goes to a new segment and arrives.
	type result struct {
		r   Record
		err error
	}
	first := make(chan result)
	go func() {
		r, err := s.Next(context.Background())
		first <- result{r, err}
	}()
	<-log.wrote
	later := recs(11, 5, 100)
	appendAll(t, s, later)
	res := <-first
	if res.err != nil {
		t.Fatal(res.err)
	}
	more, _ := next(t, s, len(later)-1)
	out = append(out, got{res.r.Seq, res.r.Run, res.r.Level, string(res.r.Data)})
	if diff := cmp.Diff(append(wants(rs[:3]), wants(later)...), append(out, more...)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if st := checkInvariant(t, s); st.Lost != 7 {
		t.Errorf("lost %d, want 7", st.Lost)
	}
	if !strings.Contains(log.String(), "000000000001.seg") {
		t.Errorf("log does not name the file:\n%s", log.String())
	}
}

// TestLocked: a second Open of the same directory is refused, naming it.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{})
	_, err := Open(dir, Config{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second Open: %v, want an error wrapping ErrLocked naming %s", err, dir)
	}
	s.Close()
	s = open(t, dir, Config{}) // released by Close
	s.Close()
}

// TestRefused: a record above MaxRecordBytes and an overlong run id are
// refused, and nothing is written.
func TestRefused(t *testing.T) {
	s := open(t, t.TempDir(), Config{MaxRecordBytes: 1000})
	defer s.Close()
	err := s.Append(rec(1, 1001))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("1001 bytes: %v, want ErrTooLarge", err)
	}
	long := rec(2, 10)
	long.Run = strings.Repeat("r", 256)
	if err := s.Append(long); err == nil {
		t.Errorf("run id of 256 bytes accepted")
	}
	if st := s.Stats(); st.Appended != 0 || st.Queued != 0 {
		t.Errorf("appended %d, queued %d after refusals", st.Appended, st.Queued)
	}
}

// TestNextWaits: Next waits for an append, and returns ctx's error when
// it is done first.
func TestNextWaits(t *testing.T) {
	s := open(t, t.TempDir(), Config{})
	defer s.Close()
	done := make(chan got, 1)
	go func() {
		r, err := s.Next(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- got{r.Seq, r.Run, r.Level, string(r.Data)}
	}()
	r := rec(7, 50)
	appendAll(t, s, []Record{r})
	if diff := cmp.Diff(want(r), <-done); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
}

// TestStatsOldest: the oldest queued record's seq and append time, for
// the delivery lag.
func TestStatsOldest(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	now := t0
	s := open(t, t.TempDir(), Config{Now: func() time.Time { return now }})
	defer s.Close()
	for i := range uint64(5) {
		now = t0.Add(time.Duration(i) * time.Second)
		appendAll(t, s, []Record{rec(10+i, 50)})
	}
	_, pos := next(t, s, 2)
	if err := s.Ack(pos); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.OldestSeq != 12 || !st.OldestTime.Equal(t0.Add(2*time.Second)) || st.Queued != 3 {
		t.Errorf("oldest seq %d at %v, queued %d; want 12 at %v, 3", st.OldestSeq, st.OldestTime, st.Queued, t0.Add(2*time.Second))
	}
}

// TestConcurrent: a writer, a reader and an acker at once (the acker
// gets positions from the reader, as an output's acknowledgements
// arrive), with overflow off and on; every record arrives in order,
// none twice, and the counts add up (run with -race).
func TestConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no overflow", Config{MaxBytes: 64 << 20, SegmentBytes: 64 << 10}},
		{"overflow", Config{MaxBytes: 256 << 10, SegmentBytes: 16 << 10}},
		{"sync", Config{MaxBytes: 64 << 20, SegmentBytes: 64 << 10, SyncInterval: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var dropped uint64
			tc.cfg.OnDrop = func(d Drop) {
				mu.Lock()
				dropped += d.Records
				mu.Unlock()
			}
			s := open(t, t.TempDir(), tc.cfg)
			defer s.Close()
			const n = 20000
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				for i := range uint64(n) {
					if err := s.Append(rec(i+1, 120)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			acks := make(chan Position, 16)
			acked := make(chan struct{})
			go func() {
				defer close(acked)
				for p := range acks {
					if err := s.Ack(p); err != nil {
						t.Error(err)
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var last uint64
			for last < n {
				r, err := s.Next(ctx)
				if err != nil {
					t.Fatalf("after seq %d: %v", last, err)
				}
				if r.Seq <= last || !bytes.Equal(r.Data, rec(r.Seq, 120).Data) {
					t.Fatalf("seq %d after %d: %q", r.Seq, last, r.Data)
				}
				if tc.cfg.MaxBytes > 1<<20 && r.Seq != last+1 {
					t.Fatalf("seq %d after %d without overflow", r.Seq, last)
				}
				last = r.Seq
				if r.Seq%50 == 0 || r.Seq == n {
					acks <- r.Pos
				}
			}
			<-wrote
			close(acks)
			<-acked
			st := checkInvariant(t, s)
			mu.Lock()
			defer mu.Unlock()
			if st.Dropped != dropped || st.Queued != 0 || st.Delivered+st.Dropped != n {
				t.Errorf("delivered %d, dropped %d (OnDrop %d), queued %d; want %d in all, none queued", st.Delivered, st.Dropped, dropped, st.Queued, n)
			}
		})
	}
}

// TestTruncatedWhileRunning: a segment cut short by someone else while
// the spool runs costs its records past the cut, counted as lost, and
// the reader goes on with what is appended after.
func TestTruncatedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	log := logBuffer{wrote: make(chan struct{}, 1)}
	s := open(t, dir, Config{Log: zerolog.New(&log)})
	defer s.Close()
	rs := recs(1, 10, 100)
	appendAll(t, s, rs)
	hdr := segHeader{run: testRun}.size()
	if err := os.Truncate(segments(t, dir)[0], hdr+4*(frameHeader+100)); err != nil {
		t.Fatal(err)
	}
	out, _ := next(t, s, 4)
	type result struct {
		r   Record
		err error
	}
	res := make(chan result)
	go func() {
		r, err := s.Next(context.Background())
		res <- result{r, err}
	}()
	<-log.wrote
	later := rec(11, 100)
	appendAll(t, s, []Record{later})
	got5 := <-res
	if got5.err != nil {
		t.Fatal(got5.err)
	}
	out = append(out, got{got5.r.Seq, got5.r.Run, got5.r.Level, string(got5.r.Data)})
	if diff := cmp.Diff(append(wants(rs[:4]), want(later)), out); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if st := checkInvariant(t, s); st.Lost != 6 {
		t.Errorf("lost %d, want 6", st.Lost)
	}
}
