package jetstream

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NoStreamError says that no JetStream stream takes the output's subject:
// records published to it are not stored until the operator creates one.
type NoStreamError struct {
	// Subject is the output's subject.
	Subject string
}

func (e *NoStreamError) Error() string {
	return fmt.Sprintf("no JetStream stream takes subject %q: records are kept and retried until one does; "+
		"create it, for example: nats stream add CTWATCH --subjects 'ctwatch.>' --storage file "+
		"--retention limits --replicas 3 --dupe-window 1h (see docs/delivery.md)", e.Subject)
}

// Is makes errors.Is(err, jetstream.ErrStreamNotFound) hold, the client's
// own sentinel for a missing stream.
func (e *NoStreamError) Is(target error) bool { return target == jetstream.ErrStreamNotFound }

// ErrRefused is matched (errors.Is) by every [*RefusedError].
var ErrRefused = errors.New("record refused by the server")

// RefusedError is the result of a record the server will never store, such
// as one larger than the server's max payload or the stream's max message
// size: it is skipped (and counted), not retried.
type RefusedError struct {
	// Seq is the refused record's sequence number.
	Seq uint64
	// Size is its length in bytes.
	Size int
	// Err is the client's or the server's reason.
	Err error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("record %d (%d bytes) refused: %v", e.Seq, e.Size, e.Err)
}

// Unwrap returns the reason.
func (e *RefusedError) Unwrap() error { return e.Err }

// Is matches [ErrRefused].
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// refusal tells whether err means the server will never take the record, as
// opposed to "not now" (disconnected, timed out, no stream yet).
func refusal(err error) bool {
	if errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}
