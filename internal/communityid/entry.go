package communityid

import "github.com/ctwatch/ctwatch/pkg/model"

// FromEntry returns the flow of e's original tuple: what a monitor on the
// side of the flow's initiator sees. Behind NAT a monitor on the other side
// sees the reply tuple; FromTuple(e.Proto, &e.Reply) gives its flow.
func FromEntry(e *model.Entry) Flow {
	return FromTuple(e.Proto, &e.Orig)
}

// FromTuple returns the flow of one direction of an entry of protocol p.
// ICMP and ICMPv6 take their type and code; every other protocol its ports
// (GRE keys included, which Append then ignores as it ignores every port of
// a protocol the specification hashes without ports).
func FromTuple(p model.Proto, t *model.Tuple) Flow {
	f := Flow{Src: t.Src, Dst: t.Dst, Proto: uint8(p), SrcPort: t.SrcPort, DstPort: t.DstPort}
	if p == model.ProtoICMP || p == model.ProtoICMPv6 {
		f.SrcPort, f.DstPort = uint16(t.ICMPType), uint16(t.ICMPCode)
	}
	return f
}

// AppendEntry appends the Community ID of e's original tuple to dst (see
// Append and FromEntry).
func AppendEntry(dst []byte, e *model.Entry, seed uint16) []byte {
	return Append(dst, FromTuple(e.Proto, &e.Orig), seed)
}
