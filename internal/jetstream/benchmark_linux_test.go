package jetstream

import (
	"context"
	"github.com/ctwatch/ctwatch/internal/servertest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/internal/sink"
)

// benchRecord is a record of the size ctwatch writes for a flow event
// (about 300 bytes).
func benchRecord() []byte {
	return []byte(`{"time":"2026-12-07T05:00:00.123456789Z","level":"info","run":"7d9c1a4e-5b2f-4c3d-8e1a-000000000001","seq":123456,"event":"new","family":"ipv4","proto":"tcp","protonum":6,"timeout":120,"state":"SYN_SENT","orig":{"src":"192.168.1.6","dst":"192.168.1.9","sport":32775,"dport":22},"reply":{"src":"192.168.1.9","dst":"192.168.1.6","sport":22,"dport":32775}}`)
}

// cpuTime is the CPU time, user and system, the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate adds records/s and the process's CPU time per record.
func reportRate(b *testing.B, start time.Time, cpu0 time.Duration) {
	wall, cpu := time.Since(start), cpuTime(b)-cpu0
	b.ReportMetric(float64(b.N)/wall.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
}

// BenchmarkDelivery delivers b.N records of about 300 bytes, each op one
// record taken by its output: written to a file by internal/sink's Writer
// (the baseline), or published and acked by JetStream with a window of
// 4096, the server embedded (its CPU counted with the publisher's) or a
// nats-server process of its own (the publisher's CPU alone, as on a node
// whose server is elsewhere). cpu-ns/record is the process's CPU time per
// record; its ratio to the file's is the delivery's cost.
func BenchmarkDelivery(b *testing.B) {
	rec := benchRecord()
	b.Run("file", func(b *testing.B) {
		line := append(rec, '\n')
		w, err := sink.OpenFile(filepath.Join(b.TempDir(), "ctwatch.json"), sink.Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		for i := range b.N {
			w.Write(line)
			// Flush every few buffers, so that the records are on the
			// file, not dropped, when the loop outruns the disk.
			if i%1000 == 999 {
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		reportRate(b, start, cpu0)
		if st := w.Stats(); st.Records != uint64(b.N) {
			b.Fatalf("%d of %d records written (stats %+v)", st.Records, b.N, st)
		}
	})
	b.Run("jetstream", func(b *testing.B) {
		s := servertest.StartNATS(b, b.TempDir(), -1, nil)
		benchPublish(b, s.ClientURL(), rec)
	})
	b.Run("jetstream-process", func(b *testing.B) {
		srv := servertest.StartNATSProcess(b, servertest.BuildNATS(b), b.TempDir(), servertest.FreeTCPPort(b))
		benchPublish(b, srv.URL, rec)
	})
}

func benchPublish(b *testing.B, url string, rec []byte) {
	js := servertest.JetStream(b, url)
	servertest.AddStream(b, js, fleetStream(1))
	p := newPublisher(b, url, "ctwatch.host1", func(c *Config) { c.Window = DefaultWindow })
	recs := make([]Record, b.N)
	for i := range recs {
		recs[i] = Record{RunID: testRun, Seq: uint64(i + 1), Data: rec}
	}
	in := make(chan []Record, DefaultWindow/64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	go func() {
		defer close(in)
		for i := 0; i < len(recs); i += 64 {
			in <- recs[i:min(i+64, len(recs))]
		}
	}()
	var acked, failed int
	err := p.Run(ctx, in, func(r Result) {
		if r.Err != nil {
			failed++
		} else {
			acked++
		}
	})
	reportRate(b, start, cpu0)
	b.StopTimer()
	if err != nil || acked != b.N {
		b.Fatalf("run: %v; %d of %d acked, %d refused", err, acked, b.N, failed)
	}
}
