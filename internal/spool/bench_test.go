package spool

import (
	"context"
	"testing"
)

// benchLine is a record of the size of a typical native entry record.
var benchLine = []byte(`{"seq":123456,"run":"6f1c2a4e-8b0d-4c1e-9a5f-3d2b1c0e9f87","time":"2026-12-07T06:00:00.654321Z","type":"new","proto":"tcp","src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443,"state":"SYN_SENT","zone":0,"mark":0,"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg="}`)

// BenchmarkAppendNextAck: one op is one record appended, read back and
// acked (one write, one pwrite of the ack file, and a pread per 256 KiB).
func BenchmarkAppendNextAck(b *testing.B) {
	benchSpool(b, 1)
}

// BenchmarkAppendNextAckBatch64: the reader acks every 64 records, as an
// output with a window of 64 does; one op is still one record.
func BenchmarkAppendNextAckBatch64(b *testing.B) {
	benchSpool(b, 64)
}

func benchSpool(b *testing.B, ackEvery int) {
	s, err := Open(b.TempDir(), Config{MaxBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rec := Record{Run: "6f1c2a4e-8b0d-4c1e-9a5f-3d2b1c0e9f87", Data: benchLine}
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += ackEvery {
		n := min(ackEvery, b.N-i)
		for j := range n {
			rec.Seq = uint64(i + j)
			if err := s.Append(rec); err != nil {
				b.Fatal(err)
			}
		}
		var last Record
		for range n {
			if last, err = s.Next(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Ack(last.Pos); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	if st := s.Stats(); st.Delivered != uint64(b.N) || st.Queued != 0 {
		b.Fatalf("delivered %d, queued %d, want %d and 0", st.Delivered, st.Queued, b.N)
	}
}

// TestAppendNextAckAllocs: appending, reading and acking a record does
// not allocate (segment changes, one per 64 MiB, aside).
func TestAppendNextAckAllocs(t *testing.T) {
	s := open(t, t.TempDir(), Config{})
	defer s.Close()
	ctx := context.Background()
	r := Record{Run: testRun, Data: benchLine}
	step := func() {
		r.Seq++
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
		got, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(got.Pos); err != nil {
			t.Fatal(err)
		}
	}
	step() // the first segment
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per record, want 0", n)
	}
}
