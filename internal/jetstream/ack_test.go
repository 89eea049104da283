package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

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
			dup, err := parseAck(tc.msg, new(string))
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

// ackSeeds are answers in the server's formats, and near misses.
var ackSeeds = []string{
	`{"stream":"CTWATCH","seq":1}`,
	`{"stream":"CTWATCH","domain":"hub","seq":18446744073709551615,"duplicate":true}`,
	`{"stream":"CTWATCH","seq":500,"batch":"b0","count":500}`,
	`{"stream":"CTWATCH","seq":3,"val":"12"}`,
	`{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"CTWATCH","seq":0}`,
	`{"error":{"code":503,"err_code":10077,"description":"JetStream resource limits exceeded for server"}}`,
	` { "Stream" : "s\u00e9" , "SEQ" : 0 , "x" : [1, -2.5e+3, {"a": null}, true, false, "\"" ] } `,
	`{"error":null,"stream":"S","seq":1}`,
	`{"error":{"code":1},"error":{"description":"d"},"stream":"S"}`,
	`{"seq":-1}`, `{"seq":1.5}`, `{"seq":1e3}`, `{"duplicate":"true"}`, `{"error":{"err_code":70000}}`,
	`{"stream":"S"} x`, `{"stream":"S",}`, `[]`, `null`, `{"a":01}`, "{\"stream\":\"a\x01\"}", `{"stream":"\xff"}`,
}

// FuzzDecodeAck checks decodeAck against encoding/json on the same input:
// both read an object alike, and decodeAck takes nothing encoding/json
// refuses.
func FuzzDecodeAck(f *testing.F) {
	for _, s := range ackSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want pubAck
		err := decodeAck(data, &got, "CTWATCH")
		if errors.Is(err, errTooDeep) {
			return // encoding/json allows deeper nesting
		}
		jerr := json.Unmarshal(data, &want)
		object := len(bytes.TrimLeft(data, " \t\r\n")) > 0 && bytes.TrimLeft(data, " \t\r\n")[0] == '{'
		switch {
		case err == nil && jerr != nil:
			t.Fatalf("decodeAck(%q) took what encoding/json refuses: %v", data, jerr)
		case err != nil && jerr == nil && object:
			t.Fatalf("decodeAck(%q): %v; encoding/json took it as %+v", data, err, want)
		case err == nil:
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("decodeAck(%q) (-json +decodeAck):\n%s", data, diff)
			}
		}
	})
}

// TestDecodeAckSeeds pins the seeds' results, so that the fuzz test's
// agreement is not agreement on failing everything.
func TestDecodeAckSeeds(t *testing.T) {
	var ok int
	for _, s := range ackSeeds {
		var a pubAck
		if decodeAck([]byte(s), &a, "") == nil {
			ok++
		}
	}
	if want := 9; ok != want {
		t.Errorf("%d seeds decoded, want %d", ok, want)
	}
}

// TestDecodeAckAllocs checks that a plain ack of the stream last seen costs
// no allocation.
func TestDecodeAckAllocs(t *testing.T) {
	data := []byte(`{"stream":"CTWATCH","seq":123456}`)
	stream := "CTWATCH"
	var a pubAck
	if n := testing.AllocsPerRun(100, func() {
		if err := decodeAck(data, &a, stream); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("decodeAck: %v allocations, want 0", n)
	}
	if want := (pubAck{Stream: "CTWATCH", Seq: 123456}); a != want {
		t.Errorf("decodeAck = %+v, want %+v", a, want)
	}
}

// BenchmarkDecodeAck compares the hand decoder with encoding/json on a
// plain ack.
func BenchmarkDecodeAck(b *testing.B) {
	data := []byte(`{"stream":"CTWATCH","seq":123456}`)
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		var a pubAck
		for range b.N {
			if err := decodeAck(data, &a, "CTWATCH"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var a pubAck
			if err := json.Unmarshal(data, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
