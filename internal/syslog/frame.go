package syslog

import (
	"bytes"
	"strconv"
)

// Framing is how messages are delimited on a stream.
type Framing uint8

const (
	// Datagram sends one message per datagram (UDP, a unix datagram
	// socket): no framing.
	Datagram Framing = iota
	// OctetCounting prefixes each message with its length in bytes and a
	// space (RFC 6587 section 3.4.1), the framing of syslog over TCP that
	// survives any byte in the message.
	OctetCounting
	// LineFeed ends each message with a newline (RFC 6587 section 3.4.2,
	// "non-transparent framing"), what a daemon reading /dev/log as a
	// stream expects. A JSON record holds no raw newline, and a message
	// that does is refused rather than split.
	LineFeed
)

// AppendFrame appends msg framed as fr says. It reports false, appending
// nothing, when msg cannot be framed so (a newline in a LineFeed message).
func AppendFrame(dst []byte, fr Framing, msg []byte) ([]byte, bool) {
	switch fr {
	case OctetCounting:
		dst = strconv.AppendInt(dst, int64(len(msg)), 10)
		dst = append(dst, ' ')
		return append(dst, msg...), true
	case LineFeed:
		if bytes.IndexByte(msg, '\n') >= 0 {
			return dst, false
		}
		dst = append(dst, msg...)
		return append(dst, '\n'), true
	default:
		return append(dst, msg...), true
	}
}
