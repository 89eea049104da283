package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Unreplied reports a flow still [UNREPLIED] Config.UnrepliedAfter after
// it began: a SYN nobody answers, a datagram or heartbeat without an
// answer (or whose answers the firewall drops as INVALID). Each flow is
// reported at most once.
type Unreplied struct {
	// Entry is the flow's entry as last known: family, protocol, both
	// tuples, state, status, mark, zone, id and the counters of the last
	// dump, when known. The timeout, labels, helper and secctx are not kept
	// by the tracker and are absent.
	Entry model.Entry
	// Time is the now of the Expire call that found the flow due.
	Time time.Time
	// FirstSeen is when the flow began (its NEW or the kernel's start
	// timestamp), or when the tracker first saw it if LowerBound.
	FirstSeen time.Time
	// Age is Time - FirstSeen.
	Age time.Duration
	// Repeats counts the unreplied flows to the same destination
	// (namespace, zone, protocol, destination address and port) in the
	// current run,
	// including this one. A run starts with an unreplied flow to the
	// destination and goes on while each next one begins within
	// Config.RepeatWindow of the previous one; a reply from the
	// destination ends it. A heartbeat whose peer never answers gets
	// 1, 2, 3, ...
	Repeats int
	// RepeatsSince is when the first flow of the current run began.
	RepeatsSince time.Time
	SeenFrom     SeenFrom
	// LowerBound is set when the flow's start is not known, so that Age
	// is a lower bound.
	LowerBound bool
	// NetNS is the namespace the flow lives in, as its events said
	// (model.Event.NetNS).
	NetNS model.NetNS
}

// destKey names a destination for repeat counting: the same address and
// port in two namespaces are two destinations.
type destKey struct {
	addr   [16]byte
	ns     uint32 // the namespace, an nsKey
	port   uint16 // destination port, ICMP type<<8|code, GRE destination key
	zone   uint16
	family model.Family
	proto  model.Proto
}

func destOf(k *flowKey) destKey {
	d := destKey{addr: k.dst, ns: k.ns, zone: k.zone, family: k.family, proto: k.proto}
	if k.proto.IsICMP() {
		d.port = uint16(k.ports >> 16)
	} else {
		d.port = uint16(k.ports)
	}
	return d
}

// dest is one destination's current run of unreplied flows.
type dest struct {
	key         destKey
	count       uint32
	since, last int64
	prev, next  uint32
}

// dests is the bounded table of destinations with unreplied flows, least
// recently warned about evicted first. It is small (Config.MaxDestinations)
// and touched only by warnings and by the first reply of a flow while it is
// not empty, so a Go map serves.
type dests struct {
	max        int
	window     int64
	byKey      map[destKey]uint32
	recs       []dest
	free       []uint32
	head, tail uint32 // most and least recently warned
	evicted    uint64
}

func newDests(max int, window time.Duration) dests {
	return dests{max: max, window: int64(window), byKey: make(map[destKey]uint32), head: nilIdx, tail: nilIdx}
}

// warn counts an unreplied flow to k that began at time at, and returns
// the run's length and start. Runs are measured in the flows' start times,
// not in the times they were reported, so that the window means the same
// whatever the detector's delay.
func (d *dests) warn(k destKey, at int64) (int, int64) {
	if i, ok := d.byKey[k]; ok {
		r := &d.recs[i]
		if at-r.last > d.window {
			r.count, r.since = 0, at
		}
		r.count++
		r.last = max(r.last, at)
		d.unlink(i)
		d.pushFront(i)
		return int(r.count), r.since
	}
	if len(d.byKey) >= d.max {
		old := d.tail
		d.unlink(old)
		delete(d.byKey, d.recs[old].key)
		d.free = append(d.free, old)
		d.evicted++
	}
	var i uint32
	if n := len(d.free); n > 0 {
		i, d.free = d.free[n-1], d.free[:n-1]
	} else {
		i = uint32(len(d.recs))
		d.recs = append(d.recs, dest{})
	}
	d.recs[i] = dest{key: k, count: 1, since: at, last: at}
	d.byKey[k] = i
	d.pushFront(i)
	return 1, at
}

// replied ends the run of k, if any.
func (d *dests) replied(k destKey) {
	if len(d.byKey) == 0 {
		return
	}
	if i, ok := d.byKey[k]; ok {
		d.unlink(i)
		delete(d.byKey, k)
		d.free = append(d.free, i)
	}
}

// forget drops the destinations of namespace ns (an nsKey), whose end
// ends their runs.
func (d *dests) forget(ns uint32) {
	for i := d.head; i != nilIdx; {
		r := &d.recs[i]
		next := r.next
		if r.key.ns == ns {
			d.unlink(i)
			delete(d.byKey, r.key)
			d.free = append(d.free, i)
		}
		i = next
	}
}

func (d *dests) pushFront(i uint32) {
	r := &d.recs[i]
	r.prev, r.next = nilIdx, d.head
	if d.head != nilIdx {
		d.recs[d.head].prev = i
	} else {
		d.tail = i
	}
	d.head = i
}

func (d *dests) unlink(i uint32) {
	r := &d.recs[i]
	if r.prev != nilIdx {
		d.recs[r.prev].next = r.next
	} else {
		d.head = r.next
	}
	if r.next != nilIdx {
		d.recs[r.next].prev = r.prev
	} else {
		d.tail = r.prev
	}
}
