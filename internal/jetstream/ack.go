package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pubAck is the part of JetStream's answer to a publish that matters here,
// as decodeAck reads it. Its field tags are what encoding/json would read
// into it, the reference of the fuzz test.
type pubAck struct {
	Stream    string  `json:"stream"`
	Seq       uint64  `json:"seq"`
	Duplicate bool    `json:"duplicate"`
	Error     *ackErr `json:"error"`
}

// ackErr is the error object of an answer.
type ackErr struct {
	Code        int                 `json:"code"`
	ErrorCode   jetstream.ErrorCode `json:"err_code"`
	Description string              `json:"description"`
}

// errBadAck is wrapped by the error of an answer decodeAck cannot read;
// errTooDeep, by the error of one nested deeper than maxDepth.
var (
	errBadAck  = errors.New("malformed answer to a publish")
	errTooDeep = errors.New("nested too deep")
)

// parseAck says whether an answer is an ack of a duplicate, or the error it
// carries: the server's (a *jetstream.APIError), no responders, or one for
// an answer that is no ack (which makes the attempt fail and go again).
// *stream is the stream the last ack named, updated.
func parseAck(m *nats.Msg, stream *string) (bool, error) {
	if len(m.Data) == 0 {
		if m.Header.Get("Status") == "503" {
			return false, nats.ErrNoResponders
		}
		return false, fmt.Errorf("empty answer to a publish (status %q)", m.Header.Get("Status"))
	}
	var ack pubAck
	if err := decodeAck(m.Data, &ack, *stream); err != nil {
		return false, fmt.Errorf("answer to a publish: %w", err)
	}
	if ack.Error != nil {
		return false, &jetstream.APIError{Code: ack.Error.Code, ErrorCode: ack.Error.ErrorCode, Description: ack.Error.Description}
	}
	if ack.Stream == "" {
		return false, fmt.Errorf("answer to a publish names no stream: %w", errBadAck)
	}
	*stream = ack.Stream
	return ack.Duplicate, nil
}

// decodeAck reads a JSON object into a as encoding/json would, for the
// answers JetStream sends: it costs a fraction of json.Unmarshal, which
// reflects on every answer. It is stricter: a value of the wrong type for a
// key it knows, or anything but an object, is an error (encoding/json
// reports some of these while still filling the rest). Keys it does not
// know are checked as JSON and skipped. A stream name equal to stream is
// that string, not a copy: the name every ack repeats costs nothing.
func decodeAck(data []byte, a *pubAck, stream string) error {
	d := ackDecoder{data: data}
	*a = pubAck{}
	if err := d.object(func(key []byte) error {
		switch {
		case bytes.EqualFold(key, []byte("stream")):
			return d.str(&a.Stream, stream)
		case bytes.EqualFold(key, []byte("seq")):
			return d.uint(&a.Seq, 64)
		case bytes.EqualFold(key, []byte("duplicate")):
			return d.bool(&a.Duplicate)
		case bytes.EqualFold(key, []byte("error")):
			if d.null() {
				a.Error = nil // a pointer is set to nil by a null
				return nil
			}
			if a.Error == nil {
				a.Error = &ackErr{}
			}
			e := a.Error
			return d.object(func(key []byte) error {
				switch {
				case bytes.EqualFold(key, []byte("code")):
					return d.int(&e.Code)
				case bytes.EqualFold(key, []byte("err_code")):
					var v uint64
					if d.null() {
						return nil
					}
					if err := d.uint(&v, 16); err != nil {
						return err
					}
					e.ErrorCode = jetstream.ErrorCode(v)
					return nil
				case bytes.EqualFold(key, []byte("description")):
					return d.str(&e.Description, "")
				}
				return d.skip(0)
			})
		}
		return d.skip(0)
	}); err != nil {
		return err
	}
	d.space()
	if d.i != len(d.data) {
		return d.fail("data after the object")
	}
	return nil
}

// ackDecoder reads JSON from data at i.
type ackDecoder struct {
	data []byte
	i    int
}

// maxDepth bounds the nesting of skipped values.
const maxDepth = 64

func (d *ackDecoder) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errBadAck, what, d.i)
}

func (d *ackDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// expect consumes c after white space.
func (d *ackDecoder) expect(c byte) bool {
	d.space()
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

// literal consumes word after white space.
func (d *ackDecoder) literal(word string) bool {
	d.space()
	if len(d.data)-d.i >= len(word) && string(d.data[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// null consumes a null, which leaves a field as it was (encoding/json's
// rule).
func (d *ackDecoder) null() bool { return d.literal("null") }

// object reads an object, calling member with each key, the decoder at its
// value.
func (d *ackDecoder) object(member func(key []byte) error) error {
	if !d.expect('{') {
		return d.fail("want an object")
	}
	if d.expect('}') {
		return nil
	}
	for {
		d.space()
		key, err := d.token()
		if err != nil {
			return err
		}
		if !d.expect(':') {
			return d.fail("want ':'")
		}
		if err := member(key); err != nil {
			return err
		}
		if d.expect(',') {
			continue
		}
		if d.expect('}') {
			return nil
		}
		return d.fail("want ',' or '}'")
	}
}

// str reads a string (or a null) into s; one equal to same is same.
func (d *ackDecoder) str(s *string, same string) error {
	if d.null() {
		return nil
	}
	d.space()
	v, err := d.token()
	if err != nil {
		return err
	}
	if string(v) == same {
		*s = same
	} else {
		*s = string(v)
	}
	return nil
}

// token reads a string at i, returning its bytes: the input's own, or,
// for a string with an escape or a byte beyond ASCII (which no ack of
// ctwatch's has), encoding/json's decoding, for its exact rules.
func (d *ackDecoder) token() ([]byte, error) {
	if d.i >= len(d.data) || d.data[d.i] != '"' {
		return nil, d.fail("want a string")
	}
	start := d.i
	plain := true
	for j := start + 1; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '"':
			d.i = j + 1
			if plain {
				return d.data[start+1 : j], nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.i], &s); err != nil {
				return nil, fmt.Errorf("%w: %w", errBadAck, err)
			}
			return []byte(s), nil
		case c == '\\':
			plain = false
			j++ // the escaped byte: never the string's end
		case c < 0x20:
			return nil, d.fail("control character in a string")
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return nil, d.fail("unterminated string")
}

// number returns the bytes of a JSON number at i, checked against JSON's
// grammar.
func (d *ackDecoder) number() ([]byte, error) {
	d.space()
	start, b := d.i, d.data
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, d.fail("want a number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, d.fail("bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, d.fail("bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return b[start:i], nil
}

// uint reads an unsigned integer of bits bits (or a null) into v.
func (d *ackDecoder) uint(v *uint64, bits int) error {
	if d.null() {
		return nil
	}
	num, err := d.number()
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(string(num), 10, bits)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadAck, err)
	}
	*v = n
	return nil
}

// int reads an int (or a null) into v.
func (d *ackDecoder) int(v *int) error {
	if d.null() {
		return nil
	}
	num, err := d.number()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(num), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadAck, err)
	}
	*v = int(n)
	return nil
}

// bool reads a bool (or a null) into v.
func (d *ackDecoder) bool(v *bool) error {
	switch {
	case d.null():
	case d.literal("true"):
		*v = true
	case d.literal("false"):
		*v = false
	default:
		return d.fail("want a bool")
	}
	return nil
}

// skip checks and skips any JSON value.
func (d *ackDecoder) skip(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: %w", errBadAck, errTooDeep)
	}
	d.space()
	if d.i >= len(d.data) {
		return d.fail("want a value")
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(func([]byte) error { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		if d.expect(']') {
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			if d.expect(',') {
				continue
			}
			if d.expect(']') {
				return nil
			}
			return d.fail("want ',' or ']'")
		}
	case c == '"':
		_, err := d.token()
		return err
	case c == 't':
		if d.literal("true") {
			return nil
		}
	case c == 'f':
		if d.literal("false") {
			return nil
		}
	case c == 'n':
		if d.null() {
			return nil
		}
	default:
		_, err := d.number()
		return err
	}
	return d.fail("bad literal")
}
