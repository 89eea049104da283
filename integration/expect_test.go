//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// expectRuleset gives FTP control connections to port 21 the ftp helper,
// which reads their PASV replies and expects the data connections they
// announce.
const expectRuleset = `table inet t {
	ct helper ftp-std {
		type "ftp" protocol tcp;
	}
	chain out {
		type filter hook output priority 0;
		tcp dport 21 ct helper set "ftp-std";
	}
	chain in {
		type filter hook input priority 0;
		ct state new,established,related accept;
	}
}
`

// expectFTP runs a minimal FTP exchange on the namespace's loopback: a
// server on :21 that answers PASV with a data port, a client that sends
// PASV and connects there, and reads one byte. It returns the data port.
func expectFTP(t *testing.T, ns *nstest.NS) uint16 {
	t.Helper()
	ctl := evListenTCP(t, ns, "127.0.0.1:21")
	data := evListenTCP(t, ns, "127.0.0.1:0")
	dataPort := evPort(data.Addr())
	served := make(chan error, 1)
	go func() {
		served <- func() error {
			c, err := ctl.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := ftpServePASV(c, dataPort); err != nil {
				return err
			}
			d, err := data.Accept()
			if err != nil {
				return err
			}
			_, err = d.Write([]byte("x"))
			d.Close()
			return err
		}()
	}()
	ftpPASV(t, ns)
	d := evDialTCP(t, ns, fmt.Sprintf("127.0.0.1:%d", dataPort))
	d.SetDeadline(time.Now().Add(evTimeout))
	if _, err := d.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read the data connection: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("FTP server: %v", err)
	}
	return dataPort
}

// ftpServePASV is the server's side of an FTP control connection c up to
// the PASV reply that makes the ftp helper expect a data connection to
// dataPort: a banner, the client's PASV, the 227 reply.
func ftpServePASV(c net.Conn, dataPort uint16) error {
	c.SetDeadline(time.Now().Add(evTimeout))
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("220 ctwatch test\r\n")); err != nil {
		return err
	}
	if l, err := r.ReadString('\n'); err != nil || l != "PASV\r\n" {
		return fmt.Errorf("read PASV: %q, %v", l, err)
	}
	_, err := fmt.Fprintf(c, "227 Entering Passive Mode (127,0,0,1,%d,%d).\r\n", dataPort>>8, dataPort&0xff)
	return err
}

// ftpPASV is the client's side of ftpServePASV: it connects to the
// namespace's FTP server on :21, sends PASV once the banner is read, and
// reads the reply. The control connection stays open until the test ends.
func ftpPASV(t *testing.T, ns *nstest.NS) {
	t.Helper()
	c := evDialTCP(t, ns, "127.0.0.1:21")
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(evTimeout))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220 ") {
		t.Fatalf("banner %q: %v", l, err)
	}
	if _, err := c.Write([]byte("PASV\r\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "227 ") {
		t.Fatalf("PASV reply %q: %v", l, err)
	}
}

// TestWatchExpectFTP runs `ctwatch --format text --events expect` and
// `conntrack -E expect` side by side on an FTP exchange whose PASV reply
// makes the ftp helper expect a data connection: their lines must be the
// same, byte for byte (-o timestamp's receive times left out). A JSON
// watch of the same events carries the expected tuple and the master's,
// and the data connection's NEW, related to the master (EXPECTED) and
// carrying the same master tuple.
func TestWatchExpectFTP(t *testing.T) {
	nstest.RequireCommand(t, "conntrack", "nft")
	for _, opts := range []string{"", "timestamp"} {
		t.Run("o="+opts, func(t *testing.T) {
			ns := nstest.New(t)
			ns.NFT(expectRuleset)
			ctOut := filepath.Join(t.TempDir(), "conntrack.txt")
			f, err := os.Create(ctOut)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctArgs := []string{"conntrack", "-E", "expect"}
			textArgs := []string{"watch", "--netns", ns.Name, "--format", "text", "--events", "expect"}
			if opts != "" {
				ctArgs = append(ctArgs, "-o", opts)
				textArgs = append(textArgs, "--text-opts", opts)
			}
			ct := ns.Command(ctArgs...)
			ct.Stdout = f
			if err := ct.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ct.Process.Kill(); ct.Wait() })
			text := wtStart(t, textArgs...)
			js := wtStart(t, "watch", "--netns", ns.Name, "--events", "new,expect")
			wtPoll(t, "the three listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 3 })

			dataPort := expectFTP(t, ns)
			// The data connection matched the expectation, which the
			// kernel destroyed then: the last line of both.
			isLast := func(l string) bool {
				return strings.Contains(l, "[DESTROY] ") && strings.Contains(l, fmt.Sprintf(" dport=%d ", dataPort))
			}
			var theirs []string
			wtPoll(t, "conntrack -E expect to print the expectation's destroy", func() bool {
				theirs = readLines(t, ctOut)
				return len(theirs) > 0 && isLast(theirs[len(theirs)-1])
			})
			var ours []string
			for len(ours) < len(theirs) {
				l, ok := text.next(timeNow().Add(wtTimeout))
				if !ok {
					t.Fatalf("ctwatch printed %d lines, conntrack %d:\n%s\nconntrack:\n%s", len(ours), len(theirs), strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
				}
				ours = append(ours, l)
			}
			if !strings.Contains(theirs[0], "    [NEW] ") || !strings.Contains(theirs[0], " master-src=127.0.0.1 master-dst=127.0.0.1 ") || !strings.Contains(theirs[0], " dport=21 class=0 helper=ftp") {
				t.Errorf("conntrack's first line is not the ftp expectation's NEW: %q", theirs[0])
			}
			ourCmp, err := expectComparable(ours, opts == "timestamp")
			if err != nil {
				t.Fatalf("ctwatch: %v", err)
			}
			theirCmp, err := expectComparable(theirs, opts == "timestamp")
			if err != nil {
				t.Fatalf("conntrack -E expect: %v", err)
			}
			t.Logf("%d expectation lines compared, the first: %s", len(theirs), theirs[0])
			if diff := cmp.Diff(theirCmp, ourCmp); diff != "" {
				t.Errorf("ctwatch --format text --events expect differs from conntrack -E expect (-conntrack +ctwatch):\n%s", diff)
			}

			// The kernel destroys the expectation as the data connection
			// matches it, before that connection's NEW.
			related, seen := js.waitRecord("the data connection's NEW", func(r map[string]any) bool {
				o, _ := r["orig"].(map[string]any)
				return r["event"] == "new" && o["dport"] == float64(dataPort)
			})
			var exp map[string]any
			destroyed := false
			for _, r := range seen {
				tu, _ := r["tuple"].(map[string]any)
				if tu["dport"] != float64(dataPort) {
					continue
				}
				switch r["event"] {
				case "expect_new":
					exp = r
				case "expect_destroy":
					destroyed = true
				}
			}
			if exp == nil || !destroyed {
				t.Fatalf("no expect_new and expect_destroy of port %d before the data connection's NEW: %v", dataPort, seen)
			}
			master, _ := exp["master"].(map[string]any)
			if master["dport"] != 21.0 || master["src"] != "127.0.0.1" || exp["helper"] != "ftp" {
				t.Errorf("expect_new record without the FTP master: %v", exp)
			}
			if mask, _ := exp["mask"].(map[string]any); mask["dport"] != 65535.0 || mask["src"] != "255.255.255.255" {
				t.Errorf("expect_new mask %v", exp["mask"])
			}
			if st, _ := related["status"].([]any); !slices.Contains(st, any("EXPECTED")) {
				t.Errorf("the data connection's NEW is not EXPECTED: %v", related)
			}
			// The related connection links to the flow that opened it:
			// its master is the expectation's.
			if diff := cmp.Diff(exp["master"], related["master"]); diff != "" {
				t.Errorf("the data connection's master differs from the expectation's (-expectation +connection):\n%s", diff)
			}
			ct.Process.Signal(syscall.SIGINT)
			text.stop()
			js.stop()
		})
	}
}

// expectComparable returns lines without -o timestamp's "[sec.usec]\t"
// prefix, each process's own receive time, after checking its form
// (conntrack prints an expectation's as "[%-8ld.%-6ld]").
func expectComparable(lines []string, timestamp bool) ([]string, error) {
	out := make([]string, len(lines))
	for i, l := range lines {
		if timestamp {
			ev, form, err := model.ParseExpectText(l)
			if err != nil || !form.Timestamp || ev.Time.IsZero() {
				return nil, fmt.Errorf("line without the [sec.usec] prefix of -o timestamp: %q (%v)", l, err)
			}
			_, l, _ = strings.Cut(l, "]\t")
		}
		out[i] = l
	}
	return out, nil
}

// TestSubscribeExpect: a subscription to the expectation groups alone
// delivers the ftp helper's expectation in Batch.Expects, and no
// connection event.
func TestSubscribeExpect(t *testing.T) {
	ns := nstest.New(t)
	ns.NFT(expectRuleset)
	sub := evSubscribe(t, ns, events.Config{Types: events.ExpectTypes})
	dataPort := expectFTP(t, ns)
	b := events.NewBatch()
	deadline := timeNow().Add(evTimeout)
	var got []string
	for timeNow().Before(deadline) {
		if err := sub.Receive(b, true); err != nil {
			t.Fatal(err)
		}
		if len(b.Events) > 0 {
			t.Fatalf("%d connection events on an expectation subscription", len(b.Events))
		}
		for _, x := range b.Expects {
			got = append(got, string(model.AppendExpectText(nil, &x.ExpectEvent, nil)))
			if x.Type == model.EventDestroy && x.Expect.Tuple.DstPort == dataPort {
				if st := sub.Stats(); st.Expects == 0 || st.DecodeErrors != 0 {
					t.Errorf("stats %+v", st)
				}
				return
			}
		}
	}
	t.Fatalf("no destroy of the expectation of port %d; got:\n%s", dataPort, strings.Join(got, "\n"))
}
