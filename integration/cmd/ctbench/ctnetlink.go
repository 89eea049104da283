//go:build integration

package main

import (
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// Encoding of the ctnetlink requests the generator sends. They are built by
// hand into one buffer per sendmsg: a library's per-message allocations
// would make the generator, not the kernel, the limit of the full-speed
// runs.

const (
	// entryStatus is IPS_SEEN_REPLY|IPS_ASSURED|IPS_CONFIRMED: ctnetlink
	// marks a created entry confirmed before applying CTA_STATUS and
	// refuses (EBUSY) a status that would clear the bit. ASSURED keeps the
	// kernel from early-dropping it.
	entryStatus = ctnl.IPSSeenReply | ctnl.IPSAssured | ctnl.IPSConfirmed
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
		Proto: unix.IPPROTO_UDP,
		SPort: uint16(1024 + (i>>16)%60000),
		DPort: 80,
	}
}

// ctNew and ctDelete are the header types of the requests.
var (
	ctNew    = ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)
	ctDelete = ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtDelete)
)

// appendCreate appends an IPCTNL_MSG_CT_NEW request creating t's entry.
// No acknowledgement is asked for: the kernel handles a sendmsg's requests
// before the call returns and answers only the ones that fail.
func appendCreate(b []byte, seq uint32, t ctTuple) []byte {
	b, h := ctnl.AppendMessage(b, ctNew, ctnl.NLMFRequest|ctnl.NLMFCreate|ctnl.NLMFExcl, seq, unix.AF_INET)
	b = appendTuple(b, ctnl.CTATupleOrig, t)
	b = appendTuple(b, ctnl.CTATupleReply, t.reply())
	b = ctnl.AppendU32(b, ctnl.CTAStatus, uint32(entryStatus))
	b = ctnl.AppendU32(b, ctnl.CTATimeout, entryTimeout)
	return ctnl.EndMessage(b, h)
}

// appendUpdate appends an IPCTNL_MSG_CT_NEW request without NLM_F_CREATE,
// which changes t's existing entry: a new mark, which the kernel reports as
// an UPDATE and ctwatch's default --updates changes writes.
func appendUpdate(b []byte, seq uint32, t ctTuple, mark uint32) []byte {
	b, h := ctnl.AppendMessage(b, ctNew, ctnl.NLMFRequest, seq, unix.AF_INET)
	b = appendTuple(b, ctnl.CTATupleOrig, t)
	b = ctnl.AppendU32(b, ctnl.CTAMark, mark)
	return ctnl.EndMessage(b, h)
}

// appendDelete appends an IPCTNL_MSG_CT_DELETE request for t's entry.
func appendDelete(b []byte, seq uint32, t ctTuple) []byte {
	b, h := ctnl.AppendMessage(b, ctDelete, ctnl.NLMFRequest, seq, unix.AF_INET)
	b = appendTuple(b, ctnl.CTATupleOrig, t)
	return ctnl.EndMessage(b, h)
}

// appendTuple appends a CTA_TUPLE_* nest of an IPv4 tuple.
func appendTuple(b []byte, typ ctnl.AttrType, t ctTuple) []byte {
	b, tup := ctnl.BeginNest(b, typ)
	b, ip := ctnl.BeginNest(b, ctnl.CTATupleIP)
	b = ctnl.AppendAttr(b, ctnl.CTAIPV4Src, t.Src[:])
	b = ctnl.AppendAttr(b, ctnl.CTAIPV4Dst, t.Dst[:])
	b = ctnl.EndNest(b, ip)
	b, proto := ctnl.BeginNest(b, ctnl.CTATupleProto)
	b = ctnl.AppendU8(b, ctnl.CTAProtoNum, t.Proto)
	b = ctnl.AppendU16(b, ctnl.CTAProtoSrcPort, t.SPort)
	b = ctnl.AppendU16(b, ctnl.CTAProtoDstPort, t.DPort)
	b = ctnl.EndNest(b, proto)
	return ctnl.EndNest(b, tup)
}

// ackErrors returns the error codes of the NLMSG_ERROR messages in a
// datagram read from the request socket (acknowledgements, code 0, are
// skipped) and whether it parsed.
func ackErrors(b []byte) (codes []int32, ok bool) {
	for len(b) >= ctnl.NLMsgHdrLen {
		msg, rest, err := ctnl.NextMessage(b)
		if err != nil {
			return codes, false
		}
		b = rest
		if ctnl.ParseHeader(msg).Type != ctnl.NLMsgError {
			continue
		}
		if code, err := ctnl.ErrorCode(ctnl.Payload(msg)); err == nil && code != 0 {
			codes = append(codes, code)
		}
	}
	return codes, true
}

// eventType is the kind of a ctnetlink event message: IPCTNL_MSG_CT_NEW
// with NLM_F_CREATE is a NEW, without it an UPDATE; IPCTNL_MSG_CT_DELETE a
// DESTROY (ctnetlink_conntrack_event in the kernel).
func eventType(h ctnl.Header) eventKind {
	switch h.Type {
	case ctNew:
		if h.Flags&ctnl.NLMFCreate != 0 {
			return kindNew
		}
		return kindUpdate
	case ctDelete:
		return kindDestroy
	}
	return kindOther
}

// countEventMessages counts the event messages of one datagram from the
// events socket by kind; a multicast datagram holds one message, but
// nothing in the protocol says so.
func countEventMessages(c *eventCounts, b []byte) {
	for len(b) >= ctnl.NLMsgHdrLen {
		msg, rest, err := ctnl.NextMessage(b)
		if err != nil {
			c.Other++
			return
		}
		c.add(eventType(ctnl.ParseHeader(msg)))
		b = rest
	}
}
