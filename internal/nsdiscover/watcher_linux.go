package nsdiscover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// Defaults of Config.
const (
	DefaultInterval = 2 * time.Second
	DefaultLinger   = 5 * time.Second
	DefaultBuffer   = 64
)

// nameRetry is how soon a name under /run/netns that is not a namespace
// yet is looked at again: "ip netns add" creates the file, then mounts
// the namespace on it, and inotify only tells of the first.
const nameRetry = 100 * time.Millisecond

// Config configures a Watcher.
type Config struct {
	// Log receives the watcher's warnings (a namespace it could not open
	// or give an id) and, at debug level, each namespace found and lost.
	Log zerolog.Logger
	// Interval is how often the processes are looked at again
	// (DefaultInterval when 0): a namespace only a process holds is found
	// at most this late, and one that lost its last holder is reported
	// removed at most this late. Names under /run/netns are watched with
	// inotify and found at once.
	Interval time.Duration
	// Linger is how long the watcher keeps a removed namespace's
	// descriptor, and its id in Lookup (DefaultLinger when 0): the kernel
	// frees a namespace's id only when the namespace dies, and gives the
	// lowest free id to the next one, so a message the dead namespace
	// sent just before, still queued in a socket, would otherwise be
	// taken for the new namespace's.
	Linger time.Duration
	// Buffer is the capacity of the Events channel (DefaultBuffer when
	// 0).
	Buffer int
	// RequestTimeout bounds each rtnetlink request
	// (DefaultRequestTimeout when 0).
	RequestTimeout time.Duration
	// RunNetNS is the directory of named namespaces, "/run/netns" when
	// empty.
	RunNetNS string
}

// Kind says what an Event reports.
type Kind uint8

// The kinds of Event.
const (
	// Added: a namespace was found. Every namespace present when Run
	// starts is reported Added first, the Watcher's own among them.
	Added Kind = iota + 1
	// Removed: no process lives in the namespace any more and no name or
	// other mount holds it ([netns.Handle.Orphaned]'s rule; descriptors,
	// the Watcher's and its receivers' among them, do not count).
	Removed
)

func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports a namespace found or gone.
type Event struct {
	Kind Kind
	NS   NS
	// Handle, on Added only, is a descriptor of the namespace of the
	// receiver's own, to dial netlink there (netlink.Config{NetNS:
	// Handle.FD()}) or dump it; the receiver must Close it, at the latest
	// on the namespace's Removed. For the Watcher's own namespace its FD is
	// 0 ("the current namespace").
	Handle *netns.Handle
}

// Watcher discovers the host's network namespaces. Run owns everything it
// opens (the inotify descriptor, the rtnetlink socket, a descriptor per
// namespace); Snapshot and Lookup may be called from any goroutine.
type Watcher struct {
	cfg    Config
	events chan Event
	state  atomic.Pointer[state]
	ran    atomic.Bool
}

// state is one immutable view of the namespaces, replaced whole on every
// change so that Lookup takes no lock and allocates nothing.
type state struct {
	byInode map[uint64]NS
	// byNSID also holds the lingering removed namespaces.
	byNSID map[int32]NS
}

// New returns a Watcher; Run starts it.
func New(cfg Config) *Watcher {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.RunNetNS == "" {
		cfg.RunNetNS = "/run/netns"
	}
	w := &Watcher{cfg: cfg, events: make(chan Event, cfg.Buffer)}
	w.state.Store(&state{byInode: map[uint64]NS{}, byNSID: map[int32]NS{}})
	return w
}

// Events returns the channel of Added and Removed events. Run is its only
// sender and closes it when it returns. It holds Config.Buffer events;
// when it is full, Run waits for the receiver: discovery pauses (names
// created meanwhile queue in the kernel's inotify queue, and an overflow
// of that makes Run list the directory again), nothing is dropped.
func (w *Watcher) Events() <-chan Event { return w.events }

// Snapshot returns the namespaces present, ordered by inode.
func (w *Watcher) Snapshot() []NS {
	s := w.state.Load()
	out := make([]NS, 0, len(s.byInode))
	for _, n := range s.byInode {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b NS) int { return cmp.Compare(a.Inode, b.Inode) })
	return out
}

// Lookup returns the namespace a namespace id names in the Watcher's
// namespace, for a message received with that id. A namespace reported
// Removed is still found for Config.Linger. It allocates nothing.
func (w *Watcher) Lookup(nsid int32) (NS, bool) {
	n, ok := w.state.Load().byNSID[nsid]
	return n, ok
}

// Inode returns the present namespace of inode ino.
func (w *Watcher) Inode(ino uint64) (NS, bool) {
	n, ok := w.state.Load().byInode[ino]
	return n, ok
}

// known is a namespace Run holds.
type known struct {
	ns NS
	h  *netns.Handle
}

// lingering is a removed namespace whose descriptor Run still holds.
type lingering struct {
	ns    NS
	h     *netns.Handle
	until time.Time
}

// run is Run's own state; only Run's goroutine touches it.
type run struct {
	w         *Watcher
	log       zerolog.Logger
	ids       *IDs
	self      *netns.Handle
	known     map[uint64]*known
	lingering []lingering
	// pending is set while a name under RunNetNS is not a namespace yet.
	pending bool
	// in is the inotify descriptor; runWD and nsWD its watches of the
	// parent of RunNetNS and of RunNetNS (-1 when not watched).
	in          *os.File
	runWD, nsWD int32
	// nsfsDev is the device of the namespace file system: a name under
	// RunNetNS with another is not a namespace (yet).
	nsfsDev uint64
}

// Run discovers namespaces until ctx ends, then closes every descriptor
// it holds and the Events channel, and returns nil. It returns an error
// only when it cannot start (no inotify, no rtnetlink socket, its own
// namespace unreadable) or its inotify descriptor fails. It may be called
// once.
func (w *Watcher) Run(ctx context.Context) error {
	defer close(w.events)
	if w.ran.Swap(true) {
		return errors.New("nsdiscover: Run called twice")
	}
	r := &run{w: w, log: w.cfg.Log, known: make(map[uint64]*known), runWD: -1, nsWD: -1}
	defer r.closeAll()
	var err error
	if r.ids, err = DialIDs(w.cfg.RequestTimeout); err != nil {
		return err
	}
	if r.self, err = netns.Open(""); err != nil {
		return fmt.Errorf("open own network namespace: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return fmt.Errorf("stat own network namespace: %w", err)
	}
	r.nsfsDev = st.Dev
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	// Non-blocking, the file goes to the runtime's poller, so that a read
	// deadline stops the read (house rule 5).
	r.in = os.NewFile(uintptr(fd), "inotify")
	stop := context.AfterFunc(ctx, func() { r.in.SetReadDeadline(time.Now()) })
	defer stop()

	if err := r.addSelf(ctx); err != nil {
		return nil // ctx ended
	}
	r.watchDirs()
	if err := r.reconcile(ctx); err != nil {
		return nil
	}
	next := time.Now().Add(w.cfg.Interval)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		deadline := next
		if t := time.Now().Add(nameRetry); r.pending && t.Before(deadline) {
			deadline = t
		}
		if len(r.lingering) > 0 && r.lingering[0].until.Before(deadline) {
			deadline = r.lingering[0].until
		}
		if err := r.in.SetReadDeadline(deadline); err != nil {
			return fmt.Errorf("inotify deadline: %w", err)
		}
		// After setting the deadline: a cancellation that came before
		// is seen here, one after has moved the deadline to now.
		if ctx.Err() != nil {
			return nil
		}
		n, err := r.in.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		dirty := false
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			dirty = r.pending || !time.Now().Before(next)
		case err != nil:
			return fmt.Errorf("read inotify: %w", err)
		default:
			perr := parseInotify(buf[:n], func(ev inotifyEvent) {
				dirty = r.inotified(ev) || dirty
			})
			if perr != nil {
				// The kernel's records, not input: list again.
				r.log.Warn().Err(perr).Msg("namespace discovery: inotify")
				dirty = true
			}
		}
		r.expire(time.Now())
		if dirty {
			if err := r.reconcile(ctx); err != nil {
				return nil
			}
			if !time.Now().Before(next) {
				next = time.Now().Add(w.cfg.Interval)
			}
		}
	}
}

// inotified handles one inotify record; it reports whether the names
// must be listed again.
func (r *run) inotified(ev inotifyEvent) bool {
	switch {
	case ev.mask&unix.IN_Q_OVERFLOW != 0:
		r.watchDirs()
		return true
	case ev.wd == r.runWD && ev.name == filepath.Base(r.w.cfg.RunNetNS):
		r.watchDirs()
		return true
	case ev.wd == r.nsWD:
		if ev.mask&unix.IN_IGNORED != 0 {
			// RunNetNS was removed: the parent's watch tells of the next
			// one.
			r.nsWD = -1
			r.watchDirs()
		}
		return true
	}
	return false
}

// watchDirs watches RunNetNS, or its parent until it exists. Without
// either (no /run) the periodic look finds names too, only later.
func (r *run) watchDirs() {
	fd := int(r.in.Fd())
	dir := r.w.cfg.RunNetNS
	if r.runWD < 0 {
		wd, err := unix.InotifyAddWatch(fd, filepath.Dir(dir), unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
		if err == nil {
			r.runWD = int32(wd)
		} else {
			r.log.Debug().Err(err).Str("dir", filepath.Dir(dir)).Msg("namespace discovery: not watched, found by the periodic look only")
		}
	}
	if r.nsWD < 0 {
		wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_DELETE_SELF|unix.IN_ONLYDIR)
		if err == nil {
			r.nsWD = int32(wd)
		}
	}
}

// addSelf reports the Watcher's own namespace.
func (r *run) addSelf(ctx context.Context) error {
	id, err := r.ids.GetPID(os.Getpid())
	if err != nil {
		r.log.Warn().Err(err).Msg("namespace discovery: own namespace's id")
	}
	n := NS{Inode: r.self.ID(), NSID: id, PID: os.Getpid(), Self: true}
	n.Container = readContainer(n.PID)
	return r.add(ctx, n, r.self)
}

// reconcile lists the names and the processes and reports what changed.
func (r *run) reconcile(ctx context.Context) error {
	names := r.listNames()
	census, err := netns.TakeCensus()
	if err != nil {
		// Without the processes, nothing can be said removed: keep
		// everything until the next look.
		r.log.Warn().Err(err).Msg("namespace discovery: processes")
		return nil
	}
	// New namespaces: named ones, then those of processes.
	for ino, name := range names {
		if r.known[ino] != nil {
			continue
		}
		h, err := netns.Open(filepath.Join(r.w.cfg.RunNetNS, name))
		if err != nil {
			r.notNamespaceYet(err, name)
			continue
		}
		if h.ID() != ino {
			h.Close() // replaced since listed: the next look sees it
			continue
		}
		if err := r.addNew(ctx, h, name, census.LowestPID[ino]); err != nil {
			return err
		}
	}
	for ino, pid := range census.LowestPID {
		if r.known[ino] != nil {
			continue
		}
		h, err := netns.Open(strconv.Itoa(pid))
		if err != nil {
			continue // exited since the census: the next look decides
		}
		if h.ID() != ino {
			h.Close() // the pid was reused by a process elsewhere
			continue
		}
		if err := r.addNew(ctx, h, "", pid); err != nil {
			return err
		}
	}
	// Removed: no longer held.
	var gone []uint64
	for ino, k := range r.known {
		if !k.ns.Self && !census.Held(ino) && names[ino] == "" {
			gone = append(gone, ino)
		}
	}
	slices.Sort(gone)
	for _, ino := range gone {
		if err := r.remove(ctx, ino); err != nil {
			return err
		}
	}
	// Namespaces whose id could not be set are tried again.
	for _, k := range r.known {
		if k.ns.NSID != NoNSID || k.ns.Self {
			continue
		}
		if id, err := r.ids.Assign(k.h.FD()); err == nil && id != NoNSID {
			k.ns.NSID = id
			r.publish()
		}
	}
	return nil
}

// notNamespaceYet handles a name that could not be opened: another kind
// of namespace mounted there is not looked for, nor one unmounted since
// the listing.
func (r *run) notNamespaceYet(err error, name string) {
	if !errors.Is(err, netns.ErrNotNetNS) && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn().Err(err).Str("name", name).Msg("namespace discovery: open")
	}
}

// listNames returns the namespaces named under RunNetNS by inode, with
// the first name of each. It stats, it opens nothing.
func (r *run) listNames() map[uint64]string {
	r.pending = false
	dir, err := os.ReadDir(r.w.cfg.RunNetNS)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.log.Warn().Err(err).Msg("namespace discovery: list names")
		}
		return nil
	}
	names := make(map[uint64]string, len(dir))
	now := time.Now()
	for _, d := range dir {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(r.w.cfg.RunNetNS, d.Name()), &st); err != nil {
			continue
		}
		if st.Dev != r.nsfsDev {
			// Not (yet) a namespace mounted there: a file "ip netns add"
			// just made is looked at again soon, an old one left alone.
			if now.Sub(time.Unix(st.Ctim.Unix())) < r.w.cfg.Interval {
				r.pending = true
			}
			continue
		}
		// ReadDir sorts: the first name stays.
		if _, ok := names[st.Ino]; !ok {
			names[st.Ino] = d.Name()
		}
	}
	return names
}

// addNew names a namespace just opened, gives it an id and reports it.
func (r *run) addNew(ctx context.Context, h *netns.Handle, name string, pid int) error {
	id, err := r.ids.Assign(h.FD())
	if err != nil {
		r.log.Warn().Err(err).Uint64("inode", h.ID()).Msg("namespace discovery: no namespace id; retried at the next look")
	}
	n := NS{Inode: h.ID(), NSID: id, Name: name, PID: pid}
	if pid != 0 {
		n.Container = readContainer(pid)
	}
	return r.add(ctx, n, h)
}

// add records a namespace Run now holds (h) and sends its Added event.
func (r *run) add(ctx context.Context, n NS, h *netns.Handle) error {
	r.known[n.Inode] = &known{ns: n, h: h}
	r.publish()
	r.log.Debug().Object("netns", n).Msg("namespace found")
	d, err := h.Dup()
	if err != nil {
		// Out of descriptors, most likely: the receiver learns of the
		// namespace without one and can open it by PID or name.
		r.log.Warn().Err(err).Object("netns", n).Msg("namespace discovery: descriptor for the receiver")
	}
	return r.send(ctx, Event{Kind: Added, NS: n, Handle: d})
}

// remove forgets a namespace, keeps its descriptor for Linger and sends
// its Removed event.
func (r *run) remove(ctx context.Context, ino uint64) error {
	k := r.known[ino]
	delete(r.known, ino)
	r.lingering = append(r.lingering, lingering{ns: k.ns, h: k.h, until: time.Now().Add(r.w.cfg.Linger)})
	r.publish()
	r.log.Debug().Object("netns", k.ns).Msg("namespace gone")
	return r.send(ctx, Event{Kind: Removed, NS: k.ns})
}

// expire closes the descriptors of removed namespaces whose Linger is
// over, which lets the kernel free them and their ids.
func (r *run) expire(now time.Time) {
	i := 0
	for i < len(r.lingering) && !now.Before(r.lingering[i].until) {
		r.lingering[i].h.Close()
		i++
	}
	if i > 0 {
		r.lingering = slices.Delete(r.lingering, 0, i)
		r.publish()
	}
}

// send delivers an event, waiting while the channel is full; when ctx
// ends first, the event's descriptor is closed.
func (r *run) send(ctx context.Context, ev Event) error {
	select {
	case r.w.events <- ev:
		return nil
	case <-ctx.Done():
		ev.Handle.Close() // nil-safe
		return ctx.Err()
	}
}

// publish replaces the state Snapshot and Lookup read.
func (r *run) publish() {
	s := &state{byInode: make(map[uint64]NS, len(r.known)), byNSID: make(map[int32]NS, len(r.known)+len(r.lingering))}
	// Lingering first: a present namespace given the same id (which the
	// kernel only does once the lingering one is dead, so never while it
	// lingers; guarded all the same) takes the id.
	for _, l := range r.lingering {
		if l.ns.NSID != NoNSID {
			s.byNSID[l.ns.NSID] = l.ns
		}
	}
	for ino, k := range r.known {
		s.byInode[ino] = k.ns
		if k.ns.NSID == NoNSID {
			continue
		}
		if old, ok := s.byNSID[k.ns.NSID]; ok && old.Inode != ino && !isLingering(r.lingering, old.Inode) {
			r.log.Warn().Int32("nsid", k.ns.NSID).Uint64("inode", ino).Uint64("other_inode", old.Inode).Msg("namespace discovery: two present namespaces with one id")
		}
		s.byNSID[k.ns.NSID] = k.ns
	}
	r.w.state.Store(s)
}

func isLingering(ls []lingering, ino uint64) bool {
	for _, l := range ls {
		if l.ns.Inode == ino {
			return true
		}
	}
	return false
}

// closeAll closes every descriptor Run holds.
func (r *run) closeAll() {
	for _, k := range r.known {
		if k.h != r.self {
			k.h.Close()
		}
	}
	for _, l := range r.lingering {
		l.h.Close()
	}
	r.self.Close()
	if r.in != nil {
		r.in.Close()
	}
	if r.ids != nil {
		r.ids.Close()
	}
}

// readContainer reads the container process pid runs in; nothing when it
// exited.
func readContainer(pid int) Container {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return Container{}
	}
	return ParseCgroup(b)
}
