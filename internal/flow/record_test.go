package flow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// init gives the package's tests internal/record's native encoder (see
// encoder_test.go).
func init() {
	flow.NewEncoder = func(w io.Writer, clock func() time.Time) flow.Encoder {
		return record.New(record.Config{Run: "run-1", Host: "host-1", Log: zerolog.New(w), Clock: clock})
	}
	flow.RecordOf = recordOf
	flow.ParseRecord = record.ParseJSON
}

// recordOf writes v into the entry record that carries it and returns the
// key's object as written, bytes and key order untouched.
func recordOf(v any) string {
	var buf bytes.Buffer
	enc := record.New(record.Config{Run: "run-1", Host: "host-1", Log: zerolog.New(&buf)})
	var key string
	switch v := v.(type) {
	case *flow.Lifecycle:
		key = "flow"
		enc.Entry(&model.Event{Type: model.EventDestroy}, &flow.Result{Flow: *v})
	case *flow.Transition:
		key = "transition"
		enc.Entry(&model.Event{Type: model.EventUpdate}, &flow.Result{HasTransition: true, Transition: *v})
	default:
		panic(fmt.Sprintf("recordOf(%T)", v))
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &keys); err != nil {
		panic(err)
	}
	return string(keys[key])
}
