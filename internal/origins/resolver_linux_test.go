package origins

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeProc is a /proc tree of processes holding sockets, and a netlink
// table, under test control.
type fakeProc struct {
	t     *testing.T
	root  string
	table string
	reads int
	now   time.Time
}

func newFakeProc(t *testing.T) *fakeProc {
	return &fakeProc{t: t, root: t.TempDir(), now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)}
}

// process adds a process with comm and fds pointing at targets.
func (p *fakeProc) process(pid int, comm string, targets ...string) {
	p.t.Helper()
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
		p.t.Fatal(err)
	}
	for i, target := range targets {
		if err := os.Symlink(target, filepath.Join(dir, "fd", strconv.Itoa(i))); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *fakeProc) exit(pid int) {
	if err := os.RemoveAll(filepath.Join(p.root, strconv.Itoa(pid))); err != nil {
		p.t.Fatal(err)
	}
}

// sockets sets the netlink table: port id → inode, all NETLINK_NETFILTER.
func (p *fakeProc) sockets(m map[uint32]uint64) {
	p.table = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n" +
		"00000000c1a28323 0   0          00000000 0        0        0     2        0        4       \n"
	for portid, ino := range m {
		p.table += "0000000069f9b0e4 12  " + strconv.FormatUint(uint64(portid), 10) + " 00000000 0 0 0 2 0 " + strconv.FormatUint(ino, 10) + "\n"
	}
}

func (p *fakeProc) resolver() *Resolver {
	return newResolver(func() ([]byte, error) {
		p.reads++
		return []byte(p.table), nil
	}, p.root, func() time.Time { return p.now })
}

// result is what Resolve returns.
type result struct {
	pid  int32
	prog string
}

// resolveAt is Resolve of an event that arrived at at, as a result.
func resolveAt(r *Resolver, portid uint32, at time.Time) result {
	pid, prog := r.Resolve(portid, at)
	return result{pid, prog}
}

func TestResolve(t *testing.T) {
	p := newFakeProc(t)
	if err := os.MkdirAll(filepath.Join(p.root, "sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.process(100, "conntrack", "/dev/null", "socket:[71203]")
	p.process(200, "kube-proxy", "socket:[5555]")
	p.sockets(map[uint32]uint64{3891935553: 71203, 42: 9999})
	r := p.resolver()

	check := func(step string, portid uint32, at time.Time, want result, wantReads int) {
		t.Helper()
		if got := resolveAt(r, portid, at); got != want {
			t.Errorf("%s: Resolve(%d) = %+v, want %+v", step, portid, got, want)
		}
		if p.reads != wantReads {
			t.Errorf("%s: netlink table read %d times, want %d", step, p.reads, wantReads)
		}
	}

	t0 := p.now
	check("kernel", 0, t0, result{}, 0)
	check("first lookup", 3891935553, t0, result{100, "conntrack"}, 1)
	// Cached: neither the table nor /proc is read again, even though the
	// process is gone by now.
	p.exit(100)
	p.now = p.now.Add(10 * time.Millisecond)
	check("cached", 3891935553, p.now, result{100, "conntrack"}, 1)

	// A port id the table read after the event's arrival does not hold:
	// its socket is gone, and the table is not read again.
	check("gone before the read", 7, t0, result{}, 1)
	// The same port id on an event that arrived after the read: the table
	// is read again, in case the socket is new.
	check("unknown port id, read again", 7, p.now, result{}, 2)
	check("unknown port id, same batch", 7, p.now, result{}, 2)

	// A socket no process holds (its owner exited): not found, and not
	// scanned for again at once.
	check("vanished owner", 42, p.now, result{}, 2)
	p.process(300, "late", "socket:[9999]")
	check("vanished owner, within ownerRetry", 42, p.now, result{}, 2)
	p.now = p.now.Add(ownerRetry)
	check("owner found once ownerRetry passed", 42, t0, result{300, "late"}, 2)

	// The port id is reused by another socket: noticed when an event
	// arrives more than tableMaxAge after the last read.
	p.sockets(map[uint32]uint64{3891935553: 5555})
	p.now = p.now.Add(tableMaxAge + time.Millisecond)
	check("reused port id", 3891935553, p.now, result{200, "kube-proxy"}, 3)
	// The socket of 42 is gone with the new table, but an event that
	// arrived while it was there is still its own.
	check("gone socket, earlier event", 42, t0, result{300, "late"}, 3)
	p.now = p.now.Add(time.Millisecond)
	check("gone socket, later event", 42, p.now, result{}, 4)
}

// TestResolveLateSocket: a requester whose socket appears 30 ms after the
// table was read for an earlier request is named: its event arrived after
// that read, so the table is read again.
func TestResolveLateSocket(t *testing.T) {
	p := newFakeProc(t)
	p.process(100, "conntrack", "socket:[1000]")
	p.sockets(map[uint32]uint64{100: 1000})
	r := p.resolver()
	if got, want := resolveAt(r, 100, p.now), (result{100, "conntrack"}); got != want {
		t.Fatalf("first requester: %+v, want %+v", got, want)
	}
	p.now = p.now.Add(30 * time.Millisecond)
	p.process(101, "nft-sync", "socket:[1001]")
	p.sockets(map[uint32]uint64{100: 1000, 101: 1001})
	for i := range 3 {
		if got, want := resolveAt(r, 101, p.now), (result{101, "nft-sync"}); got != want {
			t.Errorf("event %d of the second requester: %+v, want %+v", i, got, want)
		}
	}
	if p.reads != 2 {
		t.Errorf("netlink table read %d times, want 2", p.reads)
	}
}

// TestResolveLongRequest: one socket causes many events (conntrack -U over
// 217 entries) that are handled after the program exited: once the first
// is named, all are, and the table is read at most once per batch.
func TestResolveLongRequest(t *testing.T) {
	const entries = 217
	p := newFakeProc(t)
	p.process(4000, "conntrack", "socket:[4001]")
	p.sockets(map[uint32]uint64{4000: 4001})
	r := p.resolver()
	t0 := p.now
	arrival := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }

	// The first batch is handled while the program still runs.
	p.now = arrival(10)
	named := 0
	for i := range 10 {
		if resolveAt(r, 4000, arrival(i)).prog == "conntrack" {
			named++
		}
	}
	// It exits; another program's event makes the table be read again,
	// which no longer holds the socket.
	p.exit(4000)
	p.sockets(map[uint32]uint64{77: 7700})
	p.process(77, "other", "socket:[7700]")
	p.now = arrival(entries + 5)
	if got := resolveAt(r, 77, p.now).prog; got != "other" {
		t.Errorf("other program: %q", got)
	}
	for i := 10; i < entries; i++ {
		if resolveAt(r, 4000, arrival(i)).prog == "conntrack" {
			named++
		}
	}
	if named != entries {
		t.Errorf("%d of %d events named", named, entries)
	}
	if p.reads != 2 {
		t.Errorf("netlink table read %d times, want 2", p.reads)
	}
}

// TestResolveGoneBeforeRead: a requester that exits before any of its
// events is handled stays unknown, for every one of its events, at the
// cost of one table read; a requester still there in the same batch is
// named.
func TestResolveGoneBeforeRead(t *testing.T) {
	p := newFakeProc(t)
	p.process(500, "ipset-sync", "socket:[5001]")
	p.sockets(map[uint32]uint64{500: 5001})
	r := p.resolver()
	at := p.now
	p.now = p.now.Add(2 * time.Millisecond)
	var unnamed, named int
	for i := range 50 {
		portid := uint32(600) // conntrack -D, exited already
		if i%5 == 0 {
			portid = 500
		}
		switch resolveAt(r, portid, at) {
		case result{}:
			unnamed++
		case result{500, "ipset-sync"}:
			named++
		default:
			t.Errorf("event %d of port id %d misnamed", i, portid)
		}
	}
	if unnamed != 40 || named != 10 {
		t.Errorf("%d unnamed, %d named; want 40, 10", unnamed, named)
	}
	if p.reads != 1 {
		t.Errorf("netlink table read %d times, want 1", p.reads)
	}
}

// TestResolveUnknownArrival: an event whose arrival is unknown is resolved
// against a table at most tableMaxAge old.
func TestResolveUnknownArrival(t *testing.T) {
	p := newFakeProc(t)
	p.sockets(nil)
	r := p.resolver()
	if got := resolveAt(r, 9, time.Time{}); got != (result{}) {
		t.Errorf("empty table: %+v", got)
	}
	p.process(9, "late", "socket:[90]")
	p.sockets(map[uint32]uint64{9: 90})
	if got := resolveAt(r, 9, time.Time{}); got != (result{}) || p.reads != 1 {
		t.Errorf("within tableMaxAge: %+v after %d reads, want unknown after 1", got, p.reads)
	}
	p.now = p.now.Add(tableMaxAge + time.Millisecond)
	if got := resolveAt(r, 9, time.Time{}); got != (result{9, "late"}) || p.reads != 2 {
		t.Errorf("past tableMaxAge: %+v after %d reads, want 9, late after 2", got, p.reads)
	}
}

// TestResolvePortIDIsPID: a socket's automatic port id is its process's
// pid, so that process is asked first. Here twenty forked children share the
// socket; the full scan of /proc would name whichever it met first.
func TestResolvePortIDIsPID(t *testing.T) {
	p := newFakeProc(t)
	for pid := 5000; pid < 5020; pid++ {
		p.process(pid, "child", "socket:[777]")
	}
	p.process(4242, "parent", "/dev/null", "socket:[777]")
	p.process(4243, "other", "socket:[888]")
	p.sockets(map[uint32]uint64{4242: 777, 3891935553: 888})
	r := p.resolver()
	if got, want := resolveAt(r, 4242, p.now), (result{4242, "parent"}); got != want {
		t.Errorf("Resolve(4242) = %+v; want the port id's own process %+v", got, want)
	}
	// A port id that is no pid (the kernel picked a free one): the scan
	// finds its owner.
	if got, want := resolveAt(r, 3891935553, p.now), (result{4243, "other"}); got != want {
		t.Errorf("Resolve(3891935553) = %+v; want %+v", got, want)
	}
}

// TestResolveNewestFirst: a socket whose port id is no pid (conntrack -D's
// second socket) is looked for in the newest processes first, and the
// scan stops at its owner: a process older than it that shares the socket
// is not the one named, and the command name is read when the owner is
// met.
func TestResolveNewestFirst(t *testing.T) {
	p := newFakeProc(t)
	p.process(300, "init-like", "socket:[31]")
	p.process(90000, "conntrack", "socket:[32]", "socket:[31]")
	p.process(7000, "daemon", "socket:[33]")
	p.sockets(map[uint32]uint64{3000000001: 31, 90000: 32, 3000000002: 33})
	r := p.resolver()
	if got, want := resolveAt(r, 3000000001, p.now), (result{90000, "conntrack"}); got != want {
		t.Errorf("Resolve = %+v, want the newest holder %+v", got, want)
	}
	// The scan met the newest process's other socket on the way, but
	// stopped before the daemon's.
	if n := r.names[90000]; n.program != "conntrack" {
		t.Errorf("socket met on the way: %+v, want it named conntrack", n)
	}
	if n, ok := r.names[3000000002]; ok {
		t.Errorf("socket past the owner: %+v, want nothing known", n)
	}
}

// TestResolveHintedPID: conntrack -D opens a dump socket, whose port id is
// its pid, then the socket it deletes from, whose port id is no pid: the
// process named by the first is asked about the second before the rest
// of /proc, even before a newer process sharing it.
func TestResolveHintedPID(t *testing.T) {
	p := newFakeProc(t)
	p.process(500, "conntrack", "socket:[51]", "socket:[52]")
	p.process(900, "child", "socket:[52]")
	p.sockets(map[uint32]uint64{500: 51, 3000000005: 52})
	r := p.resolver()
	if got, want := resolveAt(r, 3000000005, p.now), (result{500, "conntrack"}); got != want {
		t.Errorf("Resolve = %+v, want the process of the table's other port id %+v", got, want)
	}
}

// TestResolveBoundsNames: names of sockets gone from the table are
// bounded. Rounds of 64 new port ids over the same 64 sockets: each round's
// table read sends the last round's names to the gone ones.
func TestResolveBoundsNames(t *testing.T) {
	const perRound = 64
	p := newFakeProc(t)
	for i := range perRound {
		p.process(100+i, "burst", "socket:["+strconv.Itoa(1+i)+"]")
	}
	r := p.resolver()
	most := 0
	for round := range maxNames/perRound + 2 {
		table := make(map[uint32]uint64, perRound)
		for i := range perRound {
			table[uint32(1<<31+round*perRound+i)] = uint64(1 + i)
		}
		p.sockets(table)
		p.now = p.now.Add(time.Microsecond)
		for portid, ino := range table {
			if got, want := resolveAt(r, portid, p.now), (result{int32(100 + ino - 1), "burst"}); got != want {
				t.Fatalf("round %d: Resolve(%d) = %+v, want %+v", round, portid, got, want)
			}
		}
		most = max(most, len(r.names))
	}
	if most > maxNames+perRound {
		t.Errorf("%d names at most, want at most %d", most, maxNames+perRound)
	}
	if most < maxNames {
		t.Errorf("%d names at most: the gone ones were not kept", most)
	}
}

// TestResolveAllocs: naming a known port id allocates nothing.
func TestResolveAllocs(t *testing.T) {
	p := newFakeProc(t)
	p.process(100, "conntrack", "socket:[71203]")
	p.sockets(map[uint32]uint64{100: 71203})
	r := p.resolver()
	if got := resolveAt(r, 100, p.now); got.prog != "conntrack" {
		t.Fatalf("Resolve = %+v", got)
	}
	reads := p.reads
	allocs := testing.AllocsPerRun(1000, func() { r.Resolve(100, p.now) })
	if allocs != 0 || p.reads != reads {
		t.Errorf("a hit: %v allocations, %d table reads; want 0, 0", allocs, p.reads-reads)
	}
}

// netfilterSocket returns a bound NETLINK_NETFILTER socket of this process,
// closed when the test ends; it needs no privilege.
func netfilterSocket(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		t.Skipf("no netlink: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestNewOwnNamespace(t *testing.T) {
	fd := netfilterSocket(t)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	portid := sa.(*unix.SockaddrNetlink).Pid
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	r := New(nil)
	pid, prog := r.Resolve(portid, time.Now())
	if want := strings.TrimSpace(string(comm)); pid != int32(os.Getpid()) || prog != want {
		t.Errorf("Resolve(%d) = %d, %q; want %d, %q", portid, pid, prog, os.Getpid(), want)
	}
	if pid, prog := r.Resolve(0, time.Now()); pid != 0 || prog != "" {
		t.Errorf("Resolve(0) = %d, %q; want the kernel (0, \"\")", pid, prog)
	}
}

// BenchmarkResolveHit is the cost of naming an event of a known socket,
// the common case: no system call, no allocation.
func BenchmarkResolveHit(b *testing.B) {
	root := b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "100", "fd"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "100", "comm"), []byte("conntrack\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Symlink("socket:[71203]", filepath.Join(root, "100", "fd", "3")); err != nil {
		b.Fatal(err)
	}
	table := []byte("sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n0000000069f9b0e4 12 100 00000000 0 0 0 2 0 71203\n")
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	r := newResolver(func() ([]byte, error) { return table, nil }, root, func() time.Time { return now })
	if _, prog := r.Resolve(100, now); prog != "conntrack" {
		b.Fatalf("Resolve = %q", prog)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Resolve(100, now)
	}
}
