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
		if len(b) < nlmsghdrLen {
			return fmt.Errorf("netlink header of %d bytes: %w", len(b), ErrTruncated)
		}
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlmsghdrLen || l > len(b) {
			return fmt.Errorf("netlink message length %d of %d bytes: %w", l, len(b), ErrTruncated)
		}
		msg := netlink.Message{
			Header: netlink.Header{
				Length:   uint32(l),
				Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:])),
				Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:])),
				Sequence: binary.NativeEndian.Uint32(b[8:]),
				PID:      binary.NativeEndian.Uint32(b[12:]),
			},
			Data: b[nlmsghdrLen:l:l],
		}
		if !fn(msg, b[:l:l]) {
			return nil
		}
		// Messages are padded to 4 bytes; the last may lack its padding.
		adv := (l + 3) &^ 3
		if adv >= len(b) {
			return nil
		}
		b = b[adv:]
	}
	return nil
}
