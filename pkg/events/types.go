package events

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Types is a set of event types, one bit per model.EventType (bit
// 1<<model.EventNew and so on). Only new, update and destroy are
// meaningful to a subscription.
type Types uint8

// The subscribable event types.
const (
	TypeNew     Types = 1 << model.EventNew
	TypeUpdate  Types = 1 << model.EventUpdate
	TypeDestroy Types = 1 << model.EventDestroy

	// AllTypes is every type a subscription can carry.
	AllTypes = TypeNew | TypeUpdate | TypeDestroy
)

// ErrInvalidTypes is returned (wrapped) by ParseTypes for a list that names
// no valid set of event types.
var ErrInvalidTypes = errors.New("invalid event types")

// Has reports whether t includes events of type et.
func (t Types) Has(et model.EventType) bool {
	return et < 8 && t&(1<<et) != 0
}

// String returns the set as ParseTypes accepts it, in the order new,
// update, destroy.
func (t Types) String() string {
	var names []string
	for _, et := range []model.EventType{model.EventNew, model.EventUpdate, model.EventDestroy} {
		if t.Has(et) {
			names = append(names, et.String())
		}
	}
	return strings.Join(names, ",")
}

// ParseTypes parses a comma-separated list of event type names ("new",
// "update", "destroy"; e.g. "new,destroy") as the --events flag takes it.
// Spaces around names are ignored; an empty list or an unknown name is an
// error.
func ParseTypes(s string) (Types, error) {
	var t Types
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		et, ok := model.ParseEventType(name)
		if !ok || et == model.EventSnapshot {
			return 0, fmt.Errorf("parse event types %q: unknown type %q (want new, update or destroy): %w", s, name, ErrInvalidTypes)
		}
		t |= 1 << et
	}
	return t, nil
}
