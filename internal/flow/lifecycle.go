package flow

import (
	"math"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Outcome says how a flow ended, in one word, in the spirit of Zeek's
// conn_state. The package documentation defines each value and the order
// in which they are decided.
type Outcome uint8

// The outcomes, defined in the package documentation. OutcomeUnknown is
// the zero value.
const (
	OutcomeUnknown   Outcome = iota // "unknown": nothing else fits
	OutcomeUnreplied                // "unreplied": no reply was ever seen
	OutcomeRejected                 // "rejected": the connection attempt was refused
	OutcomeReset                    // "reset": established, then aborted
	OutcomeClosed                   // "closed": an orderly close
	OutcomeTimeout                  // "timeout": expired with nothing else to say
	OutcomeDeleted                  // "deleted": removed by a userspace program
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"unknown", "unreplied", "rejected", "reset", "closed", "timeout", "deleted"}

// String returns the outcome as the "outcome" key carries it.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// SeenFrom says how the tracker first learnt of a flow, and so whether its
// times are exact.
type SeenFrom uint8

// The ways a flow is first seen.
const (
	// SeenFromNew: from its NEW event; its times are exact.
	SeenFromNew SeenFrom = iota
	// SeenFromEvent: from an UPDATE or DESTROY, its NEW having been lost
	// (socket overrun) or sent before the tracker listened.
	SeenFromEvent
	// SeenFromSnapshot: from a table dump (Seed, Reconcile).
	SeenFromSnapshot
)

var seenFromNames = [...]string{"new", "event", "snapshot"}

// String returns the value the "seen_from" key carries.
func (s SeenFrom) String() string {
	if int(s) < len(seenFromNames) {
		return seenFromNames[s]
	}
	return "unknown"
}

// Path is the sequence of protocol states a flow went through, consecutive
// repeats collapsed. It holds at most 16 states: when a flow goes through
// more, the path keeps the first 15 and the latest, and Truncated reports
// it. It is a value of 10 bytes, so that a flow's path costs no allocation.
type Path struct {
	states    uint64
	n         uint8
	truncated bool
}

// Len returns the number of states in the path.
func (p Path) Len() int { return int(p.n) }

// At returns the i-th state, 0 being the first. States above 15 (which no
// kernel defines) are recorded as 15.
func (p Path) At(i int) model.State { return model.State(p.states >> (4 * uint(i)) & 15) }

// Truncated reports whether states were dropped from the middle of the
// path.
func (p Path) Truncated() bool { return p.truncated }

// States returns the path as a slice.
func (p Path) States() []model.State {
	s := make([]model.State, p.Len())
	for i := range s {
		s[i] = p.At(i)
	}
	return s
}

// Lifecycle summarises a flow when it ends: the record the "flow" key
// carries on every DESTROY (and on inferred ends).
type Lifecycle struct {
	Proto model.Proto
	// Path is the states the flow went through (stateful protocols only).
	Path Path
	// Duration is the time from the flow's start (or first sight, see
	// LowerBound) to its end; valid when DurationKnown.
	Duration      time.Duration
	DurationKnown bool
	// ReplyAfter and AssuredAfter are the times from the flow's start to
	// its first reply and to ASSURED; valid when HasReply and HasAssured,
	// which are false when it never happened or when the tracker does not
	// know when (a flow first seen already replied).
	ReplyAfter, AssuredAfter time.Duration
	HasReply, HasAssured     bool
	Outcome                  Outcome
	SeenFrom                 SeenFrom
	// LowerBound is set when the flow's start is not known: it was not seen
	// from its NEW and no kernel start timestamp was available. Duration,
	// ReplyAfter and AssuredAfter then count from its first sight.
	LowerBound bool
	// Inferred is set when no DESTROY was seen: the end was deduced from a
	// dump that no longer lists the flow, or from a NEW for the same key.
	Inferred bool
	// HasCounters says the final counters below are known (accounting on,
	// nf_conntrack_acct=1). For an inferred end they are the last known.
	HasCounters              bool
	OrigPackets, OrigBytes   uint64
	ReplyPackets, ReplyBytes uint64
}

// end says how the tracker learnt that a flow ended.
type end uint8

const (
	endExpired  end = iota // DESTROY without a timeout (or 0): the garbage collector
	endDeleted             // DESTROY requested by a userspace program
	endKilled              // DESTROY by the kernel before the timeout ran out
	endInferred            // no DESTROY seen
)

// endOf classifies a DESTROY event.
func endOf(ev *model.Event) end {
	switch {
	case !ev.Origin.IsZero():
		return endDeleted
	case !ev.Entry.Fields.Has(model.FieldTimeout) || ev.Entry.Timeout == 0:
		return endExpired
	}
	return endKilled
}

var (
	tcpEstablished = stateBits(model.TCPEstablished, model.TCPFinWait, model.TCPCloseWait,
		model.TCPLastAck, model.TCPTimeWait)
	tcpBothFIN  = stateBits(model.TCPLastAck, model.TCPTimeWait)
	tcpClose    = stateBits(model.TCPClose)
	sctpStarted = stateBits(model.SCTPEstablished, model.SCTPShutdownSent, model.SCTPShutdownRecd,
		model.SCTPShutdownAckSent, model.SCTPHeartbeatSent, model.SCTPHeartbeatAcked)
	sctpShutdown = stateBits(model.SCTPShutdownAckSent)
)

// outcome decides how the flow of r ended; see the package documentation
// for the rules and their order.
func outcome(r *record, how end) Outcome {
	replied := r.flags&fReplied != 0
	established := r.flags&fAssured != 0
	switch r.key.proto {
	case model.ProtoTCP:
		established = established || r.seenAny(tcpEstablished)
		switch {
		case r.seenAny(tcpBothFIN):
			return OutcomeClosed
		case r.seenAny(tcpClose) && established:
			return OutcomeReset
		case r.seenAny(tcpClose) && replied:
			return OutcomeRejected
		case r.seenAny(tcpClose) && how == endKilled &&
			(r.flags&fHasCounters == 0 || r.counters[2] > 0):
			// The kernel kills an unreplied entry as soon as a RST
			// passes; the RST counted in the reply direction says it was
			// the responder's.
			return OutcomeRejected
		}
	case model.ProtoSCTP:
		established = established || r.seenAny(sctpStarted)
		closedNow := r.flags&fHasState != 0 && r.state == model.SCTPClosed
		switch {
		case r.seenAny(sctpShutdown):
			return OutcomeClosed
		case closedNow && established:
			return OutcomeReset
		case closedNow && replied:
			return OutcomeRejected
		}
	}
	switch {
	case how == endDeleted:
		return OutcomeDeleted
	case !replied:
		return OutcomeUnreplied
	case how == endExpired:
		return OutcomeTimeout
	}
	return OutcomeUnknown
}

// lifecycle summarises r, which ends at endAt (Unix ns, 0 if unknown).
func lifecycle(r *record, endAt int64, how end) Lifecycle {
	l := Lifecycle{
		Proto:       r.key.proto,
		Outcome:     outcome(r, how),
		SeenFrom:    r.seenFrom(),
		LowerBound:  r.flags&fExact == 0,
		Inferred:    how == endInferred,
		HasCounters: r.flags&fHasCounters != 0,
	}
	if l.Proto.HasState() {
		l.Path = r.pathValue()
	}
	if r.first != 0 && endAt != 0 {
		l.Duration, l.DurationKnown = time.Duration(max(endAt-r.first, 0)), true
	}
	if r.replyAfter >= 0 {
		l.ReplyAfter, l.HasReply = floatDuration(r.replyAfter), true
	}
	if r.assuredAfter >= 0 {
		l.AssuredAfter, l.HasAssured = floatDuration(r.assuredAfter), true
	}
	if l.HasCounters {
		l.OrigPackets, l.OrigBytes = r.counters[0], r.counters[1]
		l.ReplyPackets, l.ReplyBytes = r.counters[2], r.counters[3]
	}
	return l
}

func floatDuration(s float32) time.Duration {
	return time.Duration(math.Round(float64(s) * 1e9))
}

// afterSeconds returns the seconds from first to t as record stores them,
// or -1 when either is unknown.
func afterSeconds(first, t int64) float32 {
	if first == 0 || t == 0 {
		return -1
	}
	return float32(float64(max(t-first, 0)) / 1e9)
}
