package communityid

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
)

// Len is the length of a version 1 Community ID: "1:" and 28 characters of
// base64 for the 20 bytes of SHA-1.
const Len = len(prefix) + (sha1.Size+2)/3*4

// prefix names the version of the algorithm; IDs of different versions
// must never compare equal.
const prefix = "1:"

// The IP protocol numbers the specification hashes with ports.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// maxInput is the longest hash input: seed, two IPv6 addresses, protocol,
// padding, two ports.
const maxInput = 2 + 16 + 16 + 1 + 1 + 2 + 2

// Flow is what a Community ID is computed from: one direction of a flow.
type Flow struct {
	// Src and Dst are the addresses, both IPv4 or both IPv6. Zones are
	// ignored.
	Src, Dst netip.Addr

	// Proto is the IP protocol number (6 for TCP, 1 for ICMP, 58 for
	// ICMPv6, 47 for GRE, ...).
	Proto uint8

	// SrcPort and DstPort are the ports of TCP, UDP and SCTP. For ICMP and
	// ICMPv6, SrcPort is the message type and DstPort its code, as the
	// specification's community_id_icmp takes them. Other protocols hash
	// without ports, so the fields are ignored for them.
	SrcPort, DstPort uint16
}

// Append appends the Community ID of f, hashed with seed, to dst and
// returns the extended slice. It appends nothing when f has no Community ID
// (an invalid address, or addresses of different families). It does not
// allocate when dst has room for Len more bytes.
func Append(dst []byte, f Flow, seed uint16) []byte {
	sum, ok := Sum(f, seed)
	if !ok {
		return dst
	}
	dst = append(dst, prefix...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// String returns the Community ID of f, hashed with seed, or "" when f has
// none (see Append).
func String(f Flow, seed uint16) string {
	var buf [Len]byte
	return string(Append(buf[:0], f, seed))
}

// Sum returns the SHA-1 digest a Community ID encodes, which is what the
// specification's "no base64" form prints in hex. ok is false when f has no
// Community ID (see Append).
func Sum(f Flow, seed uint16) (sum [sha1.Size]byte, ok bool) {
	var in [maxInput]byte
	n, ok := input(&in, f, seed)
	if !ok {
		return sum, false
	}
	return sha1.Sum(in[:n]), true
}

// input writes the hash input for f into in and returns its length.
func input(in *[maxInput]byte, f Flow, seed uint16) (int, bool) {
	if !f.Src.IsValid() || !f.Dst.IsValid() || f.Src.Is4() != f.Dst.Is4() {
		return 0, false
	}
	in[0], in[1] = byte(seed>>8), byte(seed)
	n := 2
	var src, dst []byte
	if f.Src.Is4() {
		s, d := f.Src.As4(), f.Dst.As4()
		src, dst = in[n:n+4], in[n+4:n+8]
		copy(src, s[:])
		copy(dst, d[:])
		n += 8
	} else {
		s, d := f.Src.As16(), f.Dst.As16()
		src, dst = in[n:n+16], in[n+16:n+32]
		copy(src, s[:])
		copy(dst, d[:])
		n += 32
	}

	sport, dport := f.SrcPort, f.DstPort
	hasPorts, oneWay := true, false
	switch f.Proto {
	case protoTCP, protoUDP, protoSCTP:
	case protoICMP:
		sport, dport, oneWay = icmpPorts(icmpCounterpart, sport, dport)
	case protoICMPv6:
		sport, dport, oneWay = icmpPorts(icmpv6Counterpart, sport, dport)
	default:
		hasPorts, sport, dport = false, 0, 0
	}

	// The order is decided on the mapped ICMP ports, so that a request and
	// its reply, whose mapped ports are each other's swapped, meet.
	if !oneWay {
		c := bytes.Compare(src, dst)
		if c > 0 || c == 0 && sport > dport {
			var tmp [16]byte
			t := tmp[:len(src)]
			copy(t, src)
			copy(src, dst)
			copy(dst, t)
			sport, dport = dport, sport
		}
	}

	in[n], in[n+1] = f.Proto, 0
	n += 2
	if hasPorts {
		in[n], in[n+1] = byte(sport>>8), byte(sport)
		in[n+2], in[n+3] = byte(dport>>8), byte(dport)
		n += 4
	}
	return n, true
}
