package syslog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/internal/servertest"
	"github.com/google/go-cmp/cmp"
)

func TestAppendRELPFrame(t *testing.T) {
	for _, tc := range []struct {
		txnr uint32
		cmd  string
		data string
		want string
	}{
		{1, "open", relpOffers, "1 open 52 relp_version=0\nrelp_software=ctwatch\ncommands=syslog\n"},
		{2, "syslog", "<30>1 - - - - - - {}", "2 syslog 20 <30>1 - - - - - - {}\n"},
		{999999999, "syslog", "x", "999999999 syslog 1 x\n"},
		{7, "close", "", "7 close 0\n"},
		{3, "syslog", "a\nb", "3 syslog 3 a\nb\n"},
	} {
		got := string(appendRELPFrame([]byte("prefix|"), tc.txnr, tc.cmd, []byte(tc.data)))
		if diff := cmp.Diff("prefix|"+tc.want, got); diff != "" {
			t.Errorf("appendRELPFrame(%d, %q, %q) (-want +got):\n%s", tc.txnr, tc.cmd, tc.data, diff)
		}
		f, err := newRELPReader(strings.NewReader(tc.want), RELPMaxResponse).Read()
		if err != nil || f.Txnr != tc.txnr || string(f.Command) != tc.cmd || string(f.Data) != tc.data {
			t.Errorf("frame %q read back as %d %q %q, %v", tc.want, f.Txnr, f.Command, f.Data, err)
		}
	}
}

func TestNextTxnr(t *testing.T) {
	for _, tc := range []struct{ in, want uint32 }{{1, 2}, {998, 999}, {999999998, 999999999}, {999999999, 1}} {
		if got := nextTxnr(tc.in); got != tc.want {
			t.Errorf("nextTxnr(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// readFrames reads every frame of in, and the error that ended it.
func readFrames(in string, max int) ([]string, error) {
	rd := newRELPReader(strings.NewReader(in), max)
	var out []string
	for {
		f, err := rd.Read()
		if err != nil {
			return out, err
		}
		out = append(out, strconv.Itoa(int(f.Txnr))+"|"+string(f.Command)+"|"+string(f.Data))
	}
}

func TestRELPReader(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      error
	}{
		{"answers", "1 rsp 6 200 OK\n2 rsp 20 500 message too long\n", []string{"1|rsp|200 OK", "2|rsp|500 message too long"}, io.EOF},
		{"serverclose", "0 serverclose 0\n", []string{"0|serverclose|"}, io.EOF},
		{"data with newlines", "1 rsp 37 200 OK\nrelp_version=0\ncommands=syslog\n", []string{"1|rsp|200 OK\nrelp_version=0\ncommands=syslog"}, io.EOF},
		{"cut in the header", "1 rsp 6 200 OK\n2 rs", []string{"1|rsp|200 OK"}, io.ErrUnexpectedEOF},
		{"cut in the data", "1 rsp 6 200", nil, io.ErrUnexpectedEOF},
		{"no trailer", "1 rsp 6 200 OKX", nil, ErrRELPProtocol},
		{"data length too long", "1 rsp 6 200 OK!\n", nil, ErrRELPProtocol},
		{"over the limit", "1 rsp 1025 " + strings.Repeat("x", 1025) + "\n", nil, ErrRELPProtocol},
		{"ten digits", "1234567890 rsp 0\n", nil, ErrRELPProtocol},
		{"ten digits of length", "1 rsp 0000000001 x\n", nil, ErrRELPProtocol},
		{"no txnr", " rsp 0\n", nil, ErrRELPProtocol},
		{"empty command", "1  0\n", nil, ErrRELPProtocol},
		{"digit in the command", "1 rsp2 0\n", nil, ErrRELPProtocol},
		{"long command", "1 " + strings.Repeat("a", 33) + " 0\n", nil, ErrRELPProtocol},
		{"32-letter command", "1 " + strings.Repeat("a", 32) + " 0\n", []string{"1|" + strings.Repeat("a", 32) + "|"}, io.EOF},
		{"length 0 with a space", "1 rsp 0 \n", nil, ErrRELPProtocol},
		{"no length", "1 rsp \n", nil, ErrRELPProtocol},
		{"newline after txnr", "1\n", nil, ErrRELPProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readFrames(tc.in, 1024)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
		})
	}
}

func TestParseRELPResponse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want relpResponse
		ok   bool
	}{
		{"200 OK", relpResponse{Code: 200, Text: []byte("OK")}, true},
		{"500 command disabled", relpResponse{Code: 500, Text: []byte("command disabled")}, true},
		{"200 OK\nrelp_version=0\ncommands=syslog", relpResponse{Code: 200, Text: []byte("OK"), Data: []byte("relp_version=0\ncommands=syslog")}, true},
		{"200\nrelp_version=0", relpResponse{Code: 200, Data: []byte("relp_version=0")}, true},
		{"200", relpResponse{Code: 200}, true},
		{"20", relpResponse{}, false},
		{"2000", relpResponse{}, false},
		{"OK 200", relpResponse{}, false},
		{"", relpResponse{}, false},
	} {
		got, err := parseRELPResponse([]byte(tc.in))
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrRELPProtocol) {
			t.Errorf("parseRELPResponse(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.Transformer("string", func(b []byte) string { return string(b) })); diff != "" {
			t.Errorf("parseRELPResponse(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func FuzzRELPReader(f *testing.F) {
	for _, s := range []string{
		"1 rsp 6 200 OK\n", "0 serverclose 0\n", "1 rsp 37 200 OK\nrelp_version=0\ncommands=syslog\n",
		"999999999 rsp 20 500 message too long\n", "1 rsp 999999999 x", "1 rsp 0\n2 rsp 3 200\n",
	} {
		f.Add([]byte(s))
	}
	const max = 4096
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := newRELPReader(bytes.NewReader(in), max)
		read := 0
		for {
			fr, err := rd.Read()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrRELPProtocol) {
					t.Fatalf("error %v", err)
				}
				break
			}
			if fr.Txnr > relpMaxTxnr || len(fr.Command) == 0 || len(fr.Command) > relpMaxCommand || len(fr.Data) > max {
				t.Fatalf("frame %d %q with %d bytes of data", fr.Txnr, fr.Command, len(fr.Data))
			}
			// Bounded memory: the buffer never grows past the limit.
			if cap(rd.buf) > max+relpMaxCommand+256 {
				t.Fatalf("buffer of %d bytes", cap(rd.buf))
			}
			// A frame read is one written the same way.
			enc := appendRELPFrame(nil, fr.Txnr, string(fr.Command), fr.Data)
			if read+len(enc) > len(in) || !bytes.Equal(enc, in[read:read+len(enc)]) && !leadingZeros(in[read:]) {
				t.Fatalf("frame %q is not what was read at %d: %q", enc, read, in[read:])
			}
			read += len(enc)
			if leadingZeros(in) {
				break // the offsets no longer match the encoding
			}
			if rsp, err := parseRELPResponse(fr.Data); err == nil && (rsp.Code < 0 || rsp.Code > 999) {
				t.Fatalf("code %d", rsp.Code)
			}
		}
	})
}

// leadingZeros says whether in has a number with a leading zero, which
// reads as the number but is not how it is written.
func leadingZeros(in []byte) bool {
	for i := range in {
		if in[i] == '0' && i+1 < len(in) && '0' <= in[i+1] && in[i+1] <= '9' && (i == 0 || in[i-1] < '0' || in[i-1] > '9') {
			return true
		}
	}
	return false
}

// relpClient makes a client of the test's rsyslog's imrelp.
func relpClient(t testing.TB, r *servertest.Rsyslog, cfg Config) *Client {
	t.Helper()
	r.RequireRELP()
	c, err := New(Target{"relp", r.RELP, Daemon}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRsyslogRELP(t *testing.T) {
	r := servertest.StartRsyslog(t)
	now := time.Date(2026, 12, 7, 6, 0, 0, 654321000, time.UTC)
	cfg := testConfig()
	cfg.Now = func() time.Time { return now }
	cfg.Window = 50
	c := relpClient(t, r, cfg)
	// A session is used up after 700 messages (999999999 in use): the
	// client opens new ones in the middle of a Send.
	c.relp.last = 700
	recs := testRecords(1, 3000)
	for i := 0; i < len(recs); i += 500 {
		sendAll(t, c, recs[i:i+500])
		// Taken is acknowledged: rsyslog (a direct queue) has written them.
		if got := len(r.Records()); got != i+500 {
			t.Fatalf("%d records in rsyslog's file after %d acknowledged", got, i+500)
		}
	}
	// 3000 messages: sessions of 699 (the open is 1) and one of 204.
	if want := uint32(3000-4*699) + 2; c.relp.txnr != want || c.relp.ack != want {
		t.Errorf("next transaction %d, oldest unanswered %d; want both %d", c.relp.txnr, c.relp.ack, want)
	}
	lines := r.WaitRecords(len(recs))
	if diff := cmp.Diff(wantOf(recs, Daemon), gotOf(t, lines)); diff != "" {
		t.Errorf("records at rsyslog (-want +got):\n%s", diff)
	}
	for _, l := range lines {
		if l.Host != "node-1" || l.TS != "2026-12-07T06:00:00.654321Z" || l.Input != "imrelp" {
			t.Fatalf("host %q timestamp %q input %q, want node-1 at 2026-12-07T06:00:00.654321Z from imrelp", l.Host, l.TS, l.Input)
		}
	}
	st := c.Stats()
	if st.Sent != uint64(len(recs)) || st.Connects != 5 || st.Failed+st.Refused+st.Retries != 0 || st.Bytes == 0 {
		t.Errorf("stats %+v, want 5 sessions", st)
	}
}

func TestRsyslogRELPRefused(t *testing.T) {
	r := servertest.StartRsyslog(t)
	cfg := testConfig()
	cfg.MaxMessage = 1000
	c := relpClient(t, r, cfg)
	recs := testRecords(1, 300)
	recs[150].Line = []byte(`{"big":"` + strings.Repeat("y", 1000) + `"}`)
	n, err := c.Send(context.Background(), recs)
	var re *RefusedError
	if n != 150 || !errors.Is(err, ErrRefused) || !errors.As(err, &re) || re.Seq != recs[150].Seq || re.Limit != 1000 {
		t.Fatalf("Send = %d, %v; want 150 and record %d refused", n, err, recs[150].Seq)
	}
	// Everything before the refused record was acknowledged: it is written.
	if got := len(r.Records()); got != 150 {
		t.Fatalf("%d records at rsyslog when Send returned, want 150", got)
	}
	sendAll(t, c, recs[151:])
	want := append(append([]Record{}, recs[:150]...), recs[151:]...)
	if diff := cmp.Diff(wantOf(want, Daemon), gotOf(t, r.WaitRecords(len(want)))); diff != "" {
		t.Errorf("records at rsyslog (-want +got):\n%s", diff)
	}
	if st := c.Stats(); st.Sent != 299 || st.Refused != 1 || st.Connects != 1 {
		t.Errorf("stats %+v, want 299 sent and 1 refused on one connection", st)
	}
}

// TestRsyslogRELPKill SIGKILLs rsyslog in the middle of a burst and starts
// it again: every record Send reported taken is in rsyslog's file, the
// others are sent again after the restart, and every record arrives at
// least once. Duplicates are counted: records rsyslog wrote whose
// acknowledgement the kill cut off.
func TestRsyslogRELPKill(t *testing.T) {
	r := servertest.StartRsyslog(t)
	c := relpClient(t, r, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const total, batch = 20000, 1000
	recs := testRecords(1, total)
	killed := make(chan struct{})
	go func() {
		// Kill once rsyslog has acknowledged a quarter: the client is
		// sending. (Counting the lines of rsyslog's file instead lets a
		// client faster than the file's writer finish before the kill.)
		defer close(killed)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for c.Stats().Sent < total/4 {
			<-tick.C
		}
		if err := r.Signal(syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	}()
	var takenBefore []uint64 // records taken before the first unavailable error
	notTaken := map[uint64]bool{}
	unavailable, restarted := 0, false
	for i := 0; i < total; {
		end := min(i+batch, total)
		n, err := c.Send(ctx, recs[i:end])
		if !restarted && unavailable == 0 {
			for j := i; j < i+n; j++ {
				takenBefore = append(takenBefore, recs[j].Seq)
			}
		}
		i += n
		switch {
		case err == nil:
		case errors.Is(err, ErrUnavailable):
			unavailable++
			for j := i; j < end; j++ {
				notTaken[recs[j].Seq] = true
			}
			if unavailable == 1 {
				// Every record acknowledged before the kill is in the file.
				<-killed
				have := map[string]bool{}
				for _, l := range r.Records() {
					have[seqOf(t, l)] = true
				}
				for _, s := range takenBefore {
					if !have[strconv.FormatUint(s, 10)] {
						t.Errorf("record %d acknowledged but not in rsyslog's file after the kill", s)
					}
				}
			}
			if !restarted && unavailable >= 3 {
				r.Start()
				restarted = true
			}
		default:
			t.Fatalf("Send: %v", err)
		}
	}
	if !restarted {
		t.Fatal("no Send reported rsyslog gone")
	}
	count := map[string]int{}
	for _, l := range r.WaitRecords(total) {
		count[seqOf(t, l)]++
	}
	var lost []uint64
	dups := 0
	for _, rec := range recs {
		switch n := count[strconv.FormatUint(rec.Seq, 10)]; {
		case n == 0:
			lost = append(lost, rec.Seq)
		case n > 1:
			dups += n - 1
			if !notTaken[rec.Seq] {
				t.Errorf("record %d arrived %d times but was never returned", rec.Seq, n)
			}
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d records lost: %v", len(lost), lost[:min(len(lost), 10)])
	}
	st := c.Stats()
	if st.Sent != total || st.Connects != 2 || st.Retries == 0 || len(notTaken) == 0 {
		t.Errorf("stats %+v, %d returned: want every record sent, a reconnect, retries and records returned", st, len(notTaken))
	}
	t.Logf("%d taken before the kill, %d returned not taken, %d duplicates, stats %+v", len(takenBefore), len(notTaken), dups, st)
}

// TestRsyslogRELPStalled stops rsyslog (SIGSTOP): the answers do not come,
// Send ends with the ack timeout as unavailable, or with the context's
// cancellation, and the records in flight are not taken.
func TestRsyslogRELPStalled(t *testing.T) {
	r := servertest.StartRsyslog(t)
	r.RequireRELP()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		cancel  bool
	}{{"ack timeout", 200 * time.Millisecond, false}, {"cancel", time.Minute, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AckTimeout = tc.timeout
			c := relpClient(t, r, cfg)
			recs := testRecords(1, 100)
			sendAll(t, c, recs[:10]) // the session is open
			if err := r.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			defer r.Signal(syscall.SIGCONT)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			// The signal stops rsyslog a moment later: what it answers
			// until then is taken, the first Send that fails is the one
			// that waited.
			sent := uint64(10)
			for range 1000 {
				start := time.Now()
				n, err := c.Send(ctx, recs[10:])
				took := time.Since(start)
				sent += uint64(n)
				if err == nil {
					continue
				}
				want := ErrUnavailable
				if tc.cancel {
					want = context.Canceled
				}
				if !errors.Is(err, want) || n == len(recs)-10 {
					t.Fatalf("Send = %d, %v; want %v", n, err, want)
				}
				if !tc.cancel && took < tc.timeout || took > 2*time.Second {
					t.Errorf("Send returned after %v", took)
				}
				// Everything was in flight (90 < the window): what was
				// not answered failed.
				if st := c.Stats(); st.Sent != sent || st.Failed != uint64(len(recs)-10-n) {
					t.Errorf("stats %+v, want %d sent and %d failed", st, sent, len(recs)-10-n)
				}
				return
			}
			t.Fatal("1000 batches acknowledged by a stopped rsyslog")
		})
	}
}

// BenchmarkRsyslogRELP sends flow records to a local rsyslog over RELP:
// every Send returns once rsyslog acknowledged each record, so records/s
// is end to end without waiting for a marker.
func BenchmarkRsyslogRELP(b *testing.B) {
	r := servertest.StartRsyslog(b)
	c := relpClient(b, r, Config{Format: FormatConfig{Hostname: "node-1", ProcID: 4242}})
	const batch = 1000
	recs := make([]Record, batch)
	for i := range recs {
		recs[i] = Record{Line: benchLine(uint64(i)), Seq: uint64(i), Run: testRun, Kind: "new"}
	}
	sendAll(b, c, recs[:1]) // the session is open
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n := min(batch, b.N-sent)
		sendAll(b, c, recs[:n])
		sent += n
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestRsyslogRELPOversize pins down what rsyslog does with a message larger
// than imrelp's maxDataSize (rsyslog's maxMessageSize, 64 KiB in the
// test's config): with imrelp's default oversizeMode, truncate, it answers
// 200 and keeps the head of the message, so no answer tells the client.
// Only the client's own limit, MaxMessage at most maxDataSize, refuses such
// a record and counts it.
func TestRsyslogRELPOversize(t *testing.T) {
	r := servertest.StartRsyslog(t)
	cfg := testConfig()
	cfg.MaxMessage = 200 << 10
	c := relpClient(t, r, cfg)
	recs := testRecords(1, 3)
	recs[1].Line = []byte(`{"big":"` + strings.Repeat("y", 100<<10) + `"}`)
	sendAll(t, c, recs)
	lines := r.WaitRecords(3)
	if got := len(lines[1].Msg); got >= 64<<10 || got < 60<<10 || !strings.HasPrefix(lines[1].Msg, `{"big":"yyy`) {
		t.Errorf("the large record arrived with %d bytes, want it cut below 64 KiB", got)
	}
	if diff := cmp.Diff(wantOf([]Record{recs[0], recs[2]}, Daemon), gotOf(t, []servertest.Line{lines[0], lines[2]})); diff != "" {
		t.Errorf("records around it (-want +got):\n%s", diff)
	}
}
