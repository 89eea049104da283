package spool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// segmentBytes returns the file of segment number n holding recs from
// index first.
func segmentBytes(n, first uint64, rs []Record) []byte {
	b := segHeader{number: n, first: first, run: testRun}.appendTo(nil)
	for i := range rs {
		b = appendFrame(b, &rs[i], int64(1000+i))
	}
	return b
}

// FuzzRecover: whatever a segment file holds (random bytes, a cut, a
// flipped bit), Open does not fail or panic, every record Next returns is
// a frame the file holds byte for byte (so none whose CRC fails), the
// counts add up, and the spool works on. With middle set the fuzzed file
// is followed by a valid segment, whose records must all arrive.
func FuzzRecover(f *testing.F) {
	valid := segmentBytes(1, 0, recs(1, 5, 60))
	f.Add(valid, false)
	f.Add(valid, true)
	f.Add(valid[:len(valid)-7], false)
	f.Add(valid[:len(valid)-7], true)
	flipped := bytes.Clone(valid)
	flipped[len(flipped)/2] ^= 0x10
	f.Add(flipped, true)
	f.Add([]byte{}, true)
	f.Add(valid[:20], false)
	f.Fuzz(func(t *testing.T, data []byte, middle bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "000000000001.seg"), data, 0o640); err != nil {
			t.Fatal(err)
		}
		all := bytes.Clone(data)
		var tailRecs []Record
		if middle {
			tailRecs = recs(100, 3, 40)
			b := segmentBytes(2, 1<<40, tailRecs)
			all = append(all, b...)
			if err := os.WriteFile(filepath.Join(dir, "000000000002.seg"), b, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir, Config{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st := checkInvariant(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var seen []uint64
		var pos Position
		for range st.Queued {
			r, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("Next after %d of %d queued records: %v", len(seen), st.Queued, err)
			}
			frame := appendFrame(nil, &r, r.Time.UnixNano())
			if !bytes.Contains(all, frame) {
				t.Fatalf("record seq %d (%q) is no frame of the files", r.Seq, r.Data)
			}
			seen = append(seen, r.Seq)
			pos = r.Pos
		}
		for i, r := range tailRecs {
			if j := len(seen) - len(tailRecs) + i; j < 0 || seen[j] != r.Seq {
				t.Fatalf("delivered %v, want it to end with the valid segment's seqs 100 to 102", seen)
			}
		}
		if err := s.Ack(pos); err != nil {
			t.Fatal(err)
		}
		marker := rec(7777, 30)
		if err := s.Append(marker); err != nil {
			t.Fatal(err)
		}
		r, err := s.Next(ctx)
		if err != nil || r.Seq != marker.Seq {
			t.Fatalf("after recovery: Next gave seq %d, %v; want %d", r.Seq, err, marker.Seq)
		}
		checkInvariant(t, s)
	})
}
