package syslog

import (
	"context"
	"errors"
	"fmt"
	"github.com/ctwatch/ctwatch/internal/servertest"

	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

const testRun = "6f1c0c1e-8d4b-4f43-9b8e-2a0c5b0e7d11"

var testLevels = []zerolog.Level{zerolog.InfoLevel, zerolog.DebugLevel, zerolog.WarnLevel, zerolog.ErrorLevel}

// testRecords makes n records from seq first on, of varying length and
// content (escapes, UTF-8, a '|' that the test's rsyslog template uses).
func testRecords(first uint64, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		seq := first + uint64(i)
		line := fmt.Appendf(nil, `{"seq":%d,"run":%q,"type":"new","note":"äöü \"q\" | %s"}`+"\n", seq, testRun, strings.Repeat("x", int(seq%97)))
		recs[i] = Record{Line: line, Seq: seq, Run: testRun, Level: testLevels[seq%4], Kind: "new"}
	}
	return recs
}

// got is what a test compares of an arrived record.
type got struct {
	Seq, Severity, Facility, App, ProcID, MsgID, Msg string
}

func wantOf(recs []Record, f Facility) []got {
	var out []got
	for _, r := range recs {
		out = append(out, got{
			Seq: strconv.FormatUint(r.Seq, 10), Severity: strconv.Itoa(int(SeverityOf(r.Level))),
			Facility: strconv.Itoa(int(f)), App: "ctwatch", ProcID: "4242", MsgID: r.Kind,
			Msg: strings.TrimSuffix(string(r.Line), "\n"),
		})
	}
	return out
}

// seqOf reads the seq of an arrived record from its structured data.
func seqOf(t testing.TB, l servertest.Line) string {
	t.Helper()
	p, err := parse5424([]byte("<1>1 2026-12-07T00:00:00Z h a p m " + l.SD))
	if err != nil || !p.sd {
		t.Fatalf("structured data %q: %v", l.SD, err)
	}
	return p.seq
}

func gotOf(t testing.TB, lines []servertest.Line) []got {
	var out []got
	for _, l := range lines {
		out = append(out, got{seqOf(t, l), l.Severity, l.Facility, l.App, l.ProcID, l.MsgID, l.Msg})
	}
	return out
}

func testConfig() Config {
	return Config{Format: FormatConfig{Hostname: "node-1", ProcID: 4242, EnterpriseNumber: 32473}}
}

// sendAll sends recs, failing the test on any error.
func sendAll(t testing.TB, c *Client, recs []Record) {
	t.Helper()
	n, err := c.Send(context.Background(), recs)
	if err != nil || n != len(recs) {
		t.Fatalf("Send: %d of %d taken: %v", n, len(recs), err)
	}
}

func TestRsyslog(t *testing.T) {
	r := servertest.StartRsyslog(t)
	recs := testRecords(1, 3000)
	cases := []struct {
		name    string
		target  Target
		batch   int
		exactTS bool
		framing Framing
	}{
		{"tcp", Target{"tcp", r.TCP, Daemon}, 500, true, OctetCounting},
		// A datagram the receiver has no room for is lost: send in steps.
		{"udp", Target{"udp", r.UDP, Local3Facility}, 100, true, Datagram},
		// imuxsock stamps a message with its arrival time.
		{"unix datagram", Target{"unix", r.Dgram, Daemon}, 100, false, Datagram},
		// imptcp on a unix stream socket: the client falls back to it.
		{"unix stream", Target{"unix", r.Stream, Daemon}, 500, true, LineFeed},
	}
	seen := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 7, 6, 0, 0, 654321000, time.UTC)
			cfg := testConfig()
			cfg.Now = func() time.Time { return now }
			c, err := New(tc.target, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i := 0; i < len(recs); i += tc.batch {
				sendAll(t, c, recs[i:i+tc.batch])
				if !c.stream {
					r.WaitRecords(seen + i + tc.batch)
				}
			}
			if got := c.framingNow(); got != tc.framing {
				t.Errorf("framing %d, want %d", got, tc.framing)
			}
			lines := r.WaitRecords(seen + len(recs))[seen:]
			seen += len(recs)
			if diff := cmp.Diff(wantOf(recs, tc.target.Facility), gotOf(t, lines)); diff != "" {
				t.Errorf("records at rsyslog (-want +got):\n%s", diff)
			}
			for _, l := range lines {
				if l.Host != "node-1" || (tc.exactTS && l.TS != "2026-12-07T06:00:00.654321Z") {
					t.Fatalf("host %q timestamp %q, want node-1 at 2026-12-07T06:00:00.654321Z", l.Host, l.TS)
				}
			}
			st := c.Stats()
			if st.Sent != uint64(len(recs)) || st.Connects != 1 || st.Failed+st.Refused+st.Retries != 0 || st.Bytes == 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// Local3Facility is the facility the UDP case asks for.
const Local3Facility Facility = 19

func TestRsyslogRefused(t *testing.T) {
	r := servertest.StartRsyslog(t)
	big := []byte(`{"big":"` + strings.Repeat("y", 1000) + `"}`)
	for i, tc := range []struct {
		name   string
		target Target
		line   []byte
		limit  int // of the RefusedError, 0 for a reason
	}{
		{"udp too large", Target{"udp", r.UDP, Daemon}, big, 1000},
		{"tcp too large", Target{"tcp", r.TCP, Daemon}, big, 1000},
		{"tcp header pushes it over", Target{"tcp", r.TCP, Daemon}, big[:990], 1000},
		{"unix stream newline", Target{"unix", r.Stream, Daemon}, []byte("{\n\n}"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxMessage = 1000
			c, err := New(tc.target, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			recs := testRecords(uint64(3*i+1), 3)
			recs[1].Line = tc.line
			n, err := c.Send(context.Background(), recs)
			var re *RefusedError
			if n != 1 || !errors.Is(err, ErrRefused) || !errors.As(err, &re) || re.Seq != recs[1].Seq || re.Limit != tc.limit ||
				(tc.limit > 0 && re.Size <= tc.limit) {
				t.Fatalf("Send = %d, %v; want 1 and record %d refused", n, err, recs[1].Seq)
			}
			sendAll(t, c, recs[2:])
			lines := r.WaitRecords(2 * (i + 1))[2*i:]
			if diff := cmp.Diff(wantOf([]Record{recs[0], recs[2]}, Daemon), gotOf(t, lines)); diff != "" {
				t.Errorf("records at rsyslog (-want +got):\n%s", diff)
			}
			if st := c.Stats(); st.Sent != 2 || st.Refused != 1 {
				t.Errorf("stats %+v, want 2 sent and 1 refused", st)
			}
		})
	}
}

// TestRsyslogRestart stops rsyslog in the middle of a stream over TCP: the
// records not taken are reported, and once rsyslog is back the client
// reconnects and they arrive. Stopped once it wrote all it was sent, rsyslog
// loses nothing. Stopped in a burst, it loses what its socket buffer held:
// plain syslog has no acknowledgement, so the client took those records and
// cannot know; the test measures that loss and checks its shape.
func TestRsyslogRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// caughtUp waits for rsyslog to write the first half before the stop.
		caughtUp bool
	}{{"caught up", true}, {"in a burst", false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := servertest.StartRsyslog(t)
			c, err := New(Target{"tcp", r.TCP, Daemon}, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const total, batch = 20000, 200
			recs := testRecords(1, total)
			takenBy := make([]uint64, total) // the connection that took each record
			notTaken := map[uint64]bool{}    // reported not taken at least once
			unavailable := 0
			stopped, restarted := false, false
			for i := 0; i < total; {
				end := min(i+batch, total)
				n, err := c.Send(ctx, recs[i:end])
				for j := i; j < i+n; j++ {
					takenBy[j] = c.Stats().Connects
				}
				i += n
				switch {
				case err == nil:
				case errors.Is(err, ErrUnavailable):
					unavailable++
					for j := i; j < end; j++ {
						notTaken[recs[j].Seq] = true
					}
					if !restarted && unavailable >= 3 {
						r.Start()
						restarted = true
					}
				default:
					t.Fatalf("Send: %v", err)
				}
				if !stopped && i >= total/2 {
					if tc.caughtUp {
						r.WaitRecords(i)
					}
					r.Stop()
					stopped = true
				}
			}
			if !restarted {
				t.Fatal("no Send reported rsyslog gone")
			}
			st := c.Stats()
			if st.Connects != 2 || st.Reconnects != 1 || st.Retries == 0 || st.Sent != total || len(notTaken) == 0 {
				t.Errorf("stats %+v, %d records returned: want a reconnect, retries and records not taken", st, len(notTaken))
			}
			lastSeq := strconv.Itoa(total)
			deadline := time.Now().Add(20 * time.Second)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			var lines []servertest.Line
			for {
				lines = r.Records()
				if len(lines) > 0 && seqOf(t, lines[len(lines)-1]) == lastSeq {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("last record not at rsyslog; %d records", len(lines))
				}
				<-tick.C
			}
			count := map[string]int{}
			for _, l := range lines {
				count[seqOf(t, l)]++
			}
			var lost []uint64
			for j, rec := range recs {
				s := strconv.FormatUint(rec.Seq, 10)
				switch {
				case count[s] == 0 && takenBy[j] > 1:
					t.Errorf("record %d taken after the reconnect did not arrive", rec.Seq)
				case count[s] == 0:
					lost = append(lost, rec.Seq)
				case count[s] > 1 && !notTaken[rec.Seq]:
					t.Errorf("record %d arrived %d times but was never returned", rec.Seq, count[s])
				}
			}
			if tc.caughtUp && len(lost) > 0 {
				t.Errorf("%d records lost though rsyslog had caught up: %v", len(lost), lost[:min(len(lost), 10)])
			}
			for k, s := range lost {
				if s != lost[0]+uint64(k) || takenBy[s-1] != 1 {
					t.Errorf("lost records %v... are not one run taken by the first connection", lost[:min(len(lost), 10)])
					break
				}
			}
			t.Logf("%d unavailable errors, %d records returned, stats %+v; %d records (%d bytes of messages) lost in rsyslog's buffers",
				unavailable, len(notTaken), st, len(lost), len(lost)*int(st.Bytes/total))
		})
	}
}

func TestSendCancel(t *testing.T) {
	// A port nobody listens on: every dial fails at once.
	addr := servertest.FreePort(t, "tcp")
	c, err := New(Target{"tcp", addr, Daemon}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(1, 1)
	for range 3 {
		n, err := c.Send(context.Background(), recs)
		var ue *UnavailableError
		if n != 0 || !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.Op != "dial" {
			t.Fatalf("Send = %d, %v; want a failed dial", n, err)
		}
	}
	if st := c.Stats(); st.Retries != 3 || c.backoff != 4*BackoffMin {
		t.Errorf("stats %+v backoff %v, want 3 retries and %v", st, c.backoff, 4*BackoffMin)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	start := time.Now()
	n, err := c.Send(ctx, recs)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %d, %v; want context.Canceled", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send took %v after cancel", d)
	}
}

// BenchmarkRsyslogTCP sends flow records to a local rsyslog over TCP and
// waits until the last one is in its file: records/s end to end.
func BenchmarkRsyslogTCP(b *testing.B) {
	r := servertest.StartRsyslog(b)
	c, err := New(Target{"tcp", r.TCP, Daemon}, Config{Format: FormatConfig{Hostname: "node-1", ProcID: 4242}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const batch = 1000
	recs := make([]Record, batch)
	for i := range recs {
		recs[i] = Record{Line: benchLine(uint64(i)), Seq: uint64(i), Run: testRun, Kind: "new"}
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n := min(batch, b.N-sent)
		sendAll(b, c, recs[:n])
		sent += n
	}
	sendTime := b.Elapsed()
	marker := Record{Line: []byte(`{"marker":true}`), Seq: 0, Run: testRun, Kind: "marker"}
	sendAll(b, c, []Record{marker})
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !r.TailHas(`{"marker":true}`) {
		<-tick.C
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/sendTime.Seconds(), "sent/s")
}

// framingNow is the framing of the connection: Datagram when not a stream.
func (c *Client) framingNow() Framing {
	if !c.stream {
		return Datagram
	}
	return c.framing
}

// cpuTime is the CPU time (user and system) of the test process so far: the
// client's cost, rsyslog's being in another process.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestSendUDPRefusedPort(t *testing.T) {
	// Nobody listens: the kernel answers a datagram with ICMP port
	// unreachable, and the next send on the connected socket fails.
	addr := servertest.FreePort(t, "udp")
	c, err := New(Target{"udp", addr, Daemon}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recs := testRecords(1, 50)
	n, err := c.Send(context.Background(), recs)
	var ue *UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.Op != "write" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Send = %d, %v; want ECONNREFUSED as unavailable", n, err)
	}
	if st := c.Stats(); st.Sent != uint64(n) || st.Failed != 1 || n == 0 {
		t.Errorf("Send took %d, stats %+v; want the first sent and one failed", n, st)
	}
}

// TestSendStalledServer stops rsyslog (SIGSTOP) so that it reads nothing:
// a write that cannot finish ends with the write timeout as unavailable,
// or with the context's cancellation, and its records are not taken.
func TestSendStalledServer(t *testing.T) {
	r := servertest.StartRsyslog(t)
	if err := r.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer r.Signal(syscall.SIGCONT)
	recs := testRecords(1, 1000)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		cancel  bool
	}{{"write timeout", 200 * time.Millisecond, false}, {"cancel", time.Minute, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.WriteTimeout = tc.timeout
			c, err := New(Target{"tcp", r.TCP, Daemon}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			var last time.Duration
			for range 1000 {
				start := time.Now()
				n, err := c.Send(ctx, recs)
				last = time.Since(start)
				if err == nil {
					continue
				}
				want := ErrUnavailable
				if tc.cancel {
					want = context.Canceled
				}
				if !errors.Is(err, want) || n == len(recs) {
					t.Fatalf("Send = %d, %v; want %v", n, err, want)
				}
				if last > tc.timeout+2*time.Second || (tc.cancel && last > 2*time.Second) {
					t.Errorf("Send returned after %v", last)
				}
				if st := c.Stats(); st.Failed == 0 || st.Sent%uint64(len(recs)) != uint64(n) {
					t.Errorf("stats %+v after %d taken", st, n)
				}
				return
			}
			t.Fatal("1000 batches went into a stopped rsyslog")
		})
	}
}
