//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
)

// The whole-node watch (--all-netns, --netns repeated) against the kernel.
// The host is shared: other namespaces (other tests') send events too, so
// every test selects its own with a filter on addresses no other test uses
// and looks only at its namespaces' records.

// anNS is a namespace a test made: named (ns set) or held by a process
// (pid set), with its inode.
type anNS struct {
	ns   *nstest.NS
	proc *ndProcess
	ino  uint64
}

// name is the namespace's name, "" for an unnamed one.
func (n anNS) name() string {
	if n.ns == nil {
		return ""
	}
	return n.ns.Name
}

// conntrack runs conntrack with args inside the namespace.
func (n anNS) conntrack(t *testing.T, args ...string) {
	t.Helper()
	if n.ns != nil {
		n.ns.Run(append([]string{"conntrack"}, args...)...)
		return
	}
	argv := append([]string{"-t", strconv.Itoa(n.proc.cmd.Process.Pid), "-n", "conntrack"}, args...)
	if out, err := exec.Command("nsenter", argv...).CombinedOutput(); err != nil {
		t.Fatalf("nsenter %v: %v: %s", argv, err, out)
	}
}

// anNamed and anUnnamed make a namespace for the test.
func anNamed(t *testing.T) anNS {
	ns := nstest.New(t)
	return anNS{ns: ns, ino: ndInode(t, ns.Path)}
}

func anUnnamed(t *testing.T) anNS {
	p := ndUnnamed(t, "")
	return anNS{proc: p, ino: p.ino}
}

// anTuple is the test's UDP flow: the same in every namespace.
var anTuple = []string{"-p", "udp", "-s", "10.77.0.1", "-d", "10.77.0.2", "--sport", "4000", "--dport", "53", "-t", "120"}

// anIdentity is a record's netns object.
func anIdentity(t testing.TB, r map[string]any) map[string]any {
	t.Helper()
	id, ok := r["netns"].(map[string]any)
	if !ok {
		t.Fatalf("record without a netns object: %v", r)
	}
	return id
}

// anInode is the inode a netns object names.
func anInode(t testing.TB, id map[string]any) uint64 {
	t.Helper()
	f, ok := id["inode"].(float64)
	if !ok {
		t.Fatalf("netns object without an inode: %v", id)
	}
	return uint64(f)
}

// anWaitAdded reads records until each namespace of inos has its
// netns_added record, within 2 s of from (plus the time the records take
// to be read: the reader is the test).
func anWaitAdded(t *testing.T, p *wtProc, inos map[uint64]bool) map[uint64]map[string]any {
	t.Helper()
	got := map[uint64]map[string]any{}
	for len(got) < len(inos) {
		r, _ := p.waitRecord(fmt.Sprintf("netns_added of %d namespaces (%d so far)", len(inos), len(got)), func(r map[string]any) bool {
			if r["event"] != "netns_added" {
				return false
			}
			return inos[anInode(t, anIdentity(t, r))]
		})
		got[anInode(t, anIdentity(t, r))] = r
	}
	return got
}

// anSelect is the filter that keeps the tests' flows and no other's.
var anSelect = []string{"--src", "10.77.0.0/16", "--stats-interval", "0", "--heartbeat", "0"}

func TestWatchAllNetNS(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "conntrack", "nsenter", "unshare")
	var nss []anNS
	for i := range 10 {
		if i%2 == 0 {
			nss = append(nss, anNamed(t))
		} else {
			nss = append(nss, anUnnamed(t))
		}
	}
	want := map[uint64]bool{}
	for _, n := range nss {
		want[n.ino] = true
	}
	p := wtStartNoWait(t, append([]string{"--all-netns"}, anSelect...)...)
	added := anWaitAdded(t, p, want)
	for _, n := range nss {
		// Present at the start: dumped, empty.
		if a := added[n.ino]; a["dumped"] != true {
			t.Errorf("namespace %d present at the start: netns_added %v, want dumped", n.ino, a)
		}
	}

	// The same tuple in every namespace: one NEW record each, tagged with
	// its own namespace.
	for _, n := range nss {
		n.conntrack(t, append([]string{"-I"}, anTuple...)...)
	}
	news := map[uint64]map[string]any{}
	for len(news) < len(nss) {
		r, _ := p.waitRecord(fmt.Sprintf("NEW records of %d namespaces (%d so far)", len(nss), len(news)), func(r map[string]any) bool {
			if r["event"] != "new" {
				return false
			}
			ev, ok := wtEntry(t, r)
			return ok && ev.Entry.Orig.Src == netip.MustParseAddr("10.77.0.1") && ev.Entry.Orig.SrcPort == 4000
		})
		ino := anInode(t, anIdentity(t, r))
		if !want[ino] {
			continue // another namespace's flow with our addresses cannot be; it would be a bug
		}
		if _, dup := news[ino]; dup {
			t.Fatalf("two NEW records for namespace %d: %v", ino, r)
		}
		news[ino] = r
	}
	for _, n := range nss {
		id := anIdentity(t, news[n.ino])
		if n.ns != nil {
			if id["name"] != n.name() {
				t.Errorf("namespace %s: netns %v, want its name", n.name(), id)
			}
		} else if pid, _ := id["pid"].(float64); int(pid) != n.proc.cmd.Process.Pid {
			t.Errorf("unnamed namespace of process %d: netns %v, want its pid", n.proc.cmd.Process.Pid, id)
		}
		if _, ok := id["nsid"].(float64); !ok {
			t.Errorf("namespace %d: netns %v without an nsid", n.ino, id)
		}
	}

	// A namespace added while watching is watched within 2 s.
	late := anNamed(t)
	start := time.Now()
	anWaitAdded(t, p, map[uint64]bool{late.ino: true})
	if took := time.Since(start); took > 2*time.Second+500*time.Millisecond {
		t.Errorf("netns_added %v after the namespace was made, want within 2 s", took)
	}
	late.conntrack(t, append([]string{"-I"}, anTuple...)...)
	r, _ := p.waitRecord("the late namespace's NEW record", func(r map[string]any) bool {
		return r["event"] == "new" && anInode(t, anIdentity(t, r)) == late.ino
	})
	if id := anIdentity(t, r); id["name"] != late.name() {
		t.Errorf("late namespace's record netns %v, want name %s", id, late.name())
	}

	// One deleted while watching: its flow ends, inferred (netns_gone),
	// and netns_removed says so; ctwatch goes on.
	gone := nss[0]
	gone.ns.Delete()
	removed, before := p.waitRecord("netns_removed", func(r map[string]any) bool {
		return r["event"] == "netns_removed" && anInode(t, anIdentity(t, r)) == gone.ino
	})
	var inferred map[string]any
	for _, b := range before {
		if b["event"] == "destroy" && b["inferred"] == true && anInode(t, anIdentity(t, b)) == gone.ino {
			inferred = b
		}
	}
	if inferred == nil {
		t.Fatalf("no inferred DESTROY of the deleted namespace's flow before netns_removed %v", removed)
	}
	if inferred["inferred_reason"] != "netns_gone" {
		t.Errorf("inferred DESTROY %v, want inferred_reason netns_gone", inferred)
	}
	if n, _ := removed["flows_ended"].(float64); n != 1 {
		t.Errorf("netns_removed %v, want flows_ended 1", removed)
	}
	// Still watching the others.
	nss[1].conntrack(t, "-D", "-p", "udp", "-s", "10.77.0.1", "-d", "10.77.0.2", "--sport", "4000", "--dport", "53")
	p.waitRecord("a DESTROY after the namespace went", func(r map[string]any) bool {
		return r["event"] == "destroy" && r["inferred"] != true && anInode(t, anIdentity(t, r)) == nss[1].ino
	})
	_, code, _ := p.stop()
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestWatchAllNetNSLoss overruns a small socket buffer with events of
// several namespaces: per namespace, the records read equal the stop
// record's count, and what was read plus the kernel's loss accounts for
// every event made.
func TestWatchAllNetNSLoss(t *testing.T) {
	nstest.RequireRoot(t)
	const per = 3000
	var nss []anNS
	for range 4 {
		nss = append(nss, anNamed(t))
	}
	want := map[uint64]bool{}
	for _, n := range nss {
		want[n.ino] = true
	}
	p := wtStartNoWait(t, append([]string{"--all-netns", "--buffer-size", "64K"}, anSelect...)...)
	anWaitAdded(t, p, want)

	done := make(chan error, len(nss))
	for _, n := range nss {
		ct := n.ns.Conntrack()
		go func() {
			for i := range per {
				if err := ct.Create(evFlow(unix.IPPROTO_UDP, "10.77.1.1", "10.77.1.2", uint16(1000+i), 53, 60, 0)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range nss {
		if err := <-done; err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	// Each create returned after the kernel queued its event or counted
	// it lost: the stop drains the socket.
	p.signal(syscall.SIGINT)
	_, code, _ := p.wait(time.Now())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	read := map[uint64]uint64{}
	var lost uint64
	var stop map[string]any
	for _, l := range p.seen {
		r := anParse(t, l)
		switch r["event"] {
		case "new":
			if id, ok := r["netns"].(map[string]any); ok && want[anInode(t, id)] {
				read[anInode(t, id)]++
			}
		case "gap":
			if r["stage"] == "kernel" {
				n, _ := r["lost"].(float64)
				lost += uint64(n)
			}
		case "stop":
			stop = r
		}
	}
	if stop == nil {
		t.Fatal("no stop record")
	}
	perNS := anStopNetNS(t, stop)
	var sum uint64
	for _, n := range nss {
		if diff := cmp.Diff(read[n.ino], perNS[n.ino].records); diff != "" {
			t.Errorf("namespace %d: records read vs the stop record's (-read +stop):\n%s", n.ino, diff)
		}
		if perNS[n.ino].events != read[n.ino] {
			t.Errorf("namespace %d: stop record says %d events received, %d records read (nothing is filtered out of these)", n.ino, perNS[n.ino].events, read[n.ino])
		}
		sum += read[n.ino]
	}
	made := uint64(per * len(nss))
	// The kernel's loss is the socket's, of every namespace: the host's
	// other namespaces' events may be among it, never ours beyond it.
	if sum > made || sum+lost < made {
		t.Errorf("read %d of %d events made, kernel lost %d: want read <= made <= read + lost", sum, made, lost)
	}
	t.Logf("read %d of %d events, kernel lost %d", sum, made, lost)
}

// anStopCount is one namespace's line of the stop record.
type anStopCount struct{ events, records uint64 }

// anStopNetNS reads the stop record's per-namespace counts by inode.
func anStopNetNS(t *testing.T, stop map[string]any) map[uint64]anStopCount {
	t.Helper()
	list, ok := stop["netns"].([]any)
	if !ok {
		t.Fatalf("stop record without netns totals: %v", stop)
	}
	out := map[uint64]anStopCount{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			t.Fatalf("stop record netns entry %v", e)
		}
		id := m
		if inner, ok := m["netns"].(map[string]any); ok {
			id = inner
		}
		ev, _ := m["events"].(float64)
		rec, _ := m["records"].(float64)
		out[anInode(t, id)] = anStopCount{uint64(ev), uint64(rec)}
	}
	return out
}

func anParse(t *testing.T, l string) map[string]any {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal([]byte(l), &r); err != nil {
		t.Fatalf("not JSON: %v: %q", err, l)
	}
	return r
}

// TestWatchNetNSSet watches two chosen namespaces: only their events are
// written, a third's are dropped and counted.
func TestWatchNetNSSet(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "conntrack", "ip")
	a, b, c := anNamed(t), anNamed(t), anNamed(t)
	// The third has an id here, so that its events reach ctwatch's socket
	// (discovery in another watcher may have given it one anyway).
	if out, err := exec.Command("ip", "netns", "set", c.name(), "auto").CombinedOutput(); err != nil {
		t.Fatalf("ip netns set %s auto: %v: %s", c.name(), err, out)
	}
	// Table statistics too: one reading of each namespace's table at the
	// start.
	p := wtStartNoWait(t, append(append([]string{"--netns", a.name(), "--netns", b.name()}, anSelect...), "--stats-interval", "1h")...)
	anWaitAdded(t, p, map[uint64]bool{a.ino: true, b.ino: true})
	for _, n := range []anNS{c, a, b} {
		n.conntrack(t, append([]string{"-I"}, anTuple...)...)
	}
	got := map[uint64]bool{}
	for len(got) < 2 {
		r, _ := p.waitRecord("NEW records of a and b", func(r map[string]any) bool { return r["event"] == "new" })
		ino := anInode(t, anIdentity(t, r))
		if ino != a.ino && ino != b.ino {
			t.Errorf("record of namespace %d, watched are %d and %d: %v", ino, a.ino, b.ino, r)
		}
		got[ino] = true
	}
	_, code, _ := p.stop()
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	var stop map[string]any
	stats := map[uint64]bool{}
	for _, l := range p.seen {
		r := anParse(t, l)
		if r["event"] == "stats" {
			stats[anInode(t, anIdentity(t, r))] = true
		}
		if r["event"] == "new" {
			if ino := anInode(t, anIdentity(t, r)); ino != a.ino && ino != b.ino {
				t.Errorf("record of an unwatched namespace %d: %v", ino, r)
			}
		}
		if r["event"] == "stop" {
			stop = r
		}
	}
	if stop == nil {
		t.Fatal("no stop record")
	}
	if diff := cmp.Diff(map[uint64]bool{a.ino: true, b.ino: true}, stats); diff != "" {
		t.Errorf("namespaces of the stats records (-want +got):\n%s", diff)
	}
	if n, _ := stop["other_netns"].(float64); n < 1 {
		t.Errorf("stop record %v: want other_netns >= 1 (c's NEW)", stop)
	}
}

// TestWatchNetNSSetWithAll refuses --all-netns with --netns.
func TestWatchNetNSSetWithAll(t *testing.T) {
	out, err := exec.Command(nstest.Binary(t), "--all-netns", "--netns", "x").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("ctwatch --all-netns --netns x: %v, want exit status 2: %s", err, out)
	}
}

// TestWatchNetNSSetGone deletes the namespaces of a set one by one: the
// first is removed as under --all-netns (its flow ended, netns_gone) and
// the watch goes on; once the last is gone, --on-netns-gone's default
// stops it with status 1.
func TestWatchNetNSSetGone(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "conntrack")
	a, b := anNamed(t), anNamed(t)
	p := wtStartNoWait(t, append([]string{"--netns", a.name(), "--netns", b.name()}, anSelect...)...)
	anWaitAdded(t, p, map[uint64]bool{a.ino: true, b.ino: true})
	a.conntrack(t, append([]string{"-I"}, anTuple...)...)
	p.waitRecord("a's NEW record", func(r map[string]any) bool {
		return r["event"] == "new" && anInode(t, anIdentity(t, r)) == a.ino
	})
	a.ns.Delete()
	removed, before := p.waitRecord("a's netns_removed", func(r map[string]any) bool {
		return r["event"] == "netns_removed" && anInode(t, anIdentity(t, r)) == a.ino
	})
	if n, _ := removed["flows_ended"].(float64); n != 1 {
		t.Errorf("netns_removed %v, want flows_ended 1", removed)
	}
	ended := false
	for _, r := range before {
		ended = ended || (r["event"] == "destroy" && r["inferred_reason"] == "netns_gone")
	}
	if !ended {
		t.Error("no inferred DESTROY (netns_gone) of a's flow")
	}
	b.ns.Delete()
	_, code, _ := p.wait(time.Now())
	if code != 1 {
		t.Errorf("exit status %d once every namespace of the set is gone, want 1", code)
	}
}
