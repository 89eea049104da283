//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// wlConf names bits 0, 1 and 3; bit 5, which the nft rules set too, has
// no name.
const wlConf = "# labels of TestWatchLabelsByName\n0 blue\n1 red\n3 heartbeat\n"

// wlConntrack is an "ip netns exec" command running conntrack with args in
// a private mount namespace where /etc is an overlay holding conf as
// /etc/xtables/connlabel.conf: conntrack reads its label names only from
// there, and the host's /etc is not touched. The chain execs into
// conntrack, so the command's process is conntrack's.
func wlConntrack(t *testing.T, ns *nstest.NS, conf string, args ...string) *exec.Cmd {
	t.Helper()
	nstest.RequireCommand(t, "conntrack", "unshare")
	dir := t.TempDir()
	script := `mount -t tmpfs ctwatch-labels "$1" && mkdir -p "$1/u/xtables" "$1/w" && cp "$2" "$1/u/xtables/connlabel.conf" &&
mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/u",workdir="$1/w" /etc && shift 2 && exec conntrack "$@"`
	argv := append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", dir, conf}, args...)
	return ns.Command(argv...)
}

// TestWatchLabelsByName: connlabels set by an nft rule and by conntrack -I
// --label-add come out of ctwatch by the names of --connlabel-file (bit
// numbers where it has none); --format text prints none, byte for byte as
// conntrack -E, and with --text-opts labels prints them as conntrack -E
// -o labels does, given the same file.
func TestWatchLabelsByName(t *testing.T) {
	ns := wtTrackedNS(t)
	// A ct label rule: ctnetlink can set labels (conntrack -I
	// --label-add) in a namespace only once one is loaded.
	ns.NFT(`table inet labels {
	chain out {
		type filter hook output priority -10; policy accept;
		udp dport 5005 ct label set 1 ct label set 3 ct label set 5
		udp dport 5006 ct label set 5
	}
}
`)
	dir := t.TempDir()
	conf := filepath.Join(dir, "connlabel.conf")
	if err := os.WriteFile(conf, []byte(wlConf), 0o644); err != nil {
		t.Fatal(err)
	}

	type listener struct {
		name string
		out  string
		cmd  *exec.Cmd
	}
	var cts []*listener
	for _, l := range []struct{ name, o string }{{"plain", ""}, {"labels", "labels"}} {
		args := []string{"-E"}
		if l.o != "" {
			args = append(args, "-o", l.o)
		}
		c := &listener{name: l.name, out: filepath.Join(dir, "conntrack-"+l.name+".txt"), cmd: wlConntrack(t, ns, conf, args...)}
		f, err := os.Create(c.out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c.cmd.Stdout, c.cmd.Stderr = f, f
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		cts = append(cts, c)
	}
	base := []string{"watch", "--netns", ns.Name, "--connlabel-file", conf}
	plain := wtStart(t, append(base, "--format", "text")...)
	labelled := wtStart(t, append(base, "--format", "text", "--text-opts", "labels")...)
	records := wtStart(t, append(base, "--updates", "all")...)
	wtPoll(t, "five listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 5 })

	// A datagram through the rule: its NEW carries bits 1, 3 and 5.
	u := evUDP(t, ns, "127.0.0.1:0")
	evSendUDP(t, u, "127.0.0.1:5005", "label me")
	sport := evPort(u.LocalAddr())
	// Through the other rule: only bit 5, which the file does not name.
	evSendUDP(t, u, "127.0.0.1:5006", "unnamed")
	// An entry made by conntrack, labelled by name ("blue" is bit 0).
	ins := wlConntrack(t, ns, conf, "-I", "-p", "udp", "-s", "10.99.1.1", "-d", "10.99.1.2", "--sport", "7000", "--dport", "7001", "-t", "100", "--label-add", "blue")
	if out, err := ins.CombinedOutput(); err != nil {
		t.Fatalf("conntrack -I --label-add blue: %v: %s", err, out)
	}
	// Deleted, both say DESTROY; then the end marker.
	for _, del := range [][]string{
		{"-D", "-p", "udp", "--sport", strconv.Itoa(int(sport)), "--dport", "5005"},
		{"-D", "-p", "udp", "-s", "10.99.1.1", "--sport", "7000"},
	} {
		if out, err := wlConntrack(t, ns, conf, del...).CombinedOutput(); err != nil {
			t.Fatalf("conntrack %s: %v: %s", strings.Join(del, " "), err, out)
		}
	}
	conn := ns.Conntrack()
	end := evFlow(6, "10.99.0.1", "10.99.0.2", 4242, 4243, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return conn.Create(end) })
	isEnd := func(l string) bool { return strings.Contains(l, "sport=4242 dport=4243") }

	// The records: labels by name, the unnamed bit by number.
	ruled := evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", sport, 5005)
	inserted := evTuple(model.ProtoUDP, "10.99.1.1", "10.99.1.2", 7000, 7001)
	ev, _ := records.waitEvent("NEW through the label rule", evAnd(ruled, evIs(model.EventNew)))
	if diff := cmp.Diff([]string{"red", "heartbeat", "5"}, ev.Entry.Labels); diff != "" {
		t.Errorf("labels of the rule's entry (-want +got):\n%s", diff)
	}
	ev, _ = records.waitEvent("NEW through the unnamed label rule", evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", sport, 5006), evIs(model.EventNew)))
	if diff := cmp.Diff([]string{"5"}, ev.Entry.Labels); diff != "" {
		t.Errorf("labels of the unnamed rule's entry (-want +got):\n%s", diff)
	}
	ev, _ = records.waitEvent("NEW from conntrack -I", evAnd(inserted, evIs(model.EventNew)))
	if diff := cmp.Diff([]string{"blue"}, ev.Entry.Labels); diff != "" {
		t.Errorf("labels of the inserted entry (-want +got):\n%s", diff)
	}

	linesUntilEnd := func(w *wtProc) []string {
		var out []string
		for {
			l, ok := w.next(timeNow().Add(wtTimeout))
			if !ok {
				t.Fatalf("no end line from ctwatch; got:\n%s", strings.Join(out, "\n"))
			}
			if isEnd(l) {
				return out
			}
			out = append(out, l)
		}
	}
	theirsUntilEnd := func(c *listener) []string {
		var out []string
		wtPoll(t, "conntrack -E ("+c.name+") to print the end line", func() bool {
			out = out[:0]
			for _, l := range readLines(t, c.out) {
				if isEnd(l) {
					return true
				}
				out = append(out, l)
			}
			return false
		})
		return out
	}
	for i, w := range []*wtProc{plain, labelled} {
		ours, theirs := linesUntilEnd(w), theirsUntilEnd(cts[i])
		if len(ours) < 4 {
			t.Fatalf("%s: only %d lines: %q", cts[i].name, len(ours), ours)
		}
		joined := strings.Join(ours, "\n")
		if i == 0 && strings.Contains(joined, "labels") {
			t.Errorf("--format text prints labels without --text-opts labels:\n%s", joined)
		}
		// conntrack prints only the names, and "labels" alone for an
		// entry whose bits have none.
		if i == 1 && (!strings.Contains(joined, " labels=red,heartbeat") || !strings.Contains(joined, " labels=blue") || !strings.Contains(joined, "dport=5006 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=5006 dport="+strconv.Itoa(int(sport))+" labels\n")) {
			t.Errorf("--text-opts labels: no labels=red,heartbeat, labels=blue and bare labels lines:\n%s", joined)
		}
		ourCmp, err := wtComparable(ours, false)
		if err != nil {
			t.Fatal(err)
		}
		theirCmp, err := wtComparable(theirs, false)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(theirCmp, ourCmp); diff != "" {
			t.Errorf("%s: ctwatch differs from conntrack -E (-conntrack +ctwatch; program names left out):\n%s", cts[i].name, diff)
		}
	}
	for _, c := range cts {
		c.cmd.Process.Signal(syscall.SIGINT)
	}
	plain.stop()
	labelled.stop()
	records.stop()
}
