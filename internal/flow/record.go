package flow

import (
	"github.com/ctwatch/ctwatch/pkg/model"
)

// record is what the tracker keeps per flow: a fixed-size value without
// pointers or strings (152 bytes), so that a million of them are one
// allocation per 1024 flows, never scanned by the garbage collector.
type record struct {
	// first is when the flow began, in Unix nanoseconds: the time of its
	// NEW event, the kernel's start timestamp, or the time the tracker first
	// saw it (fExact clear). 0 means unknown.
	first int64
	// last is the time of the latest event about the flow; for a dead
	// record (a tombstone), the time it ended.
	last int64
	// counters are the latest packet and byte counts known: original
	// packets, original bytes, reply packets, reply bytes.
	counters [4]uint64
	// path holds up to pathMax states, 4 bits each, oldest in the low bits.
	path uint64

	key flowKey

	// replyAfter and assuredAfter are the seconds from first to the reply
	// and to ASSURED, or negative when not seen (or not known when). A
	// float32 carries 24 significant bits: microseconds for the first
	// minutes, milliseconds after days, in 4 bytes instead of 8.
	replyAfter, assuredAfter float32

	status model.Status
	mark   uint32
	labels uint32 // hash of the connlabels (fHasLabels)
	nat    uint32 // index+1 of the side entry (reply tuple, master) in Tracker.nat; 0: none, the reply is the inverse of key

	// lruPrev and lruNext link live records from most to least recently
	// seen, dead records oldest first, and free records (lruNext only).
	lruPrev, lruNext uint32
	// dlPrev and dlNext link the records waiting for the unreplied
	// detector, in deadline order.
	dlPrev, dlNext uint32

	seen    uint16 // bit s set: state s was seen (states above 15 as 15)
	flags   uint16
	state   model.State
	pathLen uint8
}

// Record flags.
const (
	fDead        uint16 = 1 << iota // a tombstone: ended, kept to recognise late news
	fExact                          // first is the flow's real start
	fKernelStart                    // first is the kernel's start timestamp
	fHasState                       // state is known
	fHasMark                        // mark is known
	fHasLabels                      // labels is known
	fHasCounters                    // counters are known
	fReplied                        // a reply was seen (SEEN_REPLY)
	fAssured                        // ASSURED was seen
	fPending                        // on the unreplied detector's list
	fWarned                         // the unreplied detector reported it
	fInDump                         // present in the dump being reconciled
	fTruncated                      // path lost states
	seenShift                       // SeenFrom occupies the two bits from here
)

const seenMask = 3 * seenShift

// fDumpOnly marks a record a dump seeded and no live event has touched yet.
// A NEW for it is the same flow, created while the dump ran: the dump saw
// it, and its NEW was still queued. It takes the bit after SeenFrom's.
const fDumpOnly uint16 = 1 << 15

// pathMax is the number of states a path holds.
const pathMax = 16

func (r *record) seenFrom() SeenFrom { return SeenFrom((r.flags & seenMask) / seenShift) }

func (r *record) setSeenFrom(s SeenFrom) {
	r.flags = r.flags&^seenMask | uint16(s)*seenShift
}

// pushState appends s to the path unless it repeats the last state. A full
// path keeps its first pathMax-1 states and replaces the last one, so that
// both how the flow began and how it ended survive.
func (r *record) pushState(s model.State) {
	v := uint64(min(s, 15))
	r.seen |= 1 << v
	n := r.pathLen
	if n > 0 && (r.path>>(4*(n-1)))&15 == v {
		return
	}
	if n == pathMax {
		r.flags |= fTruncated
		n--
	} else {
		r.pathLen++
	}
	r.path = r.path&^(15<<(4*n)) | v<<(4*n)
}

func (r *record) pathValue() Path {
	return Path{states: r.path, n: r.pathLen, truncated: r.flags&fTruncated != 0}
}

// seenAny reports whether any state whose bit is in mask was seen.
func (r *record) seenAny(mask uint16) bool { return r.seen&mask != 0 }

// stateBits returns the mask of the given states, for seenAny.
func stateBits(states ...model.State) uint16 {
	var m uint16
	for _, s := range states {
		m |= 1 << min(s, 15)
	}
	return m
}
