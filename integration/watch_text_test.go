//go:build integration

package integration

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/nstest"
)

// TestWatchTextMatchesConntrack runs `ctwatch --format text` and
// `conntrack -E` side by side on the same real traffic, for each -o form:
// their lines must be the same, byte for byte, but for the two parts each
// process finds on its own (see wtComparable).
func TestWatchTextMatchesConntrack(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	for _, opts := range []string{
		"",
		"extended",
		"id",
		"extended,id",
		// The kernel sends its start and stop timestamps only with a
		// DESTROY, so these forms differ only on the DESTROY lines.
		"ktimestamp",
		"extended,id,ktimestamp",
		"timestamp",
		"extended,timestamp,id,ktimestamp",
	} {
		t.Run("o="+opts, func(t *testing.T) {
			o := make(map[string]bool)
			for _, name := range strings.Split(opts, ",") {
				o[name] = true
			}
			// wtTrackedNS turns on nf_conntrack_acct and
			// nf_conntrack_timestamp: the DESTROY lines carry counters,
			// delta-time and, with ktimestamp, [start=] and [stop=].
			ns := wtTrackedNS(t)
			dir := t.TempDir()
			ctOut := filepath.Join(dir, "conntrack.txt")
			f, err := os.Create(ctOut)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctArgs := []string{"conntrack", "-E"}
			watchArgs := []string{"watch", "--netns", ns.Name, "--format", "text"}
			if opts != "" {
				ctArgs = append(ctArgs, "-o", opts)
				watchArgs = append(watchArgs, "--text-opts", opts)
			}
			ct := ns.Command(ctArgs...)
			ct.Stdout = f
			if err := ct.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ct.Process.Kill(); ct.Wait() })
			w := wtStart(t, watchArgs...)
			// Both listeners must have joined the groups before traffic.
			wtPoll(t, "both listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 2 })

			flows := wtTraffic(t, ns)
			// Deleting the traffic's entries here, rather than waiting
			// for them to time out, gives DESTROY lines before the end,
			// each caused from userspace (this process's socket).
			conn := ns.Conntrack()
			for _, fl := range flows {
				evDelete(t, conn, fl)
			}
			// The end: a flow created through ctnetlink, whose event both
			// print after every event before it, in the kernel's order;
			// it only marks where the compared lines stop.
			end := evFlow(6, "10.99.0.1", "10.99.0.2", 4242, 4243, 100, 0)
			evWithin(t, evTimeout, "create", func() error { return conn.Create(end) })
			isEnd := func(l string) bool { return strings.Contains(l, "sport=4242 dport=4243") }
			var ours []string
			for {
				l, ok := w.next(timeNow().Add(wtTimeout))
				if !ok {
					t.Fatalf("no end line from ctwatch; got:\n%s", strings.Join(ours, "\n"))
				}
				if isEnd(l) {
					break
				}
				ours = append(ours, l)
			}
			var theirs []string
			wtPoll(t, "conntrack -E to print the end line", func() bool {
				theirs = theirs[:0]
				for _, l := range readLines(t, ctOut) {
					if isEnd(l) {
						return true
					}
					theirs = append(theirs, l)
				}
				return false
			})
			if len(ours) < 8 {
				t.Fatalf("only %d lines of traffic: %q", len(ours), ours)
			}

			// The DESTROY lines must be there and carry what they are
			// here for, or the comparison would not cover it.
			want := []string{"packets=", "bytes=", "delta-time=", " [USERSPACE] portid="}
			if o["ktimestamp"] {
				want = append(want, "[start=", "[stop=")
			}
			var destroys []string
			for _, l := range ours {
				if strings.Contains(l, "[DESTROY] ") {
					destroys = append(destroys, l)
				}
			}
			if len(destroys) != len(flows) {
				t.Errorf("%d DESTROY lines from ctwatch, want %d (one per deleted entry):\n%s", len(destroys), len(flows), strings.Join(destroys, "\n"))
			}
			for _, l := range destroys {
				for _, s := range want {
					if !strings.Contains(l, s) {
						t.Errorf("DESTROY line without %q: %s", s, l)
					}
				}
			}

			ourCmp, err := wtComparable(ours, o["timestamp"])
			if err != nil {
				t.Fatalf("ctwatch: %v", err)
			}
			theirCmp, err := wtComparable(theirs, o["timestamp"])
			if err != nil {
				t.Fatalf("conntrack -E: %v", err)
			}
			if diff := cmp.Diff(theirCmp, ourCmp); diff != "" {
				t.Errorf("ctwatch --format text differs from conntrack -E (-conntrack +ctwatch; receive times and program names left out):\n%s", diff)
			}
			ct.Process.Signal(syscall.SIGINT)
			w.stop()
		})
	}
}

// wtEventTime is the receive time that -o timestamp prefixes to a line,
// conntrack's "[%-.8ld.%-.6ld]\t".
var wtEventTime = regexp.MustCompile(`^\[[0-9]{8,}\.[0-9]{6}\]\t`)

// wtComparable returns lines without the parts that two listeners of the
// same events cannot print alike, so that everything else can be compared
// byte for byte:
//
//   - with -o timestamp, the "[sec.usec]" prefix: the time each process
//     received the event at, read from its own clock. Its form is checked
//     here instead.
//   - the " progname=NAME" of an event caused from userspace. Each process
//     finds the program itself, from the event's port id, by reading
//     /proc/net/netlink and scanning /proc/*/fd for the socket: a lookup
//     that races with the socket's owner (which may have closed it or
//     exited by then), and that conntrack -E and ctwatch do at different
//     moments, so one may name the program while the other does not. The
//     "[USERSPACE] portid=N" before it is the kernel's, and is kept.
func wtComparable(lines []string, timestamp bool) ([]string, error) {
	out := make([]string, len(lines))
	for i, l := range lines {
		if timestamp {
			p := wtEventTime.FindString(l)
			if p == "" {
				return nil, fmt.Errorf("line without the [sec.usec] prefix of -o timestamp: %q", l)
			}
			l = l[len(p):]
		}
		if u := strings.Index(l, " [USERSPACE] portid="); u >= 0 {
			if p := strings.Index(l[u:], " progname="); p >= 0 {
				l = l[:u+p]
			}
		}
		out[i] = l
	}
	return out, nil
}

// wtComparableDiff is cmp.Diff of conntrack's lines want and ctwatch's
// lines got, both without what each finds on its own (wtComparable,
// without timestamps).
func wtComparableDiff(want, got []string) string {
	want, _ = wtComparable(want, false)
	got, _ = wtComparable(got, false)
	return cmp.Diff(want, got)
}

// wtTraffic makes a TCP connection with data and close, a UDP exchange and
// an unanswered datagram, all on the namespace's loopback. It returns the
// three entries' original tuples, for deleting them.
func wtTraffic(t *testing.T, ns *nstest.NS) []conntrack.Flow {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	sport, dport := wtTCPExchange(t, ns)

	peer := evUDP(t, ns, "127.0.0.1:0")
	u := evUDP(t, ns, "127.0.0.1:0")
	evSendUDP(t, u, peer.LocalAddr().String(), "ping")
	buf := make([]byte, 16)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteToUDPAddrPort(buf[:n], from); err != nil {
		t.Fatal(err)
	}
	evSendUDP(t, u, "127.0.0.1:694", "heartbeat")
	return []conntrack.Flow{
		conntrack.NewFlow(6, 0, lo, lo, sport, dport, 0, 0),
		conntrack.NewFlow(17, 0, lo, lo, evPort(u.LocalAddr()), evPort(peer.LocalAddr()), 0, 0),
		conntrack.NewFlow(17, 0, lo, lo, evPort(u.LocalAddr()), 694, 0, 0),
	}
}
