//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/nstest"
)

// ndWatch runs a Watcher for the test and records its events.
type ndWatch struct {
	t *testing.T
	w *nsdiscover.Watcher

	mu      sync.Mutex
	added   map[uint64]nsdiscover.Event
	addedAt map[uint64]time.Time
	removed map[uint64]time.Time
}

func ndStart(t *testing.T, cfg nsdiscover.Config) *ndWatch {
	t.Helper()
	cfg.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	d := &ndWatch{t: t, w: nsdiscover.New(cfg), added: map[uint64]nsdiscover.Event{}, addedAt: map[uint64]time.Time{}, removed: map[uint64]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.w.Run(ctx) }()
	go func() {
		for ev := range d.w.Events() {
			d.mu.Lock()
			switch ev.Kind {
			case nsdiscover.Added:
				if old, ok := d.added[ev.NS.Inode]; ok {
					old.Handle.Close()
				}
				d.added[ev.NS.Inode], d.addedAt[ev.NS.Inode] = ev, time.Now()
				delete(d.removed, ev.NS.Inode)
			case nsdiscover.Removed:
				d.removed[ev.NS.Inode] = time.Now()
			}
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, ev := range d.added {
			ev.Handle.Close()
		}
	})
	return d
}

// event returns the Added event of namespace ino, once it came.
func (d *ndWatch) event(ino uint64) (nsdiscover.Event, time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev, ok := d.added[ino]
	return ev, d.addedAt[ino], ok
}

func (d *ndWatch) removedAt(ino uint64) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.removed[ino]
	return at, ok
}

// waitAdded waits up to within for the Added event of ino.
func (d *ndWatch) waitAdded(ino uint64, since time.Time, within time.Duration) nsdiscover.Event {
	d.t.Helper()
	deadline := since.Add(within + 5*time.Second)
	for {
		if ev, at, ok := d.event(ino); ok {
			if took := at.Sub(since); took > within {
				d.t.Errorf("namespace %d reported after %v, want within %v", ino, took, within)
			}
			return ev
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("namespace %d never reported added", ino)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *ndWatch) waitRemoved(ino uint64, since time.Time, within time.Duration) {
	d.t.Helper()
	deadline := since.Add(within + 5*time.Second)
	for {
		if at, ok := d.removedAt(ino); ok {
			if took := at.Sub(since); took > within {
				d.t.Errorf("namespace %d reported removed after %v, want within %v", ino, took, within)
			}
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("namespace %d never reported removed", ino)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ndInode(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// ndProcess is a process in a namespace of its own, with no name.
type ndProcess struct {
	cmd *exec.Cmd
	ino uint64
}

// ndUnnamed starts "unshare -n sleep" (in cgroup dir when not empty) and
// kills it when the test ends.
func ndUnnamed(t *testing.T, cgroup string) *ndProcess {
	t.Helper()
	nstest.RequireCommand(t, "unshare", "sleep")
	cmd := exec.Command("unshare", "-n", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ndProcess{cmd: cmd}
	t.Cleanup(p.kill)
	own := ndInode(t, "/proc/self/ns/net")
	link := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	wtPoll(t, "unshare to enter its namespace", func() bool {
		var st unix.Stat_t
		return unix.Stat(link, &st) == nil && st.Ino != own && ndComm(cmd.Process.Pid) == "sleep"
	})
	p.ino = ndInode(t, link)
	if cgroup != "" {
		if err := os.WriteFile(filepath.Join(cgroup, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatalf("move %d into %s: %v", cmd.Process.Pid, cgroup, err)
		}
	}
	return p
}

func ndComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

func (p *ndProcess) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// ndCgroup2 returns where cgroup v2 is mounted, or "".
func ndCgroup2(t testing.TB) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fl := range fields {
			if fl == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" {
				return fields[4]
			}
		}
	}
	return ""
}

// ndCgroup makes the cgroup path rel (a runtime's layout) under a test
// directory of cgroup v2 and removes it when the test ends (after the
// processes in it, whose cleanups run first).
func ndCgroup(t *testing.T, rel string) string {
	t.Helper()
	root := ndCgroup2(t)
	if root == "" {
		nstest.Skip(t, "needs cgroup v2 to give a process a container's cgroup path")
	}
	var b [4]byte
	rand.Read(b[:])
	top := filepath.Join(root, "ctwatch-nsd-"+hex.EncodeToString(b[:]))
	dir := filepath.Join(top, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for d := dir; len(d) >= len(top); d = filepath.Dir(d) {
			if err := os.Remove(d); err != nil {
				t.Errorf("remove cgroup: %v", err)
			}
		}
	})
	return dir
}

func randHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randUUID() string {
	h := randHex(32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ipNetnsIDs reads the ids "ip netns list" shows for the named namespaces.
func ipNetnsIDs(t testing.TB) map[string]int32 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(\S+) \(id: (\d+)\)`)
	ids := map[string]int32{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			ids[m[1]] = int32(n)
		}
	}
	return ids
}

// TestNSDiscoverIdentity: ten namespaces, five named and five held only by
// a process (three of those in a container runtime's cgroup layout), one
// given an id beforehand by ip: all are found with their identity, get
// ids, keep the one set, and map both ways.
func TestNSDiscoverIdentity(t *testing.T) {
	nstest.RequireRoot(t)
	var named []*nstest.NS
	for range 5 {
		named = append(named, nstest.New(t))
	}
	// An id another tool set: far from the low ids the kernel hands out.
	preset := int32(100000 + int(randHex(4)[0])*7)
	if out, err := exec.Command("ip", "netns", "set", named[0].Name, strconv.Itoa(int(preset))).CombinedOutput(); err != nil {
		t.Fatalf("ip netns set: %v: %s", err, out)
	}
	cid1, cid2, cid3 := randHex(64), randHex(64), randHex(64)
	pod1, pod2 := randUUID(), randUUID()
	layouts := []struct {
		cgroup string
		want   nsdiscover.Container
	}{
		{"", nsdiscover.Container{}},
		{"", nsdiscover.Container{}},
		{"system.slice/docker-" + cid1 + ".scope", nsdiscover.Container{ID: cid1}},
		{"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(pod1, "-", "_") + ".slice/cri-containerd-" + cid2 + ".scope", nsdiscover.Container{ID: cid2, PodUID: pod1}},
		{"kubepods/burstable/pod" + pod2 + "/" + cid3, nsdiscover.Container{ID: cid3, PodUID: pod2}},
	}
	var procs []*ndProcess
	for _, l := range layouts {
		dir := ""
		if l.cgroup != "" {
			dir = ndCgroup(t, l.cgroup)
		}
		procs = append(procs, ndUnnamed(t, dir))
	}

	start := time.Now()
	d := ndStart(t, nsdiscover.Config{})
	ids, err := nsdiscover.DialIDs(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ids.Close()

	ipIDs := ipNetnsIDs(t)
	check := func(ino uint64, want nsdiscover.NS) {
		t.Helper()
		ev := d.waitAdded(ino, start, 5*time.Second)
		want.NSID = ev.NS.NSID
		if diff := cmp.Diff(want, ev.NS); diff != "" {
			t.Errorf("namespace %d (-want +got):\n%s", ino, diff)
		}
		if ev.NS.NSID < 0 {
			t.Errorf("namespace %d has no id", ino)
		}
		if got, ok := d.w.Lookup(ev.NS.NSID); !ok || got.Inode != ino {
			t.Errorf("Lookup(%d) = %d, %v; want namespace %d", ev.NS.NSID, got.Inode, ok, ino)
		}
		if got, ok := d.w.Inode(ino); !ok || got.NSID != ev.NS.NSID {
			t.Errorf("Inode(%d) = nsid %d, %v; want %d", ino, got.NSID, ok, ev.NS.NSID)
		}
		if ev.Handle == nil || ev.Handle.ID() != ino || ev.Handle.FD() <= 0 {
			t.Errorf("namespace %d: handle %v, want a descriptor of it", ino, ev.Handle)
		} else if kid, err := ids.Get(ev.Handle.FD()); err != nil || kid != ev.NS.NSID {
			t.Errorf("kernel's id of namespace %d = %d, %v; want %d", ino, kid, err, ev.NS.NSID)
		}
	}
	for _, ns := range named {
		ino := ndInode(t, ns.Path)
		check(ino, nsdiscover.NS{Inode: ino, Name: ns.Name})
		ev, _, _ := d.event(ino)
		if got := ipNetnsIDs(t)[ns.Name]; got != ev.NS.NSID {
			t.Errorf("ip netns list: %s has id %d, the watcher says %d", ns.Name, got, ev.NS.NSID)
		}
	}
	if ev, _, _ := d.event(ndInode(t, named[0].Path)); ev.NS.NSID != preset || ipIDs[named[0].Name] != preset {
		t.Errorf("namespace with id %d set by ip: watcher says %d, ip said %d beforehand", preset, ev.NS.NSID, ipIDs[named[0].Name])
	}
	for i, p := range procs {
		check(p.ino, nsdiscover.NS{Inode: p.ino, PID: p.cmd.Process.Pid, Container: layouts[i].want})
		ev, _, _ := d.event(p.ino)
		if kid, err := ids.GetPID(p.cmd.Process.Pid); err != nil || kid != ev.NS.NSID {
			t.Errorf("kernel's id of pid %d's namespace = %d, %v; want %d", p.cmd.Process.Pid, kid, err, ev.NS.NSID)
		}
	}
	// Ten different ids.
	seen := map[int32]uint64{}
	for _, n := range d.w.Snapshot() {
		if n.NSID < 0 {
			continue
		}
		if other, dup := seen[n.NSID]; dup {
			t.Errorf("id %d given to namespaces %d and %d", n.NSID, other, n.Inode)
		}
		seen[n.NSID] = n.Inode
	}
	if self, ok := d.w.Inode(ndInode(t, "/proc/self/ns/net")); !ok || !self.Self || self.PID != os.Getpid() {
		t.Errorf("own namespace = %+v, %v; want it, marked Self, with this process", self, ok)
	}
}

// TestNSDiscoverChanges: namespaces added while watching are reported
// within the interval; one whose name is removed stays while a process
// holds it and goes when that process ends; one held by a process only
// goes with it; a removed namespace's id still resolves for Linger, then
// no longer.
func TestNSDiscoverChanges(t *testing.T) {
	nstest.RequireRoot(t)
	held := nstest.New(t)
	heldIno := ndInode(t, held.Path)
	inside := held.Command("sleep", "600")
	if err := inside.Start(); err != nil {
		t.Fatal(err)
	}
	insideDone := false
	t.Cleanup(func() {
		if !insideDone {
			inside.Process.Kill()
			inside.Wait()
		}
	})
	wtPoll(t, "a process inside the named namespace", func() bool {
		var st unix.Stat_t
		return unix.Stat(fmt.Sprintf("/proc/%d/ns/net", inside.Process.Pid), &st) == nil && st.Ino == heldIno
	})

	const linger = time.Second
	start := time.Now()
	d := ndStart(t, nsdiscover.Config{Linger: linger})
	d.waitAdded(heldIno, start, 5*time.Second)

	// Added while watching: a name is seen by inotify, a process by the
	// next look (DefaultInterval).
	t0 := time.Now()
	fresh := nstest.New(t)
	freshIno := ndInode(t, fresh.Path)
	freshEv := d.waitAdded(freshIno, t0, 2*time.Second)
	if freshEv.NS.Name != fresh.Name || freshEv.NS.NSID < 0 {
		t.Errorf("new named namespace = %+v, want %s with an id", freshEv.NS, fresh.Name)
	}
	t0 = time.Now()
	proc := ndUnnamed(t, "")
	procEv := d.waitAdded(proc.ino, t0, nsdiscover.DefaultInterval+500*time.Millisecond)
	if procEv.NS.PID != proc.cmd.Process.Pid {
		t.Errorf("new unnamed namespace's pid = %d, want %d", procEv.NS.PID, proc.cmd.Process.Pid)
	}

	// The held namespace's name goes first, then the fresh one's: when
	// the fresh one is reported removed, the watcher has looked since the
	// held one lost its name, and its process keeps it.
	t0 = time.Now()
	held.Delete()
	fresh.Delete()
	d.waitRemoved(freshIno, t0, 2*time.Second)
	if _, gone := d.removedAt(heldIno); gone {
		t.Errorf("namespace held by pid %d reported removed with its name", inside.Process.Pid)
	}
	if _, ok := d.w.Inode(freshIno); ok {
		t.Errorf("removed namespace %d still in the snapshot", freshIno)
	}
	// Lingering: a message still queued from it is still placed.
	removedAt, _ := d.removedAt(freshIno)
	if got, ok := d.w.Lookup(freshEv.NS.NSID); !ok || got.Inode != freshIno {
		if time.Since(removedAt) < linger {
			t.Errorf("Lookup(%d) = %d, %v right after removal; want namespace %d for %v", freshEv.NS.NSID, got.Inode, ok, freshIno, linger)
		}
	}
	wtPoll(t, "the removed namespace's id to be forgotten after Linger", func() bool {
		got, ok := d.w.Lookup(freshEv.NS.NSID)
		return !ok || got.Inode != freshIno
	})
	if took := time.Since(removedAt); took < linger {
		t.Errorf("removed namespace's id forgotten after %v, want %v", took, linger)
	}

	t0 = time.Now()
	inside.Process.Kill()
	inside.Wait()
	insideDone = true
	d.waitRemoved(heldIno, t0, nsdiscover.DefaultInterval+500*time.Millisecond)

	t0 = time.Now()
	proc.kill()
	d.waitRemoved(proc.ino, t0, nsdiscover.DefaultInterval+500*time.Millisecond)
}
