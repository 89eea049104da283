package events

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
)

// ErrTruncated is returned (wrapped) for a netlink message or attribute
// whose length does not fit the bytes received.
var ErrTruncated = errors.New("truncated netlink message")

// nlmsghdrLen is the size of struct nlmsghdr.
const nlmsghdrLen = 16

// forEachMessage calls fn with each netlink message in b (one datagram, or
// a capture file of concatenated messages) and the bytes it was parsed
// from, header included. The message's Data aliases b. It stops when fn
// returns false, and returns an error wrapping ErrTruncated when a header
// does not fit.
func forEachMessage(b []byte, fn func(msg netlink.Message, raw []byte) bool) error {
	for len(b) > 0 {
		raw, rest, err := nextMessage(b)
		if err != nil {
			return err
		}
		msg := netlink.Message{
			Header: netlink.Header{
				Length:   uint32(len(raw)),
				Type:     netlink.HeaderType(binary.NativeEndian.Uint16(raw[4:])),
				Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(raw[6:])),
				Sequence: binary.NativeEndian.Uint32(raw[8:]),
				PID:      binary.NativeEndian.Uint32(raw[12:]),
			},
			Data: raw[nlmsghdrLen:len(raw):len(raw)],
		}
		if !fn(msg, raw) {
			return nil
		}
		b = rest
	}
	return nil
}

// nextMessage splits the netlink message at the start of b (header
// included, capped at its length) from the messages after it. It returns an
// error wrapping ErrTruncated when the header does not fit b or its length
// does not fit the header and b.
func nextMessage(b []byte) (msg, rest []byte, err error) {
	if len(b) < nlmsghdrLen {
		return nil, nil, fmt.Errorf("netlink header of %d bytes: %w", len(b), ErrTruncated)
	}
	l := binary.NativeEndian.Uint32(b)
	if l < nlmsghdrLen || uint64(l) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("netlink message length %d of %d bytes: %w", l, len(b), ErrTruncated)
	}
	// Messages are padded to 4 bytes; the last may lack its padding.
	if adv := (int(l) + 3) &^ 3; adv < len(b) {
		rest = b[adv:]
	}
	return b[:l:l], rest, nil
}
