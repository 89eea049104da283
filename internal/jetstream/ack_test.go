package jetstream

import (
	"errors"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The ack and the duplicate ack are the bytes nats-server 2.15 sends; the
// errors are in its format (TestRefusedRecordsSkipped meets a real one).
func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		msg     *nats.Msg
		dup     bool
		err     error // matched with errors.Is; nil for none
		refusal bool
	}{
		{name: "ack", msg: &nats.Msg{Data: []byte(`{"stream":"CTWATCH","seq":1}`)}},
		{name: "duplicate", msg: &nats.Msg{Data: []byte(`{"stream":"CTWATCH","seq":1,"duplicate": true}`)}, dup: true},
		{name: "stream named error", msg: &nats.Msg{Data: []byte(`{"stream":"error","seq":7}`)}},
		{
			name:    "too big for the stream",
			msg:     &nats.Msg{Data: []byte(`{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"CTWATCH","seq":0}`)},
			err:     jetstream.ErrStreamMessageExceedsMaximum,
			refusal: true,
		},
		{
			name: "other API error",
			msg:  &nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"JetStream resource limits exceeded for server"}}`)},
			err:  &jetstream.APIError{ErrorCode: 10077},
		},
		{name: "no responders", msg: &nats.Msg{Header: nats.Header{"Status": []string{"503"}}}, err: nats.ErrNoResponders},
		{name: "garbled", msg: &nats.Msg{Data: []byte(`{"error":`)}, err: errAny},
		{name: "empty", msg: &nats.Msg{}, err: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dup, err := parseAck(tc.msg)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("parseAck: %v, want no error", err)
			case tc.err == errAny && err == nil:
				t.Fatal("parseAck: no error, want one")
			case tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("parseAck: %v, want %v", err, tc.err)
			}
			if dup != tc.dup {
				t.Errorf("duplicate = %v, want %v", dup, tc.dup)
			}
			if got := err != nil && refusal(err); got != tc.refusal {
				t.Errorf("refusal(%v) = %v, want %v", err, got, tc.refusal)
			}
		})
	}
}

// errAny stands for "some error" in TestParseAck.
var errAny = errors.New("any error")

// FuzzParseReply checks that parseReply never panics, returns only slots of
// the window, and reads back the subjects send writes.
func FuzzParseReply(f *testing.F) {
	p := &Publisher{prefix: "_INBOX.abc.", ring: make([]entry, 16)}
	f.Add("_INBOX.abc.3.17", 3, uint64(17))
	f.Add("_INBOX.abc.-1.1", 0, uint64(0))
	f.Add("_INBOX.abc.99.1", 15, uint64(1<<63))
	f.Add("_INBOX.xyz.1.1", 1, uint64(1))
	f.Fuzz(func(t *testing.T, subject string, slot int, attempt uint64) {
		if i, _, ok := p.parseReply(subject); ok && (i < 0 || i >= len(p.ring)) {
			t.Fatalf("parseReply(%q) = slot %d, outside the window of %d", subject, i, len(p.ring))
		}
		if slot < 0 || slot >= len(p.ring) {
			return
		}
		s := p.prefix + strconv.Itoa(slot) + "." + strconv.FormatUint(attempt, 10)
		if i, a, ok := p.parseReply(s); !ok || i != slot || a != attempt {
			t.Fatalf("parseReply(%q) = %d, %d, %v; want %d, %d, true", s, i, a, ok, slot, attempt)
		}
	})
}
