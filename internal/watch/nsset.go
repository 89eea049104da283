package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// A watch of several namespaces (Config.AllNetNS or Config.NetNSSet) reads
// one socket listening to every namespace. Each namespace it watches is a
// nsSlot in a slice indexed by where its events come from (slotIndex): the
// loop finds an event's slot with one bounds check and counts it with
// atomics, no map and no allocation per event. The loop alone changes the
// slice, under nsMu, and reads it without; the metrics server and the
// health monitor read it under nsMu.

// maxSlot bounds the slot slice: the kernel gives namespace ids from 0 up,
// the lowest free first, so they stay below the number of namespaces; an
// id set by hand beyond this (ip netns set NAME 1000000) is not given a
// slot, and its events are counted unknown_netns.
const maxSlot = 1 << 16

// slotIndex is where the slot of namespace n is: 0 for the socket's own,
// nsid+1 for a peer.
func slotIndex(n model.NetNS) int {
	if !n.Peer {
		return 0
	}
	return int(n.NSID) + 1
}

// nsSlot is one watched namespace.
type nsSlot struct {
	// ns is its identity; key what its events carry.
	ns  nsdiscover.NS
	key model.NetNS
	// h is the loop's descriptor of it (FD 0 for ctwatch's own).
	h *netns.Handle
	// seeded marks a namespace dumped at the start: reconciled
	// periodically (nf_conntrack_events=2) while it has seeded flows.
	seeded bool
	// pace is when its next periodic reconciliation is due.
	pace reconcilePace
	// gone is set once it vanished; its totals stay for the stop record.
	gone bool
	// label is its metrics label value, "" beyond Config.NetNSMetricsMax
	// (counted under "other").
	label string
	// events and records count what came from it and what was written of
	// it; tracked is its live flows as of the last count.
	events, records atomic.Uint64
	tracked         atomic.Int64
	// health is a descriptor of the health monitor's own (nil with the
	// monitor off), which only the monitor closes.
	health *netns.Handle
}

// nsSet is the state of a watch of several namespaces.
type nsSet struct {
	// fixed is set for Config.NetNSSet: events of other namespaces are
	// dropped (other_netns).
	fixed bool
	// slots is indexed by slotIndex; one slot may sit at two indices (the
	// own namespace at 0 and at its id in itself, if it has one).
	slots []*nsSlot
	// all is every slot ever added, in order, for the stop record; gone
	// ones included. byID is the fixed set's identities by namespace id,
	// for the encoder's hook (written before Run's goroutines start, then
	// only read).
	all  []*nsSlot
	byID map[int32]nsdiscover.NS
	// atStart holds the inodes of the namespaces present when the watch
	// began, which are dumped when found.
	atStart map[uint64]bool
	// selfIno is ctwatch's own namespace's inode.
	selfIno uint64
	// labels counts the metrics labels given.
	labels int
	// reconcileQueue holds the namespaces due a reconciliation, one dump
	// each, spaced by reconcileSpacing.
	reconcileQueue []queuedReconcile
	// nextPeriodic is the earliest time a namespace's periodic
	// reconciliation is due (reconcilePace), when queueReconcile looks
	// again.
	nextPeriodic time.Time
	// lastDump is when the last dump of any namespace ended.
	lastDump time.Time
	// healthDone is set once the health monitor stopped: it closes no
	// more descriptors, so none is given to it.
	healthDone bool
	// mu guards slots, all, healthDone and each slot's health against the readers beside the loop.
	mu sync.Mutex
}

// Discovery is what a watch of every namespace learns namespaces from: an
// *nsdiscover.Watcher, or a test's stand-in.
type Discovery interface {
	// Run discovers until ctx ends (nsdiscover.Watcher.Run).
	Run(ctx context.Context) error
	// Events delivers Added and Removed events; Run closes it.
	Events() <-chan nsdiscover.Event
	// Lookup and Inode find a namespace by id and by inode, without
	// allocating.
	Lookup(nsid int32) (nsdiscover.NS, bool)
	Inode(ino uint64) (nsdiscover.NS, bool)
}

var _ Discovery = (*nsdiscover.Watcher)(nil)

// multi reports whether the watch covers several namespaces.
func (c *Config) multi() bool { return c.AllNetNS || len(c.NetNSSet) > 0 }

// netnsIdentity is the encoder's hook (record.Config.NetNS): the identity
// of the namespace an event names. It runs on the hot path and allocates
// nothing.
func (w *Watch) netnsIdentity(n model.NetNS) (nsdiscover.NS, bool) {
	s := w.ns
	if s.fixed {
		if !n.Peer {
			if ns, ok := s.byID[nsdiscover.NoNSID]; ok {
				return ns, true
			}
			return nsdiscover.NS{}, false
		}
		ns, ok := s.byID[n.NSID]
		return ns, ok
	}
	if !n.Peer {
		if ns, ok := w.cfg.Discovery.Inode(s.selfIno); ok {
			return ns, true
		}
		return nsdiscover.NS{Inode: s.selfIno, NSID: nsdiscover.NoNSID, PID: os.Getpid(), Self: true}, true
	}
	return w.cfg.Discovery.Lookup(n.NSID)
}

// slot returns the slot of namespace n, nil when it has none.
func (s *nsSet) slot(n model.NetNS) *nsSlot {
	i := slotIndex(n)
	if i < 0 || i >= len(s.slots) {
		return nil
	}
	return s.slots[i]
}

// put places sl at the index of key k, growing the slice as needed.
func (s *nsSet) put(k model.NetNS, sl *nsSlot) bool {
	i := slotIndex(k)
	if i < 0 || i >= maxSlot {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.slots) {
		s.slots = append(s.slots, make([]*nsSlot, i+1-len(s.slots))...)
	}
	s.slots[i] = sl
	return true
}

// clear frees the indices of sl.
func (s *nsSet) clear(sl *nsSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.gone = true
	for i, o := range s.slots {
		if o == sl {
			s.slots[i] = nil
		}
	}
}

// nsEvent accounts for one event of a watch of several namespaces; it
// reports whether the event goes on to the tracker (false: it came from a
// namespace outside a fixed set, and is counted other_netns).
func (w *Watch) nsEvent(ev *model.Event) bool {
	s := w.ns
	if sl := s.slot(ev.NetNS); sl != nil {
		sl.events.Add(1)
		return true
	}
	if s.fixed {
		w.counters.OtherNetNS.Add(1)
		return false
	}
	// Discovery may know it already, its Added not yet taken.
	if ev.NetNS.Peer {
		if ns, ok := w.cfg.Discovery.Lookup(ev.NetNS.NSID); ok {
			w.takeDiscovery(w.runCtx)
			sl := s.slot(ev.NetNS)
			if _, present := w.cfg.Discovery.Inode(ns.Inode); sl == nil && present {
				// Found without an id, given one since (discovery
				// retries): watched from now on, without a descriptor of
				// its own (no dump, no table statistics). Not one removed
				// whose id lingers: its late events are unknown_netns.
				sl = w.nsAdopt(ns, ev.NetNS)
			}
			if sl != nil {
				sl.events.Add(1)
				return true
			}
		}
	}
	w.counters.UnknownNetNS.Add(1)
	return true
}

// nsRecord counts a record written of namespace n.
func (w *Watch) nsRecord(n model.NetNS) {
	if w.ns == nil {
		return
	}
	if sl := w.ns.slot(n); sl != nil {
		sl.records.Add(1)
	}
}

// takeDiscovery handles the namespaces discovery found or lost since the
// last turn, without waiting for it.
func (w *Watch) takeDiscovery(ctx context.Context) {
	if w.discovery == nil {
		return
	}
	for {
		select {
		case ev, ok := <-w.discovery:
			if !ok {
				w.discovery = nil
				return
			}
			switch ev.Kind {
			case nsdiscover.Added:
				w.nsAdded(ctx, ev.NS, ev.Handle)
			case nsdiscover.Removed:
				w.nsRemoved(ev.NS)
			}
		default:
			return
		}
	}
}

// nsAdded starts watching a namespace: it gets a slot, its table is dumped
// if it was there at the start (or, with Snapshot, whenever), and a
// netns_added record says so.
func (w *Watch) nsAdded(ctx context.Context, ns nsdiscover.NS, h *netns.Handle) {
	s := w.ns
	key := model.PeerNetNS(ns.NSID)
	if ns.Self {
		key = model.NetNS{}
	}
	sl := s.slot(key)
	if ns.Self && sl != nil && !sl.gone {
		// The own namespace's slot exists from the start; discovery
		// completes its identity.
		h.Close()
		sl.ns = ns
		if ns.NSID != nsdiscover.NoNSID {
			// It has an id in itself: its events carry it.
			sl.key = model.PeerNetNS(ns.NSID)
			s.put(sl.key, sl)
		}
	} else {
		if !ns.Self && ns.NSID == nsdiscover.NoNSID {
			// Without an id it sends nothing here; discovery tries again
			// and the records say nothing of it yet.
			w.cfg.Log.Warn().Str("event", "netns_unwatched").Object("netns", ns).
				Str("hint", "no namespace id could be given to it: its events do not reach ctwatch").Send()
			h.Close()
			return
		}
		sl = &nsSlot{ns: ns, key: key, h: h}
		if !s.put(key, sl) {
			w.cfg.Log.Warn().Str("event", "netns_unwatched").Object("netns", ns).
				Str("hint", "namespace id too large to be counted on its own: its events are counted as unknown_netns").Send()
		}
		w.nsLabel(sl)
		s.mu.Lock()
		s.all = append(s.all, sl)
		s.mu.Unlock()
	}
	w.nsHealthAdd(sl)
	if !s.atStart[ns.Inode] && !w.cfg.Snapshot {
		w.rec.NetnsAdded(&record.NetnsAdded{NS: sl.ns})
		return
	}
	// Present at the start: its flows are seeded (and written with
	// Snapshot). Found later: only with Snapshot, since its flows were
	// created while ctwatch listened.
	sl.seeded = s.atStart[ns.Inode]
	n, err := w.dumpNetNS(ctx, sl, true)
	w.counters.Snapshot.Add(n)
	w.rec.NetnsAdded(&record.NetnsAdded{NS: sl.ns, Dumped: true, Entries: n, Err: err})
}

// nsAdopt watches a namespace discovery knows by id but never reported
// with one; nil when its id is too large for a slot.
func (w *Watch) nsAdopt(ns nsdiscover.NS, key model.NetNS) *nsSlot {
	s := w.ns
	sl := &nsSlot{ns: ns, key: key}
	if !s.put(key, sl) {
		return nil
	}
	w.nsLabel(sl)
	s.mu.Lock()
	s.all = append(s.all, sl)
	s.mu.Unlock()
	w.rec.NetnsAdded(&record.NetnsAdded{NS: ns})
	return sl
}

// nsLabel gives a namespace its metrics label, if any is left.
func (w *Watch) nsLabel(sl *nsSlot) {
	s := w.ns
	if s.labels >= w.cfg.NetNSMetricsMax {
		return
	}
	s.labels++
	sl.label = sl.labelFor()
}

// labelFor is the namespace's metrics label: its name, else its inode.
func (sl *nsSlot) labelFor() string {
	if sl.ns.Name != "" {
		return sl.ns.Name
	}
	return strconv.FormatUint(sl.ns.Inode, 10)
}

// nsRemoved ends a vanished namespace's flows as inferred (reason
// netns_gone), writes netns_removed and closes its descriptor. The watch
// goes on.
func (w *Watch) nsRemoved(ns nsdiscover.NS) {
	s := w.ns
	var sl *nsSlot
	for _, o := range s.all {
		if !o.gone && o.ns.Inode == ns.Inode {
			sl = o
			break
		}
	}
	if sl == nil {
		return // never watched (it had no id)
	}
	ended := w.tracker.EndNetNS(sl.key, w.cfg.Clock(), w.inferred)
	w.publishTracker()
	w.rec.NetnsRemoved(&record.NetnsRemoved{NS: sl.ns, Ended: ended, Events: sl.events.Load()})
	s.clear(sl)
	if sl.label != "" {
		s.labels--
	}
	if !s.fixed {
		// A fixed set's descriptors are the caller's.
		sl.h.Close()
	}
	sl.h = nil
}

// dumpNetNS dumps one namespace's table into the tracker, and with
// Snapshot (and snapshot set) into snapshot records; it returns the
// entries dumped.
func (w *Watch) dumpNetNS(ctx context.Context, sl *nsSlot, snapshot bool) (uint64, error) {
	cfg := &w.cfg
	dctx, cancel := w.dumpContext(ctx, snapshot && cfg.Snapshot)
	defer cancel()
	start := cfg.Clock()
	var n uint64
	var err error
	endWait := cfg.Out.Wait(ctx)
	defer endWait()
	cost := w.measure(func() {
		err = cfg.DumpNetNS(dctx, sl.h, w.dumps.full, func(ev *model.Event) bool {
			n++
			ev.NetNS = sl.key
			if !w.dumps.selects(ev) {
				return true
			}
			w.tracker.Seed(ev)
			if snapshot && cfg.Snapshot {
				w.entry(ev, false)
			}
			return true
		})
	})
	if snapshot && w.snapshotsExpects() {
		// The namespace's expectations after its entries, as in a watch
		// of one; their count is not in the netns_added record.
		_, xerr := w.snapshotExpects(ctx, sl.h, sl.key)
		err = errors.Join(err, xerr)
	}
	w.ns.lastDump = cfg.Clock()
	w.dumpTook = w.ns.lastDump.Sub(start)
	w.pacedNetNS(sl, start, cost)
	w.publishTracker()
	return n, err
}

// startNetNSSet opens a watch of a fixed set: each namespace gets an id
// (assigned if it has none), a slot and its startup dump.
func (w *Watch) startNetNSSet() error {
	cfg := &w.cfg
	s := w.ns
	assign := cfg.AssignNSID
	if assign == nil {
		ids, err := nsdiscover.DialIDs(0)
		if err != nil {
			return err
		}
		defer ids.Close()
		assign = func(h *netns.Handle) (int32, error) { return ids.Assign(h.FD()) }
	}
	byID := make(map[int32]nsdiscover.NS, len(cfg.NetNSSet))
	for _, h := range cfg.NetNSSet {
		ns := nsdiscover.NS{Inode: h.ID(), NSID: nsdiscover.NoNSID}
		if name := h.String(); name != "self" && !strings.ContainsRune(name, '/') && !isDigits(name) {
			ns.Name = name
		} else if isDigits(name) {
			ns.PID, _ = strconv.Atoi(name)
		}
		key := model.NetNS{}
		if h.ID() == s.selfIno {
			ns.Self = true
		} else {
			id, err := assign(h)
			if err != nil {
				return fmt.Errorf("namespace %s: %w", h, err)
			}
			ns.NSID, key = id, model.PeerNetNS(id)
		}
		if ns.Self {
			byID[nsdiscover.NoNSID] = ns
		} else {
			byID[ns.NSID] = ns
		}
		sl := &nsSlot{ns: ns, key: key, h: h, seeded: true}
		if !s.put(key, sl) {
			return fmt.Errorf("namespace %s: its id %d is too large", h, ns.NSID)
		}
		w.nsLabel(sl)
		s.all = append(s.all, sl)
		// Before the health monitor starts: its first reading covers
		// every namespace of the set.
		w.nsHealthAdd(sl)
	}
	s.byID = byID
	return nil
}

// dumpNetNSSet is the startup dump of a fixed set: each namespace's table,
// and a netns_added record for each.
func (w *Watch) dumpNetNSSet(ctx context.Context) {
	for _, sl := range w.ns.all {
		n, err := w.dumpNetNS(ctx, sl, true)
		w.counters.Snapshot.Add(n)
		w.rec.NetnsAdded(&record.NetnsAdded{NS: sl.ns, Dumped: true, Entries: n, Err: err})
	}
}

// checkNetNSSet checks whether the namespaces of a fixed set are gone: each
// that is is removed as discovery would; once all are, the policy applies.
func (w *Watch) checkNetNSSet() error {
	left := 0
	for _, sl := range w.ns.all {
		if sl.gone {
			continue
		}
		if gone, err := w.cfg.OrphanedNetNS(sl.h); err == nil && gone {
			w.nsRemoved(sl.ns)
			continue
		}
		left++
	}
	if left > 0 || w.netnsGone {
		return nil
	}
	w.netnsGone = true
	why := "every watched network namespace is gone: no name and no process holds any"
	w.faults.mu.Lock()
	w.faults.netns = why
	w.faults.mu.Unlock()
	if w.cfg.OnNetnsGone == NetnsGoneWait {
		return nil
	}
	return fmt.Errorf("%w: %s (--on-netns-gone wait keeps watching)", ErrNetnsGone, why)
}

// queueReconcile queues for reconciliation the namespaces that need it:
// after a loss (loss set) those with tracked flows, periodically those
// dumped at the start that still hold flows seeded from that dump and
// whose pace (reconcilePace) makes them due. A
// kernel dump in any namespace walks the host's whole table, so a
// namespace that cannot have flows to infer is never dumped.
func (w *Watch) queueReconcile(loss bool) {
	s := w.ns
	need := map[model.NetNS]bool{}
	w.tracker.NetNSCounts(func(ns model.NetNS, tracked, seeded int) {
		if tracked > 0 && (loss || seeded > 0) {
			need[ns] = true
		}
	})
	now := w.cfg.Clock()
	if !loss {
		s.nextPeriodic = now.Add(w.cfg.ReconcileInterval)
	}
	for _, sl := range s.all {
		if sl.gone || !need[sl.key] || (!loss && !sl.seeded) {
			continue
		}
		if !loss && now.Before(sl.pace.next) {
			if sl.pace.next.Before(s.nextPeriodic) {
				s.nextPeriodic = sl.pace.next
			}
			continue
		}
		queued := false
		for _, q := range s.reconcileQueue {
			queued = queued || q.sl == sl
		}
		if !queued {
			why := "periodic"
			if loss {
				why = "gap"
			}
			s.reconcileQueue = append(s.reconcileQueue, queuedReconcile{sl, why})
		}
	}
}

// reconcileNext reconciles the first queued namespace, if the last dump is
// far enough behind.
func (w *Watch) reconcileNext(ctx context.Context, now time.Time, src Source, b *events.Batch) {
	s := w.ns
	if len(s.reconcileQueue) == 0 || now.Sub(s.lastDump) < w.reconcileSpacing() {
		return
	}
	q := s.reconcileQueue[0]
	s.reconcileQueue = s.reconcileQueue[1:]
	if q.sl.gone {
		return
	}
	w.reconcileNetNS(ctx, q.sl, q.why, src, b)
}

// queuedReconcile is a namespace due a reconciliation, and why.
type queuedReconcile struct {
	sl  *nsSlot
	why string
}

// nsCountEvery is how often the per-namespace flow counts are refreshed
// for the metrics.
const nsCountEvery = time.Second

// publishNetNS refreshes each namespace's live flows, for the metrics.
func (w *Watch) publishNetNS(now time.Time, t *loopTimers) {
	if now.Sub(t.nsCount) < nsCountEvery {
		return
	}
	t.nsCount = now
	s := w.ns
	for _, sl := range s.all {
		sl.tracked.Store(0)
	}
	w.tracker.NetNSCounts(func(ns model.NetNS, tracked, _ int) {
		if sl := s.slot(ns); sl != nil {
			sl.tracked.Store(int64(tracked))
		}
	})
}

// startNetNS sets up a watch of several namespaces, after the
// subscription: a fixed set's ids, or, for all, the namespaces present
// now and ctwatch's own slot.
func (w *Watch) startNetNS() error {
	s := w.ns
	if s == nil {
		return nil
	}
	if s.fixed {
		return w.startNetNSSet()
	}
	present, err := w.cfg.AtStart()
	if err != nil {
		// Those it did find are dumped; the rest count as found later.
		w.cfg.Log.Warn().Str("event", "netns_start").Err(err).Send()
	}
	s.atStart = present
	self, err := netns.Open("")
	if err != nil {
		return fmt.Errorf("open own network namespace: %w", err)
	}
	ns, _ := w.netnsIdentity(model.NetNS{})
	sl := &nsSlot{ns: ns, h: self}
	s.put(model.NetNS{}, sl)
	w.nsLabel(sl)
	s.mu.Lock()
	s.all = append(s.all, sl)
	s.mu.Unlock()
	return nil
}

// closeNetNS closes the descriptors the watch opened: not those of a
// fixed set, which are the caller's.
func (w *Watch) closeNetNS() {
	if w.ns == nil || w.ns.fixed {
		return
	}
	for _, sl := range w.ns.all {
		sl.h.Close()
	}
	// What discovery still had queued carries descriptors too; it has
	// stopped (the side group is waited for before Run returns).
	if w.discovery != nil {
		for ev := range w.discovery {
			ev.Handle.Close()
		}
	}
}

// isDigits reports whether s is a process id.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// namespacesAtStart returns the inodes of the namespaces present now: the
// named ones under /run/netns and those of processes.
func namespacesAtStart() (map[uint64]bool, error) {
	present := map[uint64]bool{}
	census, err := netns.TakeCensus()
	if err != nil {
		return nil, fmt.Errorf("namespaces of processes: %w", err)
	}
	for ino := range census.LowestPID {
		present[ino] = true
	}
	dir, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return present, fmt.Errorf("named namespaces: %w", err)
	}
	for _, d := range dir {
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/run/netns", d.Name()), &st) == nil {
			present[st.Ino] = true
		}
	}
	return present, nil
}
