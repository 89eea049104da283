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

func TestResolve(t *testing.T) {
	p := newFakeProc(t)
	if err := os.MkdirAll(filepath.Join(p.root, "sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.process(100, "conntrack", "/dev/null", "socket:[71203]")
	p.process(200, "kube-proxy", "socket:[5555]")
	p.sockets(map[uint32]uint64{3891935553: 71203, 42: 9999})
	r := p.resolver()

	type result struct {
		pid  int32
		prog string
	}
	resolve := func(portid uint32) result {
		pid, prog := r.Resolve(portid)
		return result{pid, prog}
	}
	check := func(step string, portid uint32, want result, wantReads int) {
		t.Helper()
		if got := resolve(portid); got != want {
			t.Errorf("%s: Resolve(%d) = %+v, want %+v", step, portid, got, want)
		}
		if p.reads != wantReads {
			t.Errorf("%s: netlink table read %d times, want %d", step, p.reads, wantReads)
		}
	}

	check("kernel", 0, result{}, 0)
	check("first lookup", 3891935553, result{100, "conntrack"}, 1)
	// Cached: neither the table nor /proc is read again, even though the
	// process is gone by now.
	p.exit(100)
	check("cached", 3891935553, result{100, "conntrack"}, 1)

	// A port id the table does not hold: the table was just read, so it
	// is not re-read, and the miss is remembered.
	check("unknown port id", 7, result{}, 1)
	p.now = p.now.Add(500 * time.Millisecond)
	check("unknown port id, negative cache", 7, result{}, 1)

	// A socket no process holds (its owner exited): not found, remembered.
	check("vanished owner", 42, result{}, 1)
	p.process(300, "late", "socket:[9999]")
	check("vanished owner, negative cache", 42, result{}, 1)

	// Past the table's age and the negative cache's life, everything is
	// looked up again.
	p.now = p.now.Add(2 * time.Second)
	check("owner found after the negative cache expired", 42, result{300, "late"}, 2)

	// The port id is reused by another socket: noticed once the table is
	// re-read.
	p.sockets(map[uint32]uint64{3891935553: 5555})
	p.now = p.now.Add(1100 * time.Millisecond)
	check("reused port id", 3891935553, result{200, "kube-proxy"}, 3)
	// The socket of 42 is gone with the new table.
	p.now = p.now.Add(3 * time.Second)
	check("socket gone", 42, result{}, 4)
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
	if pid, prog := r.Resolve(4242); pid != 4242 || prog != "parent" {
		t.Errorf("Resolve(4242) = %d, %q; want the port id's own process 4242, \"parent\"", pid, prog)
	}
	// A port id that is no pid (the kernel picked a free one): the scan
	// finds its owner.
	if pid, prog := r.Resolve(3891935553); pid != 4243 || prog != "other" {
		t.Errorf("Resolve(3891935553) = %d, %q; want 4243, \"other\"", pid, prog)
	}
}

func TestResolveBoundsNegativeCache(t *testing.T) {
	p := newFakeProc(t)
	p.sockets(nil)
	r := p.resolver()
	for portid := uint32(1); portid <= maxMisses+10; portid++ {
		if pid, _ := r.Resolve(portid); pid != 0 {
			t.Fatalf("Resolve(%d) = %d", portid, pid)
		}
	}
	if n := len(r.misses); n > maxMisses {
		t.Errorf("%d negative entries, want at most %d", n, maxMisses)
	}
	// All within minRefresh of the first: one table read.
	if p.reads != 1 {
		t.Errorf("netlink table read %d times for a burst of unknown port ids, want 1", p.reads)
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
	pid, prog := r.Resolve(portid)
	if want := strings.TrimSpace(string(comm)); pid != int32(os.Getpid()) || prog != want {
		t.Errorf("Resolve(%d) = %d, %q; want %d, %q", portid, pid, prog, os.Getpid(), want)
	}
	if pid, prog := r.Resolve(0); pid != 0 || prog != "" {
		t.Errorf("Resolve(0) = %d, %q; want the kernel (0, \"\")", pid, prog)
	}
}
