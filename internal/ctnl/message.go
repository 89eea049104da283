package ctnl

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTruncated is returned (wrapped) for a netlink message or attribute
// whose length does not fit its header or the bytes it was read from.
var ErrTruncated = errors.New("truncated netlink message")

// Header is struct nlmsghdr, in host byte order as the kernel sends it.
type Header struct {
	Len    uint32
	Type   HeaderType
	Flags  Flags
	Seq    uint32
	PortID uint32
}

// ParseHeader reads the struct nlmsghdr at the start of msg, which must
// hold NLMsgHdrLen bytes at least (as every message NextMessage returns
// does). It checks nothing.
func ParseHeader(msg []byte) Header {
	_ = msg[NLMsgHdrLen-1]
	return Header{
		Len:    binary.NativeEndian.Uint32(msg),
		Type:   HeaderType(binary.NativeEndian.Uint16(msg[4:])),
		Flags:  Flags(binary.NativeEndian.Uint16(msg[6:])),
		Seq:    binary.NativeEndian.Uint32(msg[8:]),
		PortID: binary.NativeEndian.Uint32(msg[12:]),
	}
}

// NextMessage splits the netlink message at the start of b (a datagram, or
// a capture of concatenated messages) from the messages after it: msg is
// the message, header included, capped at its nlmsg_len; rest starts at
// the next 4-byte boundary, and is nil after the last message, which may
// lack its padding. The error, when the header does not fit b or its
// length does not fit the header and b, wraps ErrTruncated.
func NextMessage(b []byte) (msg, rest []byte, err error) {
	if len(b) < NLMsgHdrLen {
		return nil, nil, fmt.Errorf("netlink header of %d bytes: %w", len(b), ErrTruncated)
	}
	l := binary.NativeEndian.Uint32(b)
	if l < NLMsgHdrLen || uint64(l) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("netlink message length %d of %d bytes: %w", l, len(b), ErrTruncated)
	}
	if adv := (int(l) + NLMsgAlignTo - 1) &^ (NLMsgAlignTo - 1); adv < len(b) {
		rest = b[adv:]
	}
	return b[:l:l], rest, nil
}

// Payload is msg's payload after its struct nlmsghdr (for nfnetlink, its
// struct nfgenmsg and attributes), for a msg from NextMessage.
func Payload(msg []byte) []byte {
	return msg[NLMsgHdrLen:len(msg):len(msg)]
}

// ErrorCode reads the error code that starts the payload of an
// NLMSG_ERROR (0 for an acknowledgement, a negative errno otherwise) or of
// an NLMSG_DONE (a dump's status). The error wraps ErrTruncated when the
// payload is too short to hold one.
func ErrorCode(payload []byte) (int32, error) {
	if len(payload) < NLMsgErrLen {
		return 0, fmt.Errorf("netlink error code of %d bytes: %w", len(payload), ErrTruncated)
	}
	return int32(binary.NativeEndian.Uint32(payload)), nil
}
