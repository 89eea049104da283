//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestWatchReconcileSeededEnds: flows that predate every conntrack event
// listener never report their end; the periodic reconciliation infers it,
// and once no such flow is left it dumps no more. The old flows are made
// without the kernel's event extension whatever other listeners the host
// has, by creating them under nf_conntrack_events=0 in the test's
// namespace; the watch then starts under 2, the default.
func TestWatchReconcileSeededEnds(t *testing.T) {
	ns := wtTrackedNS(t)
	ns.Sysctl("net.netfilter.nf_conntrack_events", "0")
	ct := ns.Conntrack()
	old := evFlow(17, "10.60.0.1", "10.60.0.2", 5000, 53, 300, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(old) })
	ns.Sysctl("net.netfilter.nf_conntrack_events", "2")

	w := wtStart(t, "watch", "--netns", ns.Name, "--reconcile-interval", "200ms", "--heartbeat", "1s", "--log-level", "debug")
	evDelete(t, ct, old)
	// The reconciliations are paced by their cost: a dump walks the whole
	// host's table, so on a busy host the first may be a while coming.
	const within = time.Minute
	r := waitRecordWithin(t, w, within, "the old flow's end", recordFor(t, model.ProtoUDP, "10.60.0.1", "10.60.0.2", 5000, 53, "destroy"))
	fl, _ := r["flow"].(map[string]any)
	if r["inferred"] != true || r["inferred_reason"] != "reconcile" || fl["seen_from"] != "snapshot" {
		t.Fatalf("old flow's DESTROY: %v; want inferred by a reconciliation, seen from the snapshot", r)
	}
	rec := waitRecordWithin(t, w, within, "the reconciliation that inferred it", func(r map[string]any) bool {
		return r["event"] == "reconcile" && r["inferred"] == 1.0
	})
	// With no seeded flow left, no dump: over more than the pace the last
	// dump set (its CPU time, at most its duration, over the 0.5 % budget;
	// the interval at least), heartbeats come without a reconcile record
	// between them.
	took, _ := rec["duration_s"].(float64)
	pace := max(200*time.Millisecond, time.Duration(took/0.005*float64(time.Second)))
	if pace > 30*time.Second {
		t.Skipf("the host's table makes a dump cost %.3f s: its pace (%v) is too long to watch", took, pace)
	}
	deadline := time.Now().Add(pace + 2*time.Second)
	for time.Now().Before(deadline) {
		r := waitRecordWithin(t, w, 10*time.Second, "a heartbeat or a reconciliation", func(r map[string]any) bool {
			return r["event"] == "heartbeat" || r["event"] == "reconcile"
		})
		if r["event"] == "reconcile" {
			t.Fatalf("reconciled with no seeded flow left: %v", r)
		}
	}
}

// waitRecordWithin is wtProc.waitRecord with a deadline of the caller's.
func waitRecordWithin(t *testing.T, p *wtProc, d time.Duration, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		l, ok := p.next(deadline)
		if !ok {
			t.Fatalf("no %s within %v; last lines:\n%s\nstderr:\n%s", what, d, tail(p.seen, 15), p.stderr.String())
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line is not JSON: %v: %q", err, l)
		}
		if match(r) {
			return r
		}
	}
}

// TestWatchSnapshotSlowReader: a snapshot of 100,000 entries written to a
// pipe read slowly loses nothing: every entry's snapshot record is there,
// the dump record counts none skipped, and no gap record says anything
// was dropped. The dump waits for the output.
func TestWatchSnapshotSlowReader(t *testing.T) {
	const n = 100_000
	ns := wtTrackedNS(t)
	bulkCreate(t, ns, n)
	p := wtStartPiped(t, ns, "watch", "--netns", ns.Name, "--snapshot", "--heartbeat", "0")
	seen := make([]bool, n)
	got := 0
	br := bufio.NewReaderSize(slowReader{p.out}, 64<<10)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("read ctwatch's output after %d snapshot records: %v; stderr: %s", got, err, p.stderr.String())
		}
		// Only what the test needs is decoded: a full parse of 100,000
		// records under the race detector would take longer than the
		// dump.
		var r struct {
			Event       string  `json:"event"`
			SkippedFull float64 `json:"skipped_full"`
			Entries     int     `json:"entries"`
			Error       string  `json:"error"`
			Orig        struct {
				Src   netip.Addr `json:"src"`
				Dst   netip.Addr `json:"dst"`
				Sport uint16     `json:"sport"`
				Dport uint16     `json:"dport"`
			} `json:"orig"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		switch r.Event {
		case "gap":
			t.Fatalf("gap record during the snapshot: %s", line)
		case "snapshot":
			if i, ok := bulkIndex(r.Orig.Src, r.Orig.Dst, r.Orig.Sport, r.Orig.Dport); ok && !seen[i] {
				seen[i] = true
				got++
			}
		case "dump":
			if r.SkippedFull != 0 || r.Error != "" || r.Entries < n {
				t.Errorf("dump record %s; want every entry, none skipped, no error", line)
			}
			if got != n {
				t.Fatalf("dump record after %d of %d entries' snapshot records: %s", got, n, line)
			}
			return
		}
	}
	t.Fatalf("no dump record within 2 minutes; %d of %d snapshot records", got, n)
}

// slowReader reads at most 16 KiB at a time, with a pause after each
// read: about 15 MB/s, several times slower than a dump.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p[:min(len(p), 16<<10)])
	time.Sleep(time.Millisecond) // the slowness under test, not a synchronisation
	return n, err
}

// bulkTuple is the original tuple of bulkCreate's entry i: UDP from
// 10.61.x.y to 10.62.0.1:53, i's bits spread over the source address and
// port.
func bulkTuple(i int) (src, dst [4]byte, sport, dport uint16) {
	return [4]byte{10, 61, byte(i >> 8), byte(i)}, [4]byte{10, 62, 0, 1}, uint16(1024 + i>>16), 53
}

// bulkIndex returns the i of bulkCreate's entry of that original tuple,
// if it is one.
func bulkIndex(src, dst netip.Addr, sport, dport uint16) (int, bool) {
	s, d := src.As4(), dst.As4()
	if !src.Is4() || s[0] != 10 || s[1] != 61 || d != [4]byte{10, 62, 0, 1} || dport != 53 || sport < 1024 {
		return 0, false
	}
	return int(sport-1024)<<16 | int(s[2])<<8 | int(s[3]), true
}

// bulkCreate creates n UDP entries in ns over ctnetlink, many requests
// to a sendmsg, failing the test on any refusal.
func bulkCreate(t testing.TB, ns *nstest.NS, n int) {
	t.Helper()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.Handle().FD()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	ctNew := ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)
	status := uint32(ctnl.IPSSeenReply | ctnl.IPSAssured | ctnl.IPSConfirmed)
	var buf []byte
	rbuf := make([]byte, 64<<10)
	send := func() {
		var serr error
		if err := raw.Write(func(fd uintptr) bool {
			serr = unix.Sendto(int(fd), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
			return true
		}); err != nil || serr != nil {
			t.Fatalf("send ctnetlink requests: %v %v", err, serr)
		}
		buf = buf[:0]
		// The kernel handles a sendmsg's requests before it returns and
		// answers only those that fail.
		for {
			var m int
			var rerr error
			_ = raw.Read(func(fd uintptr) bool {
				m, _, rerr = unix.Recvfrom(int(fd), rbuf, unix.MSG_DONTWAIT)
				return true
			})
			if errors.Is(rerr, unix.EAGAIN) {
				return
			}
			if rerr != nil {
				t.Fatalf("read ctnetlink answers: %v", rerr)
			}
			for b := rbuf[:m]; len(b) >= ctnl.NLMsgHdrLen; {
				msg, rest, err := ctnl.NextMessage(b)
				if err != nil {
					t.Fatalf("ctnetlink answer: %v", err)
				}
				b = rest
				if ctnl.ParseHeader(msg).Type != ctnl.NLMsgError {
					continue
				}
				if code, err := ctnl.ErrorCode(ctnl.Payload(msg)); err != nil || code != 0 {
					t.Fatalf("create entry refused: %v", errors.Join(err, unix.Errno(-code)))
				}
			}
		}
	}
	for i := range n {
		src, dst, sport, dport := bulkTuple(i)
		var h int
		buf, h = ctnl.AppendMessage(buf, ctNew, ctnl.NLMFRequest|ctnl.NLMFCreate|ctnl.NLMFExcl, uint32(i+1), unix.AF_INET)
		buf = appendUDP4Tuples(buf, src, dst, sport, dport)
		buf = ctnl.AppendU32(buf, ctnl.CTAStatus, status)
		buf = ctnl.AppendU32(buf, ctnl.CTATimeout, 600)
		buf = ctnl.EndMessage(buf, h)
		if len(buf) > 128<<10 { // below the socket's send buffer
			send()
		}
	}
	send()
	count := ns.Run("cat", "/proc/sys/net/netfilter/nf_conntrack_count")
	var got int
	if _, err := fmt.Sscan(count, &got); err != nil || got < n {
		t.Fatalf("nf_conntrack_count %q after creating %d entries", count, n)
	}
}
