package flow

import (
	"io"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Encoder is the part of internal/record's encoder the tests write records
// with. The record schema is internal/record's, which imports this package:
// record_test.go (package flow_test) sets NewEncoder, RecordOf and ParseRecord, so that
// the tests here check the tracker's results as ctwatch writes them while
// this package knows nothing of the schema.
type Encoder interface {
	Entry(ev *model.Event, res *Result)
	Inferred(in *Inferred)
	Unreplied(u *Unreplied)
}

// NewEncoder returns an encoder of native records into w, stamped by clock.
var NewEncoder func(w io.Writer, clock func() time.Time) Encoder

// RecordOf returns the native JSON object of a *Lifecycle or *Transition,
// as the "flow" or "transition" key carries it.
var RecordOf func(v any) string

// ParseRecord parses a native JSON record (record.ParseJSON).
var ParseRecord func(data []byte) (model.Event, error)

// jsonOf returns the native JSON object of a *Lifecycle or *Transition.
func jsonOf(v any) string { return RecordOf(v) }
