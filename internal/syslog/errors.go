package syslog

import (
	"errors"
	"fmt"
)

// ErrUnavailable is what every error of a server that is gone, refuses the
// connection or stopped reading is (errors.Is): the records were not taken
// and a later [Client.Send] may take them.
var ErrUnavailable = errors.New("syslog server unavailable")

// ErrRefused is what every error of a record that no server will ever take
// is (errors.Is): the caller skips it and counts it.
var ErrRefused = errors.New("syslog record refused")

// UnavailableError is a failed dial or write.
type UnavailableError struct {
	// Op is "dial" or "write".
	Op string
	// Addr is the target's address.
	Addr string
	// Err is the failure from the network.
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("syslog %s %s: %v", e.Op, e.Addr, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// RefusedError is a record that cannot be sent as it is.
type RefusedError struct {
	// Seq is the record's sequence number.
	Seq uint64
	// Size is the length of its message in bytes (of the record alone
	// when that is already over the limit).
	Size int
	// Limit is the largest message the client sends, 0 when the record
	// was refused for another reason.
	Limit int
	// Reason says why, when not because of the size.
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Limit > 0 {
		return fmt.Sprintf("syslog record %d refused: message of %d bytes, larger than the limit of %d", e.Seq, e.Size, e.Limit)
	}
	return fmt.Sprintf("syslog record %d refused: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }
