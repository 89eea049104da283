package events

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
)

const (
	// originsTableMaxAge is how long the namespace's port id → socket
	// table is trusted: a port id reused by another socket is noticed
	// within this time.
	originsTableMaxAge = time.Second
	// originsMinRefresh spaces re-reads of the table for port ids it
	// does not hold, so that a burst of events from vanished sockets reads
	// it at most this often.
	originsMinRefresh = 100 * time.Millisecond
	// originsMissTTL is how long a port id or socket that could not be
	// resolved stays unresolved before it is looked up again.
	originsMissTTL = 2 * time.Second
	// originsMaxMisses bounds the negative cache.
	originsMaxMisses = 4096
)

// Origins finds the process behind a netlink port id: the program whose
// request (conntrack -D, a flush by kube-proxy, ...) caused an event. It
// reads the namespace's /proc/net/netlink for the socket inode of each
// NETLINK_NETFILTER port id, then scans /proc/*/fd for the process holding
// that socket, and caches both, so that a stream of events from one program
// costs no system call. A port id reused by another socket is noticed
// because the table is re-read every second and owners are cached by
// socket inode; a port id or socket that cannot be resolved (the process
// has exited, as conntrack -D has by the time its event is read) is
// remembered as unknown for a couple of seconds, so that a burst of its
// events does not rescan /proc each time.
//
// Resolving may scan /proc, so the reader goroutine never calls it; the
// consumer does. Origins is safe for concurrent use.
type Origins struct {
	mu         sync.Mutex
	readTable  func() ([]byte, error)
	closeTable func() error // nil when there is nothing to close
	procRoot   string
	now        func() time.Time

	table     map[uint32]uint64 // port id → socket inode
	tableRead time.Time
	owners    map[uint64]owner     // socket inode → process
	misses    map[uint32]time.Time // port id → unknown until
}

// owner is the process holding a socket; pid 0 means none was found, and
// is retried after until.
type owner struct {
	pid     int32
	program string
	until   time.Time
}

// NewOrigins returns a resolver for port ids of the namespace ns; nil
// means the caller's namespace. ns must stay open until Close, which
// releases what the resolver holds.
func NewOrigins(ns *netns.Handle) *Origins {
	t := &netlinkTable{ns: ns}
	o := newOrigins(t.read, "/proc", time.Now)
	o.closeTable = t.close
	return o
}

// netlinkTable reads a namespace's /proc/net/netlink. /proc/net shows the
// namespace of the thread that opens it, and an open file stays bound to
// that namespace: so the file is opened once, on a thread switched into the
// namespace, and read again from its start after that, with no further
// switch.
type netlinkTable struct {
	ns *netns.Handle
	f  *os.File
}

func (t *netlinkTable) read() ([]byte, error) {
	if t.f == nil {
		// Do is nil-safe: the caller's own namespace needs no switch.
		err := t.ns.Do(func() error {
			var err error
			t.f, err = os.Open("/proc/thread-self/net/netlink")
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("open the namespace's /proc/net/netlink: %w", err)
		}
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read /proc/net/netlink: %w", err)
	}
	b, err := io.ReadAll(t.f)
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/netlink: %w", err)
	}
	return b, nil
}

func (t *netlinkTable) close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// Close releases the resolver's open file; a later Resolve opens it again.
func (o *Origins) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closeTable == nil {
		return nil
	}
	return o.closeTable()
}

func newOrigins(readTable func() ([]byte, error), procRoot string, now func() time.Time) *Origins {
	return &Origins{
		readTable: readTable,
		procRoot:  procRoot,
		now:       now,
		owners:    make(map[uint64]owner),
		misses:    make(map[uint32]time.Time),
	}
}

// Resolve returns the pid and command name (/proc/PID/comm) of the process
// holding the netlink socket with port id portid, or 0 and "" when it is
// not known (port id 0 is the kernel).
func (o *Origins) Resolve(portid uint32) (pid int32, program string) {
	if portid == 0 {
		return 0, ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if until, ok := o.misses[portid]; ok {
		if now.Before(until) {
			return 0, ""
		}
		delete(o.misses, portid)
	}
	age := now.Sub(o.tableRead)
	if _, ok := o.table[portid]; age > originsTableMaxAge || (!ok && age > originsMinRefresh) {
		o.refreshTable(now)
	}
	ino, ok := o.table[portid]
	if !ok {
		o.miss(portid, now)
		return 0, ""
	}
	ow, ok := o.owners[ino]
	if !ok || (ow.pid == 0 && !now.Before(ow.until)) {
		// The kernel names a process's first netlink socket after the
		// process (an automatic port id is its tgid), so its owner is
		// most likely /proc/<portid>. Looking there first takes one
		// directory where the full scan takes all of /proc: a
		// short-lived program (conntrack -D) exits just after its
		// request, and only a quick look finds it still there.
		if pid := int32(portid); pid > 0 && holdsSocket(o.procRoot, pid, ino) {
			if prog := readComm(o.procRoot, pid); prog != "" {
				o.owners[ino] = owner{pid: pid, program: prog}
			}
		}
		if ow, ok = o.owners[ino]; !ok || ow.pid == 0 {
			o.scan(now)
			ow = o.owners[ino]
		}
	}
	if ow.pid == 0 {
		o.miss(portid, now)
		return 0, ""
	}
	return ow.pid, ow.program
}

func (o *Origins) miss(portid uint32, now time.Time) {
	if len(o.misses) >= originsMaxMisses {
		for p, until := range o.misses {
			if !now.Before(until) {
				delete(o.misses, p)
			}
		}
		if len(o.misses) >= originsMaxMisses {
			clear(o.misses)
		}
	}
	o.misses[portid] = now.Add(originsMissTTL)
}

// refreshTable re-reads the namespace's netlink sockets and forgets the
// owners of sockets that are gone.
func (o *Origins) refreshTable(now time.Time) {
	o.tableRead = now
	b, err := o.readTable()
	if err != nil {
		// Keep the old table; the next refresh is due in a second.
		return
	}
	o.table = parseNetlinkTable(b, unix.NETLINK_NETFILTER)
	live := make(map[uint64]bool, len(o.table))
	for _, ino := range o.table {
		live[ino] = true
	}
	for ino := range o.owners {
		if !live[ino] {
			delete(o.owners, ino)
		}
	}
}

// scan walks /proc/*/fd once for every socket of the table whose owner is
// not known, and records what it finds.
func (o *Origins) scan(now time.Time) {
	want := make(map[uint64]bool)
	for _, ino := range o.table {
		if ow, ok := o.owners[ino]; !ok || (ow.pid == 0 && !now.Before(ow.until)) {
			want[ino] = true
		}
	}
	if len(want) == 0 {
		return
	}
	found := scanProc(o.procRoot, want)
	for ino := range want {
		pid, ok := found[ino]
		if !ok {
			o.owners[ino] = owner{until: now.Add(originsMissTTL)}
			continue
		}
		o.owners[ino] = owner{pid: pid, program: readComm(o.procRoot, pid)}
	}
}

// scanProc returns the pid holding each socket inode of want that it finds
// among procRoot's processes, stopping once all are found.
func scanProc(procRoot string, want map[uint64]bool) map[uint64]int32 {
	found := make(map[uint64]int32, len(want))
	dir, err := os.Open(procRoot)
	if err != nil {
		return found
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil && len(names) == 0 {
		return found
	}
	for _, name := range names {
		pid, err := strconv.ParseInt(name, 10, 32)
		if err != nil || pid <= 0 {
			continue
		}
		eachSocket(procRoot, name, func(ino uint64) bool {
			if _, dup := found[ino]; want[ino] && !dup {
				found[ino] = int32(pid)
			}
			return len(found) < len(want)
		})
		if len(found) == len(want) {
			return found
		}
	}
	return found
}

// holdsSocket reports whether process pid has the socket with inode ino
// open.
func holdsSocket(procRoot string, pid int32, ino uint64) bool {
	held := false
	eachSocket(procRoot, strconv.Itoa(int(pid)), func(i uint64) bool {
		held = i == ino
		return !held
	})
	return held
}

// eachSocket calls f with the inode of each socket the process with the
// /proc directory name pid has open, while f returns true. A process gone
// or not ours to read has none.
func eachSocket(procRoot, pid string, f func(ino uint64) bool) {
	fdDir := filepath.Join(procRoot, pid, "fd")
	fds, err := readDirNames(fdDir)
	if err != nil {
		return
	}
	for _, fd := range fds {
		target, err := os.Readlink(fdDir + "/" + fd)
		if err != nil {
			continue
		}
		if ino, ok := parseSocketLink(target); ok && !f(ino) {
			return
		}
	}
}

func readDirNames(path string) ([]string, error) {
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// readComm returns /proc/PID/comm without its newline, or "" when the
// process is gone.
func readComm(procRoot string, pid int32) string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(int(pid)), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
