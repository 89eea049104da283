package watch

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	ctjs "github.com/ctwatch/ctwatch/internal/jetstream"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/servertest"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/internal/spool"
	"github.com/ctwatch/ctwatch/internal/syslog"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// benchQueue is the memory queue of the benchmarks' remote outputs: room
// for every record of a run, so that what is measured is delivery, not
// the drops of a producer that never waits.
const benchQueue = 2 << 30

// BenchmarkOutputs costs the whole path of an event for each kind of
// output: decode a real kernel message, track it, encode its native
// record and deliver it, to a file (the baseline), over syslog TCP to a
// real rsyslog (through a memory queue, or a spool on disk), or to a
// JetStream stream on a nats-server process. An op
// is one event; the clock stops once the output has taken every record.
// records/s is the rate the output keeps up with; cpu-ns/record is the
// process's CPU per record, its delivery goroutines included (the servers
// are processes of their own, not counted).
func BenchmarkOutputs(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		w, err := sink.OpenFile(filepath.Join(b.TempDir(), "records.json"), sink.Config{Buffers: 4096})
		if err != nil {
			b.Fatal(err)
		}
		benchOutput(b, output.LocalWriter("file", w))
	})
	b.Run("syslog-tcp", func(b *testing.B) {
		rs := servertest.StartRsyslog(b)
		sp, err := output.Parse("syslog+tcp://" + rs.TCP)
		if err != nil {
			b.Fatal(err)
		}
		tr, err := output.NewSyslog(sp, syslog.Config{})
		if err != nil {
			b.Fatal(err)
		}
		benchOutput(b, output.NewRemote(sp, tr, output.RemoteConfig{QueueBytes: benchQueue}))
	})
	b.Run("syslog-tcp-spool", func(b *testing.B) {
		rs := servertest.StartRsyslog(b)
		sp, err := output.Parse("syslog+tcp://" + rs.TCP)
		if err != nil {
			b.Fatal(err)
		}
		tr, err := output.NewSyslog(sp, syslog.Config{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := output.OpenSpool(b.TempDir(), sp, spool.Config{MaxBytes: benchQueue})
		if err != nil {
			b.Fatal(err)
		}
		benchOutput(b, output.NewRemote(sp, tr, output.RemoteConfig{Spool: s}))
	})
	b.Run("jetstream", func(b *testing.B) {
		srv := servertest.StartNATSProcess(b, servertest.BuildNATS(b), b.TempDir(), servertest.FreeTCPPort(b))
		servertest.AddStream(b, servertest.JetStream(b, srv.URL), jetstream.StreamConfig{
			Name: "CTWATCH", Subjects: []string{"ctwatch.>"}, Storage: jetstream.FileStorage})
		sp, err := output.Parse(srv.URL + "/ctwatch.bench")
		if err != nil {
			b.Fatal(err)
		}
		tr, err := output.NewJetStream(sp, ctjs.Config{})
		if err != nil {
			b.Fatal(err)
		}
		benchOutput(b, output.NewRemote(sp, tr, output.RemoteConfig{QueueBytes: benchQueue}))
	})
}

// benchOutput runs b.N events through a watch writing to o alone.
func benchOutput(b *testing.B, o output.Output) {
	msgs := capturedMessages(b, "tcp")
	set := output.NewSet(testRun, o)
	defer set.Close()
	w := New(Config{Out: set, Log: zerolog.New(set), Updates: UpdatesAll, Schema: record.Native, Run: testRun, Host: testHost})
	var ev model.Event
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	for i := range b.N {
		if err := events.DecodeFast(msgs[i%len(msgs)], &ev); err != nil {
			b.Fatal(err)
		}
		w.event(&ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := set.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	wall, cpu := time.Since(start), processCPU(b)-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/wall.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
	if st := set.Total(); st.Records != uint64(b.N) || st.Dropped != 0 {
		b.Fatalf("%d of %d records taken, %d dropped: the comparison needs every record delivered", st.Records, b.N, st.Dropped)
	}
}

// processCPU is the CPU time, user and system, the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
