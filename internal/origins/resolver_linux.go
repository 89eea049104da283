package origins

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
)

const (
	// tableMaxAge is how long a name found in the table is trusted for
	// events that arrived after the table was read: a port id reused by
	// another socket is noticed within this time.
	tableMaxAge = time.Second
	// ownerRetry spaces full scans of /proc for a socket that is in the
	// table but that no process visible to us holds: it is being closed
	// (the next table read drops it) or held in a pid namespace we do not
	// see, and scanning again at once would find nothing either.
	ownerRetry = 250 * time.Millisecond
	// goneTTL is how long the name of a socket that has left the table is
	// kept for the events it caused before it closed, still queued
	// behind the ones being written.
	goneTTL = 30 * time.Second
	// maxPID is the highest pid Linux hands out (PID_MAX_LIMIT).
	maxPID = 1 << 22
	// maxNames bounds the names of sockets gone from the table; the others
	// are bounded by the table.
	maxNames = 4096
)

// Resolver finds the process behind a netlink port id: the program whose
// request (conntrack -D, a flush by kube-proxy, ...) caused an event. It
// reads the namespace's /proc/net/netlink for the socket inode of each
// NETLINK_NETFILTER port id, then looks in /proc/PORTID/fd (a process's
// first netlink socket gets its tgid as port id) and, failing that, scans
// /proc/*/fd for the process holding that socket, as conntrack -E does.
//
// Unlike conntrack -E, which reads the table again for every event, it
// reads the table only when an event's port id is missing from it and the
// table was read before the event arrived: one read then covers every
// event that arrived before it, so a batch of events costs at most one
// read, and a table read after an event's arrival that still lacks its
// port id proves the socket closed before it could be looked at. Names
// are cached by port id and checked against the socket inode of each
// table read; a socket that leaves the table keeps its name for the
// events that arrived before the read that no longer showed it, so that
// every event of one long request (conntrack -U over many entries) is
// named once the first is, even if the program has exited by the time
// its last event is written. A hit costs no system call and no
// allocation.
//
// Resolving may read /proc, so the goroutine reading the event socket
// never calls it; the consumer of its events does. A Resolver is safe for
// concurrent use.
type Resolver struct {
	mu         sync.Mutex
	readTable  func() ([]byte, error)
	closeTable func() error // nil when there is nothing to close
	procRoot   string
	now        func() time.Time

	table     map[uint32]uint64 // port id → socket inode, as last read
	tableRead time.Time         // when it was read; zero before the first read
	names     map[uint32]name   // port id → its socket and the socket's owner
}

// name is what is known of one port id's socket. pid 0 means no owner was
// found; it is looked for again after retry.
type name struct {
	inode   uint64
	pid     int32
	program string
	// gone is the time of the first table read that no longer held the
	// socket, zero while it is there: events that arrived before it are
	// the socket's own.
	gone  time.Time
	retry time.Time
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
		names:     make(map[uint32]name),
	}
}

// Resolve returns the pid and command name (/proc/PID/comm) of the process
// that held the netlink socket with port id portid when an event from it
// arrived at time at (model.Event.Time: the kernel's event timestamp or
// the receive time), or 0 and "" when that is not known (port id 0 is the
// kernel). The zero at means the arrival is unknown: the table is then
// read again on a miss only if it is older than tableMaxAge.
func (r *Resolver) Resolve(portid uint32, at time.Time) (pid int32, program string) {
	if portid == 0 {
		return 0, ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, known := r.names[portid]
	if known && n.pid != 0 {
		switch {
		case !n.gone.IsZero() && at.Before(n.gone) && !at.IsZero():
			return n.pid, n.program
		case n.gone.IsZero() && !at.After(r.tableRead.Add(tableMaxAge)):
			// The table showed the socket at most tableMaxAge before
			// the event arrived (or after): a reuse of its port id in
			// between is not worth a read per event.
			return n.pid, n.program
		}
	}
	now := r.now()
	if at.IsZero() {
		at = r.tableRead.Add(tableMaxAge)
	}
	if at.After(now) {
		// A clock step must not turn every event into a table read.
		at = now
	}
	if r.table == nil || r.tableRead.Before(at) {
		// The table may not show the socket yet, or show a socket that
		// has since gone: read it after the event's arrival.
		r.refresh(now)
		if n, known = r.names[portid]; known && n.pid != 0 && !n.gone.IsZero() && at.Before(n.gone) {
			return n.pid, n.program
		}
	}
	ino, ok := r.table[portid]
	if !ok {
		// Read after the event arrived, the table lacks the socket: it
		// closed before it could be looked at.
		return 0, ""
	}
	if known && n.inode == ino && n.gone.IsZero() {
		if n.pid != 0 {
			return n.pid, n.program
		}
		if now.Before(n.retry) {
			return 0, ""
		}
	}
	n = r.lookup(portid, ino, now)
	return n.pid, n.program
}

// lookup finds the owner of socket ino, which has port id portid, and
// caches what it finds.
func (r *Resolver) lookup(portid uint32, ino uint64, now time.Time) name {
	// The kernel names a process's first netlink socket after the process
	// (an automatic port id is its tgid), so its owner is most likely
	// /proc/<portid>. Looking there first takes one directory where the
	// full scan takes all of /proc: a short-lived program (conntrack -D)
	// exits just after its request, and only a quick look finds it still
	// there.
	if pid := int32(portid); pid > 0 && holdsSocket(r.procRoot, pid, ino) {
		if prog := readComm(r.procRoot, pid); prog != "" {
			n := name{inode: ino, pid: pid, program: prog}
			r.names[portid] = n
			return n
		}
	}
	r.scan(ino, now)
	if n, ok := r.names[portid]; ok && n.inode == ino {
		return n
	}
	return name{}
}

// refresh re-reads the namespace's netlink sockets: a name whose socket
// is no longer there is marked gone (or forgotten, if it named nobody),
// and names gone for longer than goneTTL are forgotten.
func (r *Resolver) refresh(now time.Time) {
	b, err := r.readTable()
	if err != nil {
		// Keep the old table; the next event arriving after the last
		// read tries again.
		r.tableRead = now
		return
	}
	r.table = parseNetlinkTable(b, unix.NETLINK_NETFILTER)
	r.tableRead = now
	for portid, n := range r.names {
		ino, ok := r.table[portid]
		switch {
		case ok && ino == n.inode:
			continue
		case n.pid == 0, !n.gone.IsZero() && now.Sub(n.gone) > goneTTL:
			delete(r.names, portid)
		case n.gone.IsZero():
			n.gone = now
			r.names[portid] = n
		}
	}
	if len(r.names) > maxNames {
		for portid, n := range r.names {
			if !n.gone.IsZero() {
				delete(r.names, portid)
			}
		}
	}
}

// scan walks /proc/*/fd for the owner of socket target, and records it
// and the owners met on the way of the table's other sockets whose owner
// is not known; target's absence too, for ownerRetry.
func (r *Resolver) scan(target uint64, now time.Time) {
	want := make(map[uint64]bool)
	for portid, ino := range r.table {
		n, ok := r.names[portid]
		if !ok || n.inode != ino || !n.gone.IsZero() || (n.pid == 0 && !now.Before(n.retry)) {
			want[ino] = true
		}
	}
	// Port ids that may be pids, newest first: see scanProc.
	var hints []int
	for portid, ino := range r.table {
		if portid > 0 && portid <= maxPID && want[ino] && ino != target {
			hints = append(hints, int(portid))
		}
	}
	slices.Sort(hints)
	slices.Reverse(hints)
	found := scanProc(r.procRoot, want, target, hints)
	for portid, ino := range r.table {
		if ow, ok := found[ino]; ok {
			r.names[portid] = name{inode: ino, pid: ow.pid, program: ow.program}
		} else if ino == target {
			r.names[portid] = name{inode: ino, retry: now.Add(ownerRetry)}
		}
	}
}
