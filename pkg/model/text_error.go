package model

import (
	"errors"
	"fmt"
)

// ErrExpectation is wrapped by ParseText's SyntaxError of an expectation
// line (conntrack -E expect, conntrack -L expect,
// /proc/net/nf_conntrack_expect): a different kind of record, which
// ParseExpectText parses (but for /proc's form).
var ErrExpectation = errors.New("an expectation, not a connection entry")

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

// maxQuote is the most of a bad token an error message quotes: a line of
// garbage can hold a token of any length, and the message is for a
// person, who needs only its start.
const maxQuote = 100

// Error quotes at most maxQuote bytes of the token, saying how long it was
// when it was cut.
func (e *SyntaxError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("column %d: field %s: %s", e.Column, e.Field, e.Msg)
	}
	if len(e.Token) > maxQuote {
		return fmt.Sprintf("column %d: field %s: %s: %q... (%d bytes)", e.Column, e.Field, e.Msg, e.Token[:maxQuote], len(e.Token))
	}
	return fmt.Sprintf("column %d: field %s: %s: %q", e.Column, e.Field, e.Msg, e.Token)
}
