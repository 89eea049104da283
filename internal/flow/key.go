package flow

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// flowKey identifies a flow: the network namespace, the conntrack zone,
// the original tuple and the conntrack id. The same tuple in two namespaces
// is two flows (two conntrack tables). It is a fixed-size value without
// pointers so that records holding it are never scanned by the garbage
// collector.
type flowKey struct {
	src, dst [16]byte // addresses in their 16-byte form (IPv4-mapped for IPv4)
	// ports packs the protocol identifiers: sport<<16|dport for port
	// protocols, srckey<<16|dstkey for GRE, type<<24|code<<16|id for ICMP.
	ports uint32
	id    uint32
	// ns is the namespace, packed by nsKey: 0 for the receiving socket's
	// own, nsid+1 for a peer.
	ns     uint32
	zone   uint16
	family model.Family
	proto  model.Proto
}

// makeKey returns the key of e's flow in namespace ns (an nsKey).
func makeKey(e *model.Entry, ns uint32) flowKey {
	k := flowKey{
		src:    e.Orig.Src.As16(),
		dst:    e.Orig.Dst.As16(),
		ns:     ns,
		family: e.Family,
		proto:  e.Proto,
	}
	k.ports = packIDs(e.Proto, &e.Orig)
	if e.Fields.Has(model.FieldID) {
		k.id = e.ID
	}
	switch {
	case e.Fields.Has(model.FieldZone):
		k.zone = e.Zone
	case e.Fields.Has(model.FieldOrigZone):
		// A zone that applies to the original direction only is the one
		// the kernel looks the original tuple up in.
		k.zone = e.Orig.Zone
	}
	return k
}

// packIDs packs a tuple's protocol identifiers into 32 bits.
func packIDs(p model.Proto, t *model.Tuple) uint32 {
	switch {
	case p.HasPorts(), p == model.ProtoGRE:
		return uint32(t.SrcPort)<<16 | uint32(t.DstPort)
	case p.IsICMP():
		return uint32(t.ICMPType)<<24 | uint32(t.ICMPCode)<<16 | uint32(t.ICMPID)
	}
	return 0
}

// unpackIDs is the inverse of packIDs.
func unpackIDs(p model.Proto, v uint32, t *model.Tuple) {
	switch {
	case p.HasPorts(), p == model.ProtoGRE:
		t.SrcPort, t.DstPort = uint16(v>>16), uint16(v)
	case p.IsICMP():
		t.ICMPType, t.ICMPCode, t.ICMPID = uint8(v>>24), uint8(v>>16), uint16(v)
	}
}

// addrFrom16 turns a key's 16-byte address back into the family's form.
func addrFrom16(f model.Family, b [16]byte) netip.Addr {
	a := netip.AddrFrom16(b)
	if f != model.FamilyIPv6 {
		a = a.Unmap()
	}
	return a
}

// hash mixes the key with a per-tracker random seed, so that the tuples an
// outsider chooses (source ports, addresses) cannot be crafted to collide.
// It is wyhash's multiply-fold, which is fast and mixes well enough for an
// open-addressing table indexed by the low bits.
func (k *flowKey) hash(seed uint64) uint64 {
	const (
		p0 = 0xa0761d6478bd642f
		p1 = 0xe7037ed1a0b428db
		p2 = 0x8ebc6af09c88c6e3
		p3 = 0x589965cc75374cc3
	)
	le := binary.LittleEndian
	h := mix(le.Uint64(k.src[:8])^seed^p0, le.Uint64(k.src[8:])^p1)
	h = mix(h^le.Uint64(k.dst[:8])^p2, le.Uint64(k.dst[8:])^p3)
	meta := uint64(k.ns)<<32 | uint64(k.zone)<<16 | uint64(k.family)<<8 | uint64(k.proto)
	h = mix(h^(uint64(k.ports)<<32|uint64(k.id))^p1, meta^p2^seed)
	return mix(h^p0, h^p3)
}

// equal compares two keys word by word, which the compiler does not do for
// the struct (it calls memequal for the 48 bytes).
func (k *flowKey) equal(o *flowKey) bool {
	le := binary.LittleEndian
	return le.Uint64(k.src[:8]) == le.Uint64(o.src[:8]) && le.Uint64(k.src[8:]) == le.Uint64(o.src[8:]) &&
		le.Uint64(k.dst[:8]) == le.Uint64(o.dst[:8]) && le.Uint64(k.dst[8:]) == le.Uint64(o.dst[8:]) &&
		k.ports == o.ports && k.id == o.id && k.ns == o.ns && k.zone == o.zone && k.family == o.family && k.proto == o.proto
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// icmpInverse returns the ICMP type the kernel expects in the reply to a
// request of type t (its invmap), and false when t has none.
func icmpInverse(p model.Proto, t uint8) (uint8, bool) {
	if p == model.ProtoICMP {
		switch t {
		case 8: // echo request → echo reply
			return 0, true
		case 0:
			return 8, true
		case 13, 15, 17: // timestamp, info, address mask requests
			return t + 1, true
		case 14, 16, 18:
			return t - 1, true
		}
		return t, false
	}
	switch t {
	case 128, 139: // echo request, node information query
		return t + 1, true
	case 129, 140:
		return t - 1, true
	}
	return t, false
}

// inverse returns the reply tuple a flow without NAT has: the original tuple
// reversed.
func inverse(e *model.Entry) model.Tuple {
	o := &e.Orig
	r := model.Tuple{Src: o.Dst, Dst: o.Src}
	switch {
	case e.Proto.HasPorts(), e.Proto == model.ProtoGRE:
		r.SrcPort, r.DstPort = o.DstPort, o.SrcPort
	case e.Proto.IsICMP():
		r.ICMPType, _ = icmpInverse(e.Proto, o.ICMPType)
		r.ICMPCode, r.ICMPID = o.ICMPCode, o.ICMPID
	}
	return r
}

// natTuple is what the tracker keeps beside the record of the few flows
// that need more (Tracker.nat, record.nat), so that only they pay for it:
// the reply tuple of a flow whose reply tuple is not the inverse of its
// original one (NAT, or an ICMP type without an inverse), and the master
// of a flow created through an expectation. Both reply addresses zero (no
// address's 16-byte form is) mean no reply tuple: the reply is the
// inverse, and the entry is there for the master alone.
type natTuple struct {
	src, dst [16]byte
	ids      uint32
	// master is the index+1 of the flow's master in Tracker.masters; 0
	// when it has none.
	master uint32
}

// hasReply reports whether n holds a reply tuple.
func (n *natTuple) hasReply() bool { return n.src != [16]byte{} || n.dst != [16]byte{} }

// masterTuple is the original tuple of a flow's master connection
// (model.Entry.Master and MasterProto), kept in a pool of its own: an FTP
// data flow or a SIP media flow, not the common NATed one, pays for it.
type masterTuple struct {
	src, dst [16]byte
	ids      uint32
	proto    model.Proto
}

// sameIDs reports whether two tuples carry the same addresses and protocol
// identifiers (counters and zones aside).
func sameIDs(p model.Proto, a, b *model.Tuple) bool {
	return a.Src == b.Src && a.Dst == b.Dst && packIDs(p, a) == packIDs(p, b)
}
