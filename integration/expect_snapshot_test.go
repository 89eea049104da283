//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/nstest"
)

// expectPending makes the ftp helper expect a data connection that never
// comes: a server on :21 answers PASV with a port nothing listens on, and
// both ends keep the control connection open until the test ends, so that
// the expectation stays (the ftp helper's lasts 300 s). It returns the
// expected data port.
func expectPending(t *testing.T, ns *nstest.NS) uint16 {
	t.Helper()
	ctl := evListenTCP(t, ns, "127.0.0.1:21")
	const dataPort = 47999
	served := make(chan error, 1)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		c, err := ctl.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		served <- ftpServePASV(c, dataPort)
		<-done
	}()
	ftpPASV(t, ns)
	if err := <-served; err != nil {
		t.Fatalf("FTP server: %v", err)
	}
	return dataPort
}

// splitTimeout splits an expectation line of conntrack -L expect into its
// leading timeout and the rest: the seconds left tick down between two
// listings.
func splitTimeout(t *testing.T, l string) (int, string) {
	t.Helper()
	n, rest, _ := strings.Cut(l, " ")
	sec, err := strconv.Atoi(n)
	if err != nil {
		t.Fatalf("expectation line without its timeout: %q", l)
	}
	return sec, rest
}

// TestWatchExpectSnapshot: with an expectation waiting in the table,
// `ctwatch --snapshot --events expect` writes it before the live stream:
// in text form the line `conntrack -L expect` prints (its timeout within a
// second), and in JSON an "expect_snapshot" record with the expected
// tuple and the FTP master, counted by the dump record.
func TestWatchExpectSnapshot(t *testing.T) {
	nstest.RequireCommand(t, "conntrack", "nft")
	ns := nstest.New(t)
	ns.NFT(expectRuleset)
	dataPort := expectPending(t, ns)

	text := wtStart(t, "watch", "--netns", ns.Name, "--format", "text", "--snapshot", "--events", "expect")
	var ours []string
	for {
		l, ok := text.next(timeNow().Add(wtTimeout))
		if !ok {
			t.Fatalf("ctwatch printed no expectation line: %q", ours)
		}
		ours = append(ours, l)
		if strings.Contains(l, " master-src=") {
			break
		}
	}
	out, err := ns.Command("conntrack", "-L", "expect").Output()
	if err != nil {
		t.Fatalf("conntrack -L expect: %v", err)
	}
	theirs := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(theirs) != 1 || !strings.Contains(theirs[0], fmt.Sprintf(" dport=%d ", dataPort)) {
		t.Fatalf("conntrack -L expect: want the one FTP expectation, got %q", theirs)
	}
	ourLine := ours[len(ours)-1]
	t.Logf("conntrack -L expect: %s", theirs[0])
	ourSec, ourRest := splitTimeout(t, ourLine)
	theirSec, theirRest := splitTimeout(t, theirs[0])
	if diff := cmp.Diff(theirRest, ourRest); diff != "" {
		t.Errorf("ctwatch --format text --snapshot --events expect differs from conntrack -L expect (-conntrack +ctwatch):\n%s", diff)
	}
	// ctwatch listed first: its seconds left are conntrack's or one more.
	if ourSec < theirSec || ourSec > theirSec+1 {
		t.Errorf("timeout %d, conntrack's %d", ourSec, theirSec)
	}
	text.stop()

	js := wtStartNoWait(t, "watch", "--netns", ns.Name, "--snapshot", "--events", "expect")
	dump, seen := js.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	var snap map[string]any
	for _, r := range seen {
		if r["event"] == "expect_snapshot" {
			if snap != nil {
				t.Errorf("a second expect_snapshot record: %v", r)
			}
			snap = r
		}
	}
	if snap == nil {
		t.Fatalf("no expect_snapshot record before the dump record: %v", seen)
	}
	tuple, _ := snap["tuple"].(map[string]any)
	master, _ := snap["master"].(map[string]any)
	if tuple["dport"] != float64(dataPort) || master["dport"] != 21.0 || master["src"] != "127.0.0.1" || snap["helper"] != "ftp" {
		t.Errorf("expect_snapshot record without the FTP expectation of port %d: %v", dataPort, snap)
	}
	if dump["expectations"] != 1.0 || dump["error"] != nil {
		t.Errorf("dump record %v: want 1 expectation and no error", dump)
	}
	js.stop()
}

// TestWatchInferredMaster: the FTP data connection's NEW carries its
// master, the control connection; when the namespace goes, the data
// flow's inferred destroy (inferred_reason netns_gone) carries the same
// master, as a DESTROY from the kernel would.
func TestWatchInferredMaster(t *testing.T) {
	nstest.RequireCommand(t, "nft")
	ns := nstest.New(t)
	ns.NFT(expectRuleset)
	p := wtStart(t, "watch", "--netns", ns.Name, "--events", "new,destroy")
	dataPort := expectFTP(t, ns)
	related, _ := p.waitRecord("the data connection's NEW", func(r map[string]any) bool {
		o, _ := r["orig"].(map[string]any)
		return r["event"] == "new" && o["dport"] == float64(dataPort)
	})
	if m, _ := related["master"].(map[string]any); m["dport"] != 21.0 {
		t.Fatalf("the data connection's NEW has no FTP master: %v", related)
	}
	ns.Delete()
	rest, code, _ := p.wait(time.Now())
	if code != 1 {
		t.Errorf("exit status %d, want 1 (the namespace is gone)", code)
	}
	var ended map[string]any
	for _, l := range rest {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		if o, _ := r["orig"].(map[string]any); r["event"] == "destroy" && r["inferred"] == true && o["dport"] == float64(dataPort) {
			ended = r
		}
	}
	if ended == nil {
		t.Fatalf("no inferred destroy of the data connection:\n%s", strings.Join(rest, "\n"))
	}
	if ended["inferred_reason"] != "netns_gone" {
		t.Errorf("inferred_reason %v, want netns_gone", ended["inferred_reason"])
	}
	if diff := cmp.Diff(related["master"], ended["master"]); diff != "" {
		t.Errorf("the inferred destroy's master differs from the NEW's (-new +inferred):\n%s", diff)
	}
}
