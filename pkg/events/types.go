package events

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Types is a set of event types: one bit per connection event type (bit
// 1<<model.EventNew and so on), and TypeExpectNew and TypeExpectDestroy for
// the expectation events. Only new, update, destroy and the two
// expectation types are meaningful to a subscription.
type Types uint8

// The subscribable event types.
const (
	TypeNew     Types = 1 << model.EventNew
	TypeUpdate  Types = 1 << model.EventUpdate
	TypeDestroy Types = 1 << model.EventDestroy

	// TypeExpectNew and TypeExpectDestroy are the creation and removal
	// of expectations (NFNLGRP_CONNTRACK_EXP_NEW, _DESTROY). The kernel
	// never sends to NFNLGRP_CONNTRACK_EXP_UPDATE, so there is no
	// expectation update.
	TypeExpectNew     Types = 1 << 5
	TypeExpectDestroy Types = 1 << 6

	// AllTypes is every connection event type, what a subscription
	// without types carries.
	AllTypes = TypeNew | TypeUpdate | TypeDestroy
	// ExpectTypes is both expectation event types.
	ExpectTypes = TypeExpectNew | TypeExpectDestroy
)

// ErrInvalidTypes is returned (wrapped) by ParseTypes for a list that names
// no valid set of event types.
var ErrInvalidTypes = errors.New("invalid event types")

// Has reports whether t includes connection events of type et.
func (t Types) Has(et model.EventType) bool {
	return et <= model.EventSnapshot && t&(1<<et) != 0
}

// HasExpect reports whether t includes expectation events of type et
// (model.EventNew or model.EventDestroy).
func (t Types) HasExpect(et model.EventType) bool {
	switch et {
	case model.EventNew:
		return t&TypeExpectNew != 0
	case model.EventDestroy:
		return t&TypeExpectDestroy != 0
	}
	return false
}

// String returns the set as ParseTypes accepts it, in the order new,
// update, destroy, and then "expect" for both expectation types or
// "expect-new" or "expect-destroy" for one.
func (t Types) String() string {
	var names []string
	for _, et := range []model.EventType{model.EventNew, model.EventUpdate, model.EventDestroy} {
		if t.Has(et) {
			names = append(names, et.String())
		}
	}
	switch t & ExpectTypes {
	case ExpectTypes:
		names = append(names, "expect")
	case TypeExpectNew:
		names = append(names, "expect-new")
	case TypeExpectDestroy:
		names = append(names, "expect-destroy")
	}
	return strings.Join(names, ",")
}

// ParseTypes parses a comma-separated list of event type names ("new",
// "update", "destroy", and "expect" for both expectation types,
// "expect-new", "expect-destroy"; e.g. "new,destroy,expect") as the
// --events flag takes it. Spaces around names are ignored; an empty list
// or an unknown name is an error.
func ParseTypes(s string) (Types, error) {
	var t Types
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "expect":
			t |= ExpectTypes
			continue
		case "expect-new":
			t |= TypeExpectNew
			continue
		case "expect-destroy":
			t |= TypeExpectDestroy
			continue
		}
		et, ok := model.ParseEventType(name)
		if !ok || et == model.EventSnapshot {
			return 0, fmt.Errorf("parse event types %q: unknown type %q (want new, update, destroy, expect, expect-new or expect-destroy): %w", s, name, ErrInvalidTypes)
		}
		t |= 1 << et
	}
	return t, nil
}
