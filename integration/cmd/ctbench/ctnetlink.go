//go:build integration

package main

import (
	"encoding/binary"
)

// Encoding of the ctnetlink requests the generator sends. They are built by
// hand into one buffer per sendmsg: a library's per-message allocations
// would make the generator, not the kernel, the limit of the full-speed
// runs.

// ctnetlink's numbers (linux/netfilter/nfnetlink_conntrack.h, nfnetlink.h,
// netlink.h).
const (
	nfnlSubsysCTNetlink = 1
	ipctnlMsgCtNew      = 0
	ipctnlMsgCtDelete   = 2

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaStatus     = 3
	ctaTimeout    = 7
	ctaMark       = 8

	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaProtoNum   = 1
	ctaProtoSrc   = 2
	ctaProtoDst   = 3

	nlaFNested = 1 << 15

	nlmFRequest = 0x1
	nlmFExcl    = 0x200
	nlmFCreate  = 0x400

	nlmsgHdrLen = 16
	nlmsgError  = 2
	afInet      = 2
	protoUDP    = 17

	// entryStatus is IPS_SEEN_REPLY|IPS_ASSURED|IPS_CONFIRMED: ctnetlink
	// marks a created entry confirmed before applying CTA_STATUS and
	// refuses (EBUSY) a status that would clear the bit. ASSURED keeps the
	// kernel from early-dropping it.
	entryStatus = 1<<1 | 1<<2 | 1<<3
	// entryTimeout outlives any run: entries end by delete, never by
	// timeout, so that every DESTROY is the generator's.
	entryTimeout = 600
)

// ctTuple is an IPv4 conntrack tuple in the original direction.
type ctTuple struct {
	Src, Dst     [4]byte
	Proto        uint8
	SPort, DPort uint16
}

// reply is the tuple of the reply direction, without NAT.
func (t ctTuple) reply() ctTuple {
	return ctTuple{Src: t.Dst, Dst: t.Src, Proto: t.Proto, SPort: t.DPort, DPort: t.SPort}
}

// entryTuple is the tuple of the ctnetlink load's entry i: unique over
// millions of entries, though only a batch's must differ.
func entryTuple(i int) ctTuple {
	return ctTuple{
		Src:   [4]byte{10, 77, byte(i >> 8), byte(i)},
		Dst:   [4]byte{10, 78, 0, 1},
		Proto: protoUDP,
		SPort: uint16(1024 + (i>>16)%60000),
		DPort: 80,
	}
}

// appendCreate appends an IPCTNL_MSG_CT_NEW request creating t's entry.
// No acknowledgement is asked for: the kernel handles a sendmsg's requests
// before the call returns and answers only the ones that fail.
func appendCreate(b []byte, seq uint32, t ctTuple) []byte {
	b, h := beginMsg(b, ipctnlMsgCtNew, nlmFRequest|nlmFCreate|nlmFExcl, seq)
	b = appendTuple(b, ctaTupleOrig, t)
	b = appendTuple(b, ctaTupleReply, t.reply())
	b = appendU32(b, ctaStatus, entryStatus)
	b = appendU32(b, ctaTimeout, entryTimeout)
	return endMsg(b, h)
}

// appendUpdate appends an IPCTNL_MSG_CT_NEW request without NLM_F_CREATE,
// which changes t's existing entry: a new mark, which the kernel reports as
// an UPDATE and ctwatch's default --updates changes writes.
func appendUpdate(b []byte, seq uint32, t ctTuple, mark uint32) []byte {
	b, h := beginMsg(b, ipctnlMsgCtNew, nlmFRequest, seq)
	b = appendTuple(b, ctaTupleOrig, t)
	b = appendU32(b, ctaMark, mark)
	return endMsg(b, h)
}

// appendDelete appends an IPCTNL_MSG_CT_DELETE request for t's entry.
func appendDelete(b []byte, seq uint32, t ctTuple) []byte {
	b, h := beginMsg(b, ipctnlMsgCtDelete, nlmFRequest, seq)
	b = appendTuple(b, ctaTupleOrig, t)
	return endMsg(b, h)
}

// beginMsg appends a netlink header (its length left to endMsg) and the
// nfgenmsg of an IPv4 ctnetlink request; h is the header's offset.
func beginMsg(b []byte, msg uint16, flags uint16, seq uint32) (_ []byte, h int) {
	h = len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, nfnlSubsysCTNetlink<<8|msg)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port ID: the kernel's
	return append(b, afInet, 0, 0, 0), h       // nfgenmsg: family, version, res_id
}

// endMsg writes the length of the message begun at h.
func endMsg(b []byte, h int) []byte {
	binary.NativeEndian.PutUint32(b[h:], uint32(len(b)-h))
	return b
}

// appendTuple appends a CTA_TUPLE_* nest.
func appendTuple(b []byte, typ uint16, t ctTuple) []byte {
	tup, b := beginNest(b, typ)
	ip, b := beginNest(b, ctaTupleIP)
	b = appendAttr(b, ctaIPv4Src, t.Src[:])
	b = appendAttr(b, ctaIPv4Dst, t.Dst[:])
	b = endNest(b, ip)
	proto, b := beginNest(b, ctaTupleProto)
	b = appendAttr(b, ctaProtoNum, []byte{t.Proto})
	b = appendAttr(b, ctaProtoSrc, binary.BigEndian.AppendUint16(nil, t.SPort))
	b = appendAttr(b, ctaProtoDst, binary.BigEndian.AppendUint16(nil, t.DPort))
	b = endNest(b, proto)
	return endNest(b, tup)
}

// appendU32 appends an attribute holding a big-endian uint32, as every
// ctnetlink number is.
func appendU32(b []byte, typ uint16, v uint32) []byte {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], v)
	return appendAttr(b, typ, p[:])
}

// appendAttr appends a netlink attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, payload []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// beginNest appends a nested attribute's header, its length left to
// endNest; at is its offset.
func beginNest(b []byte, typ uint16) (at int, _ []byte) {
	at = len(b)
	b = binary.NativeEndian.AppendUint16(b, 0)
	return at, binary.NativeEndian.AppendUint16(b, typ|nlaFNested)
}

// endNest writes the length of the nest begun at at.
func endNest(b []byte, at int) []byte {
	binary.NativeEndian.PutUint16(b[at:], uint16(len(b)-at))
	return b
}

// ackErrors returns the error codes of the NLMSG_ERROR messages in a
// datagram read from the request socket (acknowledgements, code 0, are
// skipped) and whether it parsed.
func ackErrors(b []byte) (codes []int32, ok bool) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		typ := binary.NativeEndian.Uint16(b[4:])
		if l < nlmsgHdrLen || l > len(b) {
			return codes, false
		}
		if typ == nlmsgError && l >= nlmsgHdrLen+4 {
			if code := int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:])); code != 0 {
				codes = append(codes, code)
			}
		}
		if (l+3)&^3 >= len(b) {
			break
		}
		b = b[(l+3)&^3:]
	}
	return codes, true
}

// eventType is the kind of a ctnetlink event message: IPCTNL_MSG_CT_NEW
// with NLM_F_CREATE is a NEW, without it an UPDATE; IPCTNL_MSG_CT_DELETE a
// DESTROY (ctnetlink_conntrack_event in the kernel).
func eventType(typ, flags uint16) eventKind {
	switch typ {
	case nfnlSubsysCTNetlink<<8 | ipctnlMsgCtNew:
		if flags&nlmFCreate != 0 {
			return kindNew
		}
		return kindUpdate
	case nfnlSubsysCTNetlink<<8 | ipctnlMsgCtDelete:
		return kindDestroy
	}
	return kindOther
}

// countEventMessages counts the event messages of one datagram from the
// events socket by kind; a multicast datagram holds one message, but
// nothing in the protocol says so.
func countEventMessages(c *eventCounts, b []byte) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			c.Other++
			return
		}
		c.add(eventType(binary.NativeEndian.Uint16(b[4:]), binary.NativeEndian.Uint16(b[6:])))
		if (l+3)&^3 >= len(b) {
			return
		}
		b = b[(l+3)&^3:]
	}
}
