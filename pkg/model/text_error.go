package model

import (
	"errors"
	"fmt"
)

// ErrExpectation is wrapped by the SyntaxError of an expectation line
// (conntrack -E -e expect, conntrack -L expect, /proc/net/nf_conntrack_expect):
// a different kind of record, which ctwatch does not parse.
var ErrExpectation = errors.New("an expectation, not a connection entry; expectations are not supported")

// SyntaxError reports a text line that does not parse: where, which field,
// and what is wrong with it.
type SyntaxError struct {
	// Column is the 1-based byte offset in the line of the offending token,
	// or one past the line's end when a field is missing.
	Column int
	// Field names the field being parsed, as the JSON contract names it
	// ("timeout", "state", "orig.sport", "reply.src", "mark", ...).
	Field string
	// Token is the offending token; empty when the line ended early.
	Token string
	// Msg says what is wrong.
	Msg string
	// Err is a sentinel error the failure is an instance of, such as
	// ErrExpectation, or nil.
	Err error
}

// Unwrap returns e.Err.
func (e *SyntaxError) Unwrap() error { return e.Err }

func (e *SyntaxError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("column %d: field %s: %s", e.Column, e.Field, e.Msg)
	}
	return fmt.Sprintf("column %d: field %s: %s: %q", e.Column, e.Field, e.Msg, e.Token)
}
