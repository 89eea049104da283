package record

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// ecsTransport returns the IANA protocol keyword of p in lowercase, which
// ECS asks for in network.transport ("ipv6-icmp", not conntrack's
// "icmpv6"), or "" for a protocol ctwatch has no name for: the number then
// stays in network.iana_number alone, rather than a guess at a name.
func ecsTransport(p model.Proto) string {
	switch p {
	case model.ProtoICMP:
		return "icmp"
	case model.ProtoTCP:
		return "tcp"
	case model.ProtoUDP:
		return "udp"
	case model.ProtoDCCP:
		return "dccp"
	case model.ProtoGRE:
		return "gre"
	case model.ProtoICMPv6:
		return "ipv6-icmp"
	case model.ProtoSCTP:
		return "sctp"
	case model.ProtoUDPLite:
		return "udplite"
	}
	return ""
}

// ecsNetworkType returns ECS's network.type of a family, or "" for a family
// ECS has no value for.
func ecsNetworkType(f model.Family) string {
	switch f {
	case model.FamilyIPv4:
		return "ipv4"
	case model.FamilyIPv6:
		return "ipv6"
	}
	return ""
}

// The ECS records are built as JSON text in stack buffers, one object at a
// time, and handed to zerolog whole (RawJSON): an object written key by key
// through a pooled zerolog dictionary costs a pool round trip per object,
// and an ECS entry record has a dozen objects. The helpers below append to
// an object whose opening brace is already in dst.

// objKey appends key, preceded by a comma unless it is the object's first.
// Keys are constants that need no escaping.
func objKey(dst []byte, key string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// objStr appends key and s as a JSON string.
func objStr(dst []byte, key, s string) []byte {
	return appendJSONString(objKey(dst, key), s)
}

// objUint appends key and v.
func objUint(dst []byte, key string, v uint64) []byte {
	return strconv.AppendUint(objKey(dst, key), v, 10)
}

// objInt appends key and v.
func objInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(objKey(dst, key), v, 10)
}

// objBool appends key and v.
func objBool(dst []byte, key string, v bool) []byte {
	return strconv.AppendBool(objKey(dst, key), v)
}

// objTime appends key and t as TimeLayout, in UTC.
func objTime(dst []byte, key string, t time.Time) []byte {
	return AppendTime(objKey(dst, key), t)
}

// objRaw appends key and raw, which is JSON already.
func objRaw(dst []byte, key string, raw []byte) []byte {
	return append(objKey(dst, key), raw...)
}

// appendIP appends a quoted in its canonical form without a zone, which
// an Elasticsearch ip field would reject; an invalid address (a source
// that did not carry it) is the family's unspecified address, as in the
// native schema.
func appendIP(dst []byte, f model.Family, a netip.Addr) []byte {
	return appendAddr(dst, f, a.WithZone(""))
}

// hexDigits are the digits of \u escapes.
const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, and each byte that is not part of valid
// UTF-8 replaced by U+FFFD, as encoding/json does, so that any host name
// or version string makes valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
