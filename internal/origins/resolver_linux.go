package origins

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
)

const (
	// tableMaxAge is how long the namespace's port id → socket
	// table is trusted: a port id reused by another socket is noticed
	// within this time.
	tableMaxAge = time.Second
	// minRefresh spaces re-reads of the table for port ids it
	// does not hold, so that a burst of events from vanished sockets reads
	// it at most this often.
	minRefresh = 100 * time.Millisecond
	// missTTL is how long a port id or socket that could not be
	// resolved stays unresolved before it is looked up again.
	missTTL = 2 * time.Second
	// maxMisses bounds the negative cache.
	maxMisses = 4096
)

// Resolver finds the process behind a netlink port id: the program whose
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
// Resolving may scan /proc, so the goroutine reading the event socket never
// calls it; the consumer of its events does. A Resolver is safe for
// concurrent use.
type Resolver struct {
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

// New returns a resolver for port ids of the namespace ns; nil
// means the caller's namespace. ns must stay open until Close, which
// releases what the resolver holds.
func New(ns *netns.Handle) *Resolver {
	t := &netlinkTable{ns: ns}
	r := newResolver(t.read, "/proc", time.Now)
	r.closeTable = t.close
	return r
}

// Close releases the resolver's open file; a later Resolve opens it again.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closeTable == nil {
		return nil
	}
	return r.closeTable()
}

func newResolver(readTable func() ([]byte, error), procRoot string, now func() time.Time) *Resolver {
	return &Resolver{
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
func (r *Resolver) Resolve(portid uint32) (pid int32, program string) {
	if portid == 0 {
		return 0, ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if until, ok := r.misses[portid]; ok {
		if now.Before(until) {
			return 0, ""
		}
		delete(r.misses, portid)
	}
	age := now.Sub(r.tableRead)
	if _, ok := r.table[portid]; age > tableMaxAge || (!ok && age > minRefresh) {
		r.refreshTable(now)
	}
	ino, ok := r.table[portid]
	if !ok {
		r.miss(portid, now)
		return 0, ""
	}
	ow, ok := r.owners[ino]
	if !ok || (ow.pid == 0 && !now.Before(ow.until)) {
		// The kernel names a process's first netlink socket after the
		// process (an automatic port id is its tgid), so its owner is
		// most likely /proc/<portid>. Looking there first takes one
		// directory where the full scan takes all of /proc: a
		// short-lived program (conntrack -D) exits just after its
		// request, and only a quick look finds it still there.
		if pid := int32(portid); pid > 0 && holdsSocket(r.procRoot, pid, ino) {
			if prog := readComm(r.procRoot, pid); prog != "" {
				r.owners[ino] = owner{pid: pid, program: prog}
			}
		}
		if ow, ok = r.owners[ino]; !ok || ow.pid == 0 {
			r.scan(now)
			ow = r.owners[ino]
		}
	}
	if ow.pid == 0 {
		r.miss(portid, now)
		return 0, ""
	}
	return ow.pid, ow.program
}

func (r *Resolver) miss(portid uint32, now time.Time) {
	if len(r.misses) >= maxMisses {
		for p, until := range r.misses {
			if !now.Before(until) {
				delete(r.misses, p)
			}
		}
		if len(r.misses) >= maxMisses {
			clear(r.misses)
		}
	}
	r.misses[portid] = now.Add(missTTL)
}

// refreshTable re-reads the namespace's netlink sockets and forgets the
// owners of sockets that are gone.
func (r *Resolver) refreshTable(now time.Time) {
	r.tableRead = now
	b, err := r.readTable()
	if err != nil {
		// Keep the old table; the next refresh is due in a second.
		return
	}
	r.table = parseNetlinkTable(b, unix.NETLINK_NETFILTER)
	live := make(map[uint64]bool, len(r.table))
	for _, ino := range r.table {
		live[ino] = true
	}
	for ino := range r.owners {
		if !live[ino] {
			delete(r.owners, ino)
		}
	}
}

// scan walks /proc/*/fd once for every socket of the table whose owner is
// not known, and records what it finds.
func (r *Resolver) scan(now time.Time) {
	want := make(map[uint64]bool)
	for _, ino := range r.table {
		if ow, ok := r.owners[ino]; !ok || (ow.pid == 0 && !now.Before(ow.until)) {
			want[ino] = true
		}
	}
	if len(want) == 0 {
		return
	}
	found := scanProc(r.procRoot, want)
	for ino := range want {
		pid, ok := found[ino]
		if !ok {
			r.owners[ino] = owner{until: now.Add(missTTL)}
			continue
		}
		r.owners[ino] = owner{pid: pid, program: readComm(r.procRoot, pid)}
	}
}
