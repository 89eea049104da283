//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/integration/nstest"
)

// TestWatchTextMatchesConntrack runs `ctwatch --format text` and
// `conntrack -E` side by side on the same real traffic, for each -o form:
// their lines must be the same, byte for byte.
func TestWatchTextMatchesConntrack(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	for _, opts := range []string{"", "extended", "id", "extended,id"} {
		t.Run("o="+opts, func(t *testing.T) {
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

			wtTraffic(t, ns)
			// The end: a flow created through ctnetlink, whose event both
			// print. Its line names the program behind it, which each
			// finds on its own, so it is not compared.
			end := evFlow(6, "10.99.0.1", "10.99.0.2", 4242, 4243, 100, 0)
			conn := ns.Conntrack()
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
			if diff := cmp.Diff(theirs, ours); diff != "" {
				t.Errorf("ctwatch --format text differs from conntrack -E (-conntrack +ctwatch):\n%s", diff)
			}
			ct.Process.Signal(syscall.SIGINT)
			w.stop()
		})
	}
}

// wtTraffic makes a TCP connection with data and close, a UDP exchange and
// an unanswered datagram, all on the namespace's loopback.
func wtTraffic(t *testing.T, ns *nstest.NS) {
	t.Helper()
	wtTCPExchange(t, ns)

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
}
