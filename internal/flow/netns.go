package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// nsKey packs a namespace into the 32 bits a flowKey holds: 0 for the
// receiving socket's own namespace, nsid+1 for a peer. Kernel nsids are 0
// or more, so no peer packs to 0.
func nsKey(n model.NetNS) uint32 {
	if !n.Peer {
		return 0
	}
	return uint32(n.NSID) + 1
}

// netnsOf is the inverse of nsKey.
func netnsOf(k uint32) model.NetNS {
	if k == 0 {
		return model.NetNS{}
	}
	return model.PeerNetNS(int32(k - 1))
}

// nsCount is what the tracker counts per namespace.
type nsCount struct {
	// tracked counts the namespace's live flows; seeded those of them a
	// dump seeded and no live event has touched since (fDumpOnly).
	tracked, seeded int
}

// nsDense bounds the namespace keys counted in a slice rather than a map:
// the kernel hands out nsids from 0 upwards, so on a node the keys are
// small and dense, and the hot path (a flow's start and end) indexes a
// slice instead of hashing.
const nsDense = 4096

// nsCounts holds an nsCount per namespace with flows: a slice indexed by
// nsKey below nsDense, a map above. Both grow only when a namespace gets
// its first flow, so that counting costs no allocation per event.
type nsCounts struct {
	dense []nsCount
	more  map[uint32]*nsCount
}

// at returns the count of namespace key k, creating it.
func (c *nsCounts) at(k uint32) *nsCount {
	if k < nsDense {
		if int(k) >= len(c.dense) {
			c.dense = append(c.dense, make([]nsCount, int(k)+1-len(c.dense))...)
		}
		return &c.dense[k]
	}
	if p := c.more[k]; p != nil {
		return p
	}
	if c.more == nil {
		c.more = make(map[uint32]*nsCount)
	}
	p := new(nsCount)
	c.more[k] = p
	return p
}

// get returns the count of namespace key k, zero when it has none.
func (c *nsCounts) get(k uint32) nsCount {
	if k < nsDense {
		if int(k) < len(c.dense) {
			return c.dense[k]
		}
		return nsCount{}
	}
	if p := c.more[k]; p != nil {
		return *p
	}
	return nsCount{}
}

// NetNSCounts calls fn for every namespace with tracked flows, in no
// particular order: tracked is how many flows of ns the tracker holds,
// seeded how many of them a dump seeded (Seed, Reconcile) and no live
// event has touched since — flows that may never report their end (under
// nf_conntrack_events=2, those created before any listener existed), so
// that only a dump can tell when they are gone. Its cost is proportional
// to the namespaces, not the flows: the counts are kept as flows start and
// end. fn must not call the Tracker.
func (t *Tracker) NetNSCounts(fn func(ns model.NetNS, tracked, seeded int)) {
	for k, c := range t.counts.dense {
		if c.tracked > 0 {
			fn(netnsOf(uint32(k)), c.tracked, c.seeded)
		}
	}
	for k, c := range t.counts.more {
		if c.tracked == 0 {
			// Namespaces come and go on a node: forget those left
			// without flows, so that the map stays as small as the
			// namespaces alive.
			delete(t.counts.more, k)
			continue
		}
		fn(netnsOf(k), c.tracked, c.seeded)
	}
}

// EndNetNS ends every flow of namespace ns, which is gone: emit receives
// each one's inferred end (Reason InferNetNSGone, Time now), least
// recently seen first, and the flows are forgotten without tombstones —
// no event or dump of that namespace can come any more, and its nsid may
// be handed to another namespace. The namespace's tombstones and its
// destinations' repeat counts go too, and a reconciliation of ns under
// way (BeginReconcileNetNS) is abandoned. EndNetNS returns the number of
// flows ended. It takes time proportional to the flows tracked, in all
// namespaces, until it has found those of ns. emit must not call the
// Tracker.
func (t *Tracker) EndNetNS(ns model.NetNS, now time.Time, emit func(Inferred)) int {
	k := nsKey(ns)
	at := t.timeOf(now)
	if t.reconciling && t.reconcileNS == k {
		t.reconciling = false
	}
	left := t.counts.get(k).tracked
	ended := 0
	for i := t.lru.tail; i != nilIdx && left > 0; {
		r := t.recs.at(i)
		prev := r.lruPrev
		if r.key.ns == k {
			in := t.infer(r, at, InferNetNSGone)
			t.detach(i, r)
			t.release(i, r)
			left--
			ended++
			emit(in)
		}
		i = prev
	}
	for i := t.tombs.head; i != nilIdx; {
		r := t.recs.at(i)
		next := r.lruNext
		if r.key.ns == k {
			t.unlink(&t.tombs, i, r)
			t.dead--
			t.release(i, r)
		}
		i = next
	}
	t.dests.forget(k)
	if k >= nsDense {
		delete(t.counts.more, k)
	}
	return ended
}
