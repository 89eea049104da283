package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
	"github.com/rs/zerolog"
)

// Attr is a set of entry attributes, other than the protocol state and the
// status bits, that an event changed.
type Attr uint8

// The attributes whose changes the tracker notices. Changes of the
// timeout and of the counters are not changes: they come with every packet.
const (
	AttrMark   Attr = 1 << iota // the connmark
	AttrLabels                  // the connlabels
)

// ignoredStatus are status bits whose change is not reported: the kernel
// sets DYING on every entry it destroys, so it says nothing a DESTROY does
// not already say.
const ignoredStatus = model.StatusDying

// labelBits are the status bits the "gained"/"lost" lists name through
// their /proc label rather than by bit name.
const labelBits = model.StatusSeenReply | model.StatusAssured | model.StatusOffload | model.StatusHWOffload

// Transition is what one UPDATE or DESTROY changed in a flow the tracker
// knew: the record the "transition" key carries.
type Transition struct {
	Proto model.Proto
	// From and To are the protocol states before and after; valid when
	// HasStates (a stateful protocol whose state both events carried).
	From, To  model.State
	HasStates bool
	// Gained and Lost are the status bits set and cleared (DYING aside).
	// SEEN_REPLY is reported through its label: gaining it is losing
	// UNREPLIED.
	Gained, Lost model.Status
	// Changed lists the other attributes that changed.
	Changed Attr
	// After is the time from the flow's start (or its first sight) to the
	// event; valid when AfterKnown.
	After      time.Duration
	AfterKnown bool
}

// StateChanged reports whether the protocol state changed.
func (t *Transition) StateChanged() bool { return t.HasStates && t.From != t.To }

// IsZero reports whether t records no change.
func (t *Transition) IsZero() bool {
	return !t.StateChanged() && t.Gained == 0 && t.Lost == 0 && t.Changed == 0
}

// MarshalZerologObject writes the transition's keys: from and to for every
// stateful protocol (equal when only the status, mark or labels changed, so
// that a query on "to" finds every transition of a state), gained and lost always
// (possibly empty arrays, so that the schema does not depend on the
// event), changed when another attribute changed, and after_s when the
// times are known. It neither reflects nor allocates.
func (t *Transition) MarshalZerologObject(z *zerolog.Event) {
	if t.HasStates && t.Proto.HasState() {
		z.Str("from", t.From.Name(t.Proto))
		z.Str("to", t.To.Name(t.Proto))
	}
	var buf [512]byte
	z.RawJSON("gained", appendStatusChange(buf[:0], t.Gained, t.Lost))
	z.RawJSON("lost", appendStatusChange(buf[:0], t.Lost, t.Gained))
	if t.Changed != 0 {
		b := append(buf[:0], '[')
		if t.Changed&AttrMark != 0 {
			b = appendJSONString(b, "mark")
		}
		if t.Changed&AttrLabels != 0 {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = appendJSONString(b, "labels")
		}
		z.RawJSON("changed", append(b, ']'))
	}
	if t.AfterKnown {
		z.RawJSON("after_s", appendSeconds(buf[:0], t.After))
	}
}

// appendStatusChange appends, as a JSON array, the names of what was
// gained when the bits in set were set and those in cleared were cleared
// (call it with the arguments swapped for what was lost): first the /proc
// labels in contract order (UNREPLIED, ASSURED, OFFLOAD, HW_OFFLOAD), then
// the other status bits by name in bit order.
func appendStatusChange(dst []byte, set, cleared model.Status) []byte {
	dst = append(dst, '[')
	n := 0
	add := func(name string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		n++
	}
	if cleared&model.StatusSeenReply != 0 {
		add(model.LabelUnreplied.String())
	}
	if set&model.StatusAssured != 0 {
		add(model.LabelAssured.String())
	}
	if set&model.StatusOffload != 0 {
		add(model.LabelOffload.String())
	}
	if set&model.StatusHWOffload != 0 {
		add(model.LabelHWOffload.String())
	}
	var names [32]string
	for _, name := range (set &^ labelBits).AppendNames(names[:0]) {
		add(name)
	}
	return append(dst, ']')
}
