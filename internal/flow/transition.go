package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
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
