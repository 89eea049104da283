package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// rawMessage is the netlink message (header included) of a type, flags,
// port id and payload, as DecodeFast reads it off the socket.
func rawMessage(typ, flags uint16, pid uint32, data []byte) []byte {
	b := make([]byte, ctnl.NLMsgHdrLen, ctnl.NLMsgHdrLen+len(data))
	binary.NativeEndian.PutUint32(b, uint32(ctnl.NLMsgHdrLen+len(data)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[12:], pid)
	return append(b, data...)
}

// The differential test holds DecodeFast to Decode (ti-mo/conntrack) on any
// input: both fail, or both succeed with the same event. Where ti-mo is
// wrong about what the kernel sends, or would refuse what a newer kernel
// may send, the two are allowed to differ, by exactly these rules, applied
// by tiMoView, which rewrites the input into the message ti-mo must decode
// the way DecodeFast decodes the original:
//
//  1. Pads are skipped. The kernel puts an empty pad attribute before a
//     64-bit value where it would be misaligned, on architectures without
//     efficient unaligned access (nla_put_64bit). ti-mo skips
//     CTA_COUNTERS_PAD but refuses CTA_TIMESTAMP_PAD and
//     CTA_PROTOINFO_DCCP_PAD as unknown, and CTA_TIMESTAMP_EVENT's pad
//     (CTA_TIMESTAMP_PAD, which is CTA_STATUS at the top level: a kernel
//     quirk) as a CTA_STATUS of the wrong size. The view drops the two pads
//     and every empty top-level CTA_STATUS.
//  2. 32-bit counters are read. CTA_COUNTERS32_PACKETS and _BYTES, with a
//     4-byte payload, are old forms the uapi header keeps ("old 32bit
//     counters, unused"); ti-mo refuses them as unknown. The view turns
//     them into their 64-bit forms.
//  3. Attributes with a length of 0 are malformed, as the kernel's nla_ok
//     says: netlink.AttributeDecoder takes them for empty attributes (and
//     leaves them out of its attribute counts). The view gives them a length
//     of 1, which it refuses, so that both decoders fail.
//  4. Types past 255 are unknown. ti-mo converts attribute types to uint8,
//     so that 257 is CTA_TUPLE_ORIG; the kernel defines none past 27. At
//     the top level the view makes them type 0, which ti-mo skips as
//     unknown as well; in a nest, rule 5 removes them.
//  5. Unknown types inside nests are skipped. Like libnetfilter_conntrack,
//     DecodeFast skips an attribute whose type the uapi header does not
//     define for its nest (in a tuple, its ip and proto nests, protoinfo
//     and its per-protocol nests, help, counters, secctx, timestamp,
//     seq-adj and synproxy), as it skips unknown top-level ones, so that a
//     kernel that adds one more attribute to a nest does not make every
//     event fail; ti-mo refuses them. Only the type is forgiven: the
//     attribute must still fit its nest, and rule 3 comes first (a zero
//     length is malformed whatever the type). The minimum child counts of
//     the nests count known children only. The view removes them from
//     every nest, at any depth, without looking into their payloads; a
//     nest the removal empties is kept, empty, so that ti-mo's counts see
//     what DecodeFast's do (a protoinfo, tuple, counters or timestamp
//     holding only unknown children is malformed for both).
//
// Outside the tree of nests that ti-mo decodes (the payloads of scalars
// and of top-level attributes it skips), nothing is rewritten: neither
// decoder reads there.
func FuzzDecodeDifferential(f *testing.F) {
	for _, s := range differentialSeeds(f) {
		f.Add(s.typ, s.flags, s.pid, s.data)
	}
	f.Fuzz(func(t *testing.T, typ, flags uint16, pid uint32, data []byte) {
		checkDifferential(t, typ, flags, pid, data)
	})
}

// checkDifferential decodes one message with both decoders and fails t
// unless the two agree (by the rules of FuzzDecodeDifferential).
func checkDifferential(t *testing.T, typ, flags uint16, pid uint32, data []byte) {
	t.Helper()
	var fast model.Event
	fastErr := DecodeFast(rawMessage(typ, flags, pid, data), &fast)
	if fastErr != nil && !errors.Is(fastErr, ErrMalformed) && !errors.Is(fastErr, ErrTruncated) && !errors.Is(fastErr, ErrNotConntrack) {
		t.Fatalf("DecodeFast error %v wraps none of ErrMalformed, ErrTruncated, ErrNotConntrack", fastErr)
	}
	view := data
	if len(data) >= ctnl.NFGenMsgLen {
		v, ok := tiMoView(data[ctnl.NFGenMsgLen:])
		if !ok {
			t.Skip("the rewritten attributes do not fit netlink's 16-bit lengths")
		}
		view = append(data[:ctnl.NFGenMsgLen:ctnl.NFGenMsgLen], v...)
	}
	var ref model.Event
	refErr := decodeTiMo(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.HeaderFlags(flags), PID: pid},
		Data:   view,
	}, &ref)
	switch {
	case fastErr != nil && refErr != nil:
		if errors.Is(fastErr, ErrNotConntrack) != errors.Is(refErr, ErrNotConntrack) {
			t.Errorf("DecodeFast: %v; Decode: %v", fastErr, refErr)
		}
	case fastErr != nil:
		t.Fatalf("DecodeFast: %v; Decode succeeded:\n%+v", fastErr, ref)
	case refErr != nil:
		t.Fatalf("Decode: %v; DecodeFast succeeded:\n%+v", refErr, fast)
	default:
		if diff := cmp.Diff(ref, fast, eventOpts); diff != "" {
			t.Fatalf("DecodeFast differs from Decode (-Decode +DecodeFast):\n%s", diff)
		}
	}
}

// Contexts of the attribute tree ti-mo decodes: which attributes are nests,
// and what their children are.
type attrCtx uint8

const (
	ctxLeaf attrCtx = iota
	ctxTop
	ctxTuple
	ctxIP
	ctxProto
	ctxProtoinfo
	ctxTCP
	ctxDCCP
	ctxSCTP
	ctxHelp
	ctxCounters
	ctxSecctx
	ctxTimestamp
	ctxU32 // CTA_SEQ_ADJ_*, CTA_SYNPROXY
)

// childCtx is the context of the children of an attribute of type typ
// (flags stripped) in context c; ctxLeaf for a scalar.
func childCtx(c attrCtx, typ ctnl.AttrType) attrCtx {
	switch c {
	case ctxTop:
		switch typ {
		case ctnl.CTATupleOrig, ctnl.CTATupleReply, ctnl.CTATupleMaster:
			return ctxTuple
		case ctnl.CTAProtoinfo:
			return ctxProtoinfo
		case ctnl.CTAHelp:
			return ctxHelp
		case ctnl.CTACountersOrig, ctnl.CTACountersReply:
			return ctxCounters
		case ctnl.CTASecctx:
			return ctxSecctx
		case ctnl.CTATimestamp:
			return ctxTimestamp
		case ctnl.CTASeqAdjOrig, ctnl.CTASeqAdjReply, ctnl.CTASynproxy:
			return ctxU32
		}
	case ctxTuple:
		switch typ {
		case ctnl.CTATupleIP:
			return ctxIP
		case ctnl.CTATupleProto:
			return ctxProto
		}
	case ctxProtoinfo:
		switch typ {
		case ctnl.CTAProtoinfoTCP:
			return ctxTCP
		case ctnl.CTAProtoinfoDCCP:
			return ctxDCCP
		case ctnl.CTAProtoinfoSCTP:
			return ctxSCTP
		}
	}
	return ctxLeaf
}

// tnode is one attribute of a parsed message.
type tnode struct {
	typ ctnl.AttrType // with its NLA_F_* flags
	// zeroLen marks a length of 0, which netlink.AttributeDecoder takes
	// for an empty attribute 4 bytes long.
	zeroLen bool
	// lenOne marks an attribute to write as a header with a length of 1,
	// which netlink.AttributeDecoder counts and then refuses.
	lenOne bool
	// data is the payload of a leaf, or of a nest that did not parse.
	data []byte
	// nested says that kids hold the payload.
	nested bool
	kids   []tnode
}

// parseTree parses b's attributes as netlink.AttributeDecoder walks them,
// and the payloads of nests by the grammar. It fails where b's attributes
// do not parse; a nest whose payload does not parse is kept as a leaf.
func parseTree(b []byte, c attrCtx) ([]tnode, bool) {
	var out []tnode
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, false
		}
		l := int(binary.NativeEndian.Uint16(b))
		typ := ctnl.AttrType(binary.NativeEndian.Uint16(b[2:]))
		switch {
		case l > len(b) || l > 0 && l < 4:
			return nil, false
		case l == 0:
			out = append(out, tnode{typ: typ, zeroLen: true})
			b = b[4:]
			continue
		}
		n := tnode{typ: typ, data: b[4:l]}
		if cc := childCtx(c, typ&ctnl.NLATypeMask); cc != ctxLeaf {
			if kids, ok := parseTree(n.data, cc); ok {
				n.nested, n.kids = true, kids
			}
		}
		out = append(out, n)
		adv := (l + 3) &^ 3
		if adv >= len(b) {
			break
		}
		b = b[adv:]
	}
	return out, true
}

// appendTree serializes nodes, with padding; it fails when a length does
// not fit 16 bits.
func appendTree(dst []byte, nodes []tnode) ([]byte, bool) {
	for _, n := range nodes {
		start := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		binary.NativeEndian.PutUint16(dst[start+2:], uint16(n.typ))
		switch {
		case n.zeroLen:
			continue
		case n.lenOne:
			binary.NativeEndian.PutUint16(dst[start:], 1)
			continue
		}
		if n.nested {
			var ok bool
			if dst, ok = appendTree(dst, n.kids); !ok {
				return nil, false
			}
		} else {
			dst = append(dst, n.data...)
		}
		l := len(dst) - start
		if l > 0xffff {
			return nil, false
		}
		binary.NativeEndian.PutUint16(dst[start:], uint16(l))
		for len(dst)%4 != 0 {
			dst = append(dst, 0)
		}
	}
	return dst, true
}

// tiMoView rewrites the attributes b (after struct nfgenmsg) by the rules
// of FuzzDecodeDifferential. Attributes that do not parse are left as they
// are: both decoders refuse them. It fails only when a rewritten nest
// outgrows a 16-bit length.
func tiMoView(b []byte) ([]byte, bool) {
	nodes, ok := parseTree(b, ctxTop)
	if !ok {
		return b, true
	}
	return appendTree(nil, rewriteForTiMo(nodes, ctxTop))
}

// knownChild reports whether the uapi header defines typ (flags stripped)
// for the children of a nest of context c. Each of its enums runs from 1
// (the 0 of each is *_UNSPEC) to the last type listed here.
func knownChild(c attrCtx, typ ctnl.AttrType) bool {
	var last ctnl.AttrType
	switch c {
	case ctxTuple:
		last = ctnl.CTATupleZone
	case ctxIP:
		last = ctnl.CTAIPV6Dst
	case ctxProto:
		last = ctnl.CTAProtoICMPV6Code
	case ctxProtoinfo:
		last = ctnl.CTAProtoinfoSCTP
	case ctxTCP:
		last = ctnl.CTAProtoinfoTCPFlagsReply
	case ctxDCCP:
		last = ctnl.CTAProtoinfoDCCPPad
	case ctxSCTP:
		last = ctnl.CTAProtoinfoSCTPVtagReply
	case ctxHelp:
		last = ctnl.CTAHelpInfo
	case ctxCounters:
		last = ctnl.CTACountersPad
	case ctxSecctx:
		last = ctnl.CTASecctxName
	case ctxTimestamp:
		last = ctnl.CTATimestampPad
	case ctxU32:
		last = 3 // CTA_SEQADJ_OFFSET_AFTER, CTA_SYNPROXY_TSOFF
	}
	return typ >= 1 && typ <= last
}

// rewriteForTiMo applies the rules of FuzzDecodeDifferential to nodes, the
// attributes of a nest of context c (ctxTop for the message's).
func rewriteForTiMo(nodes []tnode, c attrCtx) []tnode {
	out := make([]tnode, 0, len(nodes))
	for _, n := range nodes {
		typ := n.typ & ctnl.NLATypeMask
		switch {
		case n.zeroLen: // rule 3
			n.zeroLen, n.lenOne = false, true
			out = append(out, n)
			continue
		case c != ctxTop && !knownChild(c, typ): // rule 5, and rule 4 in a nest
			continue
		case typ > 0xff: // rule 4
			n.typ &^= ctnl.NLATypeMask
			n.nested, n.kids = false, nil
			out = append(out, n)
			continue
		case c == ctxTop && typ == ctnl.CTAStatus && !n.nested && len(n.data) == 0,
			c == ctxTimestamp && typ == ctnl.CTATimestampPad,
			c == ctxDCCP && typ == ctnl.CTAProtoinfoDCCPPad: // rule 1
			continue
		case c == ctxCounters && (typ == ctnl.CTACounters32Packets || typ == ctnl.CTACounters32Bytes) && len(n.data) == 4: // rule 2
			n.typ = n.typ&^ctnl.NLATypeMask | (typ - 2)
			n.data = binary.BigEndian.AppendUint64(nil, uint64(binary.BigEndian.Uint32(n.data)))
		}
		if n.nested {
			n.kids = rewriteForTiMo(n.kids, childCtx(c, typ))
		}
		out = append(out, n)
	}
	return out
}

// seed is one input of FuzzDecodeDifferential.
type seed struct {
	typ, flags uint16
	pid        uint32
	data       []byte
}

// Header types and flags of the seeds.
const (
	typNew     = uint16(ctnl.NFNLSubsysCTNetlink)<<8 | uint16(ctnl.IPCTNLMsgCtNew)
	typDelete  = uint16(ctnl.NFNLSubsysCTNetlink)<<8 | uint16(ctnl.IPCTNLMsgCtDelete)
	flagCreate = uint16(ctnl.NLMFCreate | ctnl.NLMFExcl)
)

// differentialSeeds are every captured message, every message the
// single-attribute mutations of mutateTree make of them, and hand-built
// messages of what the captures lack (other protocols' protoinfo, pads,
// old counters, master tuples, the divergences).
func differentialSeeds(tb testing.TB) []seed {
	var seeds []seed
	seen := map[string]bool{}
	add := func(s seed) {
		k := string(rawMessage(s.typ, s.flags, s.pid, s.data))
		if !seen[k] {
			seen[k] = true
			seeds = append(seeds, s)
		}
	}
	base := handBuiltSeeds()
	for _, name := range captures {
		for _, c := range loadCapture(tb, name) {
			h := c.msg.Header
			base = append(base, seed{uint16(h.Type), uint16(h.Flags), h.PID, c.msg.Data})
		}
	}
	for _, s := range base {
		add(s)
		nodes, ok := parseTree(s.data[ctnl.NFGenMsgLen:], ctxTop)
		if !ok {
			continue
		}
		mutateTree(nodes, func(m []tnode) {
			if b, ok := appendTree(append([]byte(nil), s.data[:ctnl.NFGenMsgLen]...), m); ok {
				add(seed{s.typ, s.flags, s.pid, b})
			}
		})
	}
	return seeds
}

// mutateTree calls emit with each tree that one change to one attribute of
// nodes (at any depth) makes: removed, repeated, retyped, flagged or
// unflagged as a nest, its payload inverted, cut or extended by a byte, its
// children dropped, its length zeroed.
func mutateTree(nodes []tnode, emit func([]tnode)) {
	with := func(i int, repl ...tnode) []tnode {
		m := make([]tnode, 0, len(nodes)+1)
		m = append(m, nodes[:i]...)
		m = append(m, repl...)
		return append(m, nodes[i+1:]...)
	}
	for i, n := range nodes {
		emit(with(i))
		emit(with(i, n, n))
		for _, typ := range []ctnl.AttrType{n.typ + 1, n.typ - 1, n.typ + 0x100, n.typ ^ ctnl.NLAFNested} {
			m := n
			m.typ = typ
			emit(with(i, m))
		}
		z := n
		z.zeroLen = true
		emit(with(i, z))
		if n.nested {
			m := n
			m.kids = nil
			emit(with(i, m))
			mutateTree(n.kids, func(kids []tnode) {
				m := n
				m.kids = kids
				emit(with(i, m))
			})
			continue
		}
		inv := make([]byte, len(n.data))
		for j, c := range n.data {
			inv[j] = ^c
		}
		for _, d := range [][]byte{inv, append(n.data[:len(n.data):len(n.data)], 0)} {
			m := n
			m.data = d
			emit(with(i, m))
		}
		if len(n.data) > 0 {
			m := n
			m.data = n.data[:len(n.data)-1]
			emit(with(i, m))
		}
	}
}

// Attribute builders of the hand-built seeds and tests.

func leaf(typ ctnl.AttrType, payload ...byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, uint16(typ))
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nest(typ ctnl.AttrType, kids ...[]byte) []byte {
	return leaf(typ|ctnl.NLAFNested, bytes.Join(kids, nil)...)
}

// withLen is attribute b with its length field set to l.
func withLen(b []byte, l uint16) []byte {
	binary.NativeEndian.PutUint16(b, l)
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// tuple4 is a CTA_TUPLE_* nest of an IPv4 TCP or UDP tuple.
func tuple4(typ ctnl.AttrType, proto uint8, src, dst [4]byte, sport, dport uint16) []byte {
	return nest(typ,
		nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, src[:]...), leaf(ctnl.CTAIPV4Dst, dst[:]...)),
		nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, proto), leaf(ctnl.CTAProtoSrcPort, be16(sport)...), leaf(ctnl.CTAProtoDstPort, be16(dport)...)))
}

// entry4 is the nfgenmsg header and the tuples of an IPv4 entry, followed
// by more attributes.
func entry4(proto uint8, more ...[]byte) []byte {
	a, b := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}
	parts := [][]byte{{2, 0, 0, 0},
		tuple4(ctnl.CTATupleOrig, proto, a, b, 1234, 80),
		tuple4(ctnl.CTATupleReply, proto, b, a, 80, 1234),
		leaf(ctnl.CTAStatus, be32(uint32(model.StatusConfirmed))...),
	}
	return bytes.Join(append(parts, more...), nil)
}

// handBuiltSeeds are messages of what the captures lack.
func handBuiltSeeds() []seed {
	const (
		tcp, udp, dccp, sctp = 6, 17, 33, 132
	)
	ts := leaf(ctnl.CTATimestampEvent, be64(1795320146179904607)...)
	msgs := [][]byte{
		// Every attribute DecodeFast reads, and those it checks.
		entry4(tcp,
			nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3), leaf(ctnl.CTAProtoinfoTCPWscaleOriginal, 7),
				leaf(ctnl.CTAProtoinfoTCPWscaleReply, 7), leaf(ctnl.CTAProtoinfoTCPFlagsOriginal, 0x23, 0xff), leaf(ctnl.CTAProtoinfoTCPFlagsReply, 0x23, 0xff))),
			nest(ctnl.CTAHelp, leaf(ctnl.CTAHelpName, 'f', 't', 'p', 0), leaf(ctnl.CTAHelpInfo, 1, 2, 3)),
			leaf(ctnl.CTATimeout, be32(300)...), leaf(ctnl.CTAMark, be32(42)...),
			nest(ctnl.CTACountersOrig, leaf(ctnl.CTACountersPackets, be64(5)...), leaf(ctnl.CTACountersBytes, be64(300)...)),
			nest(ctnl.CTACountersReply, leaf(ctnl.CTACountersPad), leaf(ctnl.CTACountersPackets, be64(3)...), leaf(ctnl.CTACountersPad), leaf(ctnl.CTACountersBytes, be64(200)...)),
			leaf(ctnl.CTAUse, be32(1)...), leaf(ctnl.CTAID, be32(77)...),
			tuple4(ctnl.CTATupleMaster, tcp, [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}, 1000, 21),
			nest(ctnl.CTASeqAdjOrig, leaf(1, be32(1)...), leaf(2, be32(2)...), leaf(3, be32(3)...)),
			nest(ctnl.CTASeqAdjReply, leaf(1, be32(1)...)),
			leaf(ctnl.CTASecmark, be32(9)...),
			leaf(ctnl.CTAZone, be16(4)...),
			nest(ctnl.CTASecctx, leaf(ctnl.CTASecctxName, []byte("system_u:object_r:unlabeled_t:s0\x00")...)),
			nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampStart, be64(1795320146179909426)...), leaf(ctnl.CTATimestampStop, be64(1795320146191853268)...)),
			leaf(ctnl.CTALabels, 0x01, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80),
			leaf(23, 0xff, 0xff, 0xff, 0xff), // CTA_LABELS_MASK, skipped
			nest(ctnl.CTASynproxy, leaf(1, be32(1)...), leaf(2, be32(2)...), leaf(3, be32(3)...)),
			ts),
		// DCCP and SCTP protocol info, with the DCCP pad (rule 1).
		entry4(dccp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoDCCP, leaf(ctnl.CTAProtoinfoTCPState, 4), leaf(ctnl.CTAProtoinfoDCCPRole, 1),
			leaf(ctnl.CTAProtoinfoDCCPPad), leaf(ctnl.CTAProtoinfoDCCPHandshakeSeq, be64(99)...)))),
		entry4(dccp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoDCCP, leaf(ctnl.CTAProtoinfoDCCPPad)))),
		entry4(sctp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoSCTP, leaf(ctnl.CTAProtoinfoTCPState, 3),
			leaf(ctnl.CTAProtoinfoSCTPVtagOriginal, be32(1)...), leaf(ctnl.CTAProtoinfoSCTPVtagReply, be32(2)...)))),
		// Timestamp pads and the event timestamp's pad (rule 1).
		entry4(tcp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampPad), leaf(ctnl.CTATimestampStart, be64(1)...), leaf(ctnl.CTATimestampPad), leaf(ctnl.CTATimestampStop, be64(2)...))),
		entry4(tcp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampPad))),
		entry4(tcp, leaf(ctnl.CTAStatus), ts),
		// 32-bit counters (rule 2).
		entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACounters32Packets, be32(5)...), leaf(ctnl.CTACounters32Bytes, be32(300)...))),
		entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACounters32Packets, be64(5)...), leaf(ctnl.CTACounters32Bytes, be32(300)...))),
		// Zero lengths (rule 3): at the top level, in a tuple, after the
		// one protocol of a protoinfo, in a helper.
		append(entry4(udp), 0, 0, byte(ctnl.CTAMark), 0),
		entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3)), []byte{0, 0, 1, 0})),
		entry4(tcp, nest(ctnl.CTAHelp, []byte{0, 0, byte(ctnl.CTAHelpName), 0})),
		// Types past 255 (rule 4).
		entry4(udp, nest(0x100|ctnl.CTATupleOrig, nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, 10, 0, 0, 1), leaf(ctnl.CTAIPV4Dst, 10, 0, 0, 2)))),
		entry4(udp, leaf(0x100|ctnl.CTAMark, be32(1)...)),
		entry4(udp, nest(ctnl.CTAHelp, leaf(0x100|ctnl.CTAHelpName, 'x', 0))),
		// Unknown children in every nest (rule 5), one past 255 among
		// them, and a nested one whose payload is not attributes.
		entry4(udp, nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(7)...), nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, udp),
			leaf(ctnl.CTAProtoSrcPort, be16(5555)...), leaf(10, be32(1)...), leaf(ctnl.CTAProtoDstPort, be16(53)...), leaf(0x100|ctnl.CTAProtoNum, tcp)))),
		entry4(udp, nest(ctnl.CTATupleReply, nest(ctnl.CTATupleIP, leaf(0, 1), leaf(ctnl.CTAIPV4Src, 10, 0, 0, 2), leaf(5, 1, 2, 3, 4, 5),
			leaf(9|ctnl.NLAFNested, 0xff, 0xff, 0xff), leaf(ctnl.CTAIPV4Dst, 10, 0, 0, 1)), leaf(4, be32(1)...),
			nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, udp), leaf(ctnl.CTAProtoSrcPort, be16(53)...), leaf(ctnl.CTAProtoDstPort, be16(5555)...)))),
		entry4(tcp, nest(ctnl.CTAProtoinfo, nest(4, leaf(1, 9)), nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3),
			leaf(6, 0xaa, 0xbb, 0xcc), leaf(ctnl.CTAProtoinfoTCPWscaleOriginal, 7), leaf(0x100|ctnl.CTAProtoinfoTCPState, 1)), leaf(0x3fff))),
		entry4(dccp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoDCCP, leaf(5, be32(1)...), leaf(ctnl.CTAProtoinfoTCPState, 4), leaf(ctnl.CTAProtoinfoDCCPPad),
			leaf(ctnl.CTAProtoinfoDCCPHandshakeSeq, be64(99)...)))),
		entry4(sctp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoSCTP, leaf(ctnl.CTAProtoinfoTCPState, 3), leaf(4, be64(1)...),
			leaf(ctnl.CTAProtoinfoSCTPVtagOriginal, be32(1)...)))),
		entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACountersPackets, be64(5)...), leaf(6, be64(9)...), leaf(ctnl.CTACountersBytes, be64(300)...)),
			nest(ctnl.CTACountersReply, leaf(ctnl.CTACountersPad), leaf(7), leaf(ctnl.CTACounters32Bytes, be32(7)...))),
		entry4(udp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampPad), leaf(ctnl.CTATimestampStart, be64(1e9)...), leaf(4, be64(7)...)),
			leaf(ctnl.CTATimestampEvent, be64(5e9)...)),
		entry4(tcp, nest(ctnl.CTAHelp, leaf(3, 1, 2), leaf(ctnl.CTAHelpName, 'f', 't', 'p', 0), leaf(0x100|ctnl.CTAHelpInfo))),
		entry4(udp, nest(ctnl.CTASecctx, leaf(2, 1), leaf(ctnl.CTASecctxName, []byte("system_u:object_r:unlabeled_t:s0\x00")...), leaf(0))),
		entry4(tcp, nest(ctnl.CTASeqAdjOrig, leaf(1, be32(1)...), leaf(4, 1)), nest(ctnl.CTASynproxy, leaf(0, be64(1)...), leaf(2, be32(2)...)),
			tuple4(ctnl.CTATupleMaster, tcp, [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}, 1000, 21)),
		// A master of another protocol than the entry's (RTP over UDP
		// expected by SIP over TCP), an ICMP master, an IPv6 one.
		entry4(udp, tuple4(ctnl.CTATupleMaster, tcp, [4]byte{192, 0, 2, 9}, [4]byte{198, 51, 100, 9}, 5060, 5060)),
		entry4(udp, nest(ctnl.CTATupleMaster, nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, 10, 0, 0, 1), leaf(ctnl.CTAIPV4Dst, 10, 0, 0, 2)),
			nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, 1), leaf(ctnl.CTAProtoICMPType, 8), leaf(ctnl.CTAProtoICMPCode, 0), leaf(ctnl.CTAProtoICMPID, be16(3)...)))),
		entry4(udp, nest(ctnl.CTATupleMaster, nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV6Src, make([]byte, 16)...), leaf(ctnl.CTAIPV6Dst, make([]byte, 16)...)))),
		// What rule 5 does not forgive: nests of unknown children only
		// (empty), known children of the wrong size, unknown children
		// that do not fit their nest or have a length of 0.
		entry4(udp, nest(ctnl.CTACountersOrig, leaf(6, be64(1)...), leaf(7, be64(2)...))),
		entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACountersPackets, be64(1)...), leaf(6, be64(2)...))),
		entry4(tcp, nest(ctnl.CTAProtoinfo, nest(4, leaf(ctnl.CTAProtoinfoTCPState, 3)))),
		entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(6, 1)))),
		entry4(udp, nest(ctnl.CTATupleOrig, nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, 10, 0, 0, 1), leaf(5, 10, 0, 0, 2)), nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, udp)))),
		entry4(udp, nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(7)...), nest(ctnl.CTATupleProto, leaf(10, udp)))),
		entry4(udp, nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(7)...), leaf(4, be16(7)...))),
		entry4(udp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampPad), leaf(4, be64(1)...)), nest(ctnl.CTASecctx, leaf(2, 'x', 0))),
		entry4(udp, nest(ctnl.CTASeqAdjReply, leaf(4, be32(1)...))),
		entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3, 0), leaf(6, 1)))),
		entry4(udp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampStart, be64(1)...), withLen(leaf(4, be64(7)...), 40))),
		entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACountersPackets, be64(1)...), leaf(ctnl.CTACountersBytes, be64(2)...), []byte{0, 0, 9, 0})),
		// Repeated attributes: the last value counts, a tuple attribute
		// overrides only what it carries; a second protoinfo is refused.
		entry4(udp, leaf(ctnl.CTAMark, be32(1)...), leaf(ctnl.CTAMark, be32(2)...),
			nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(5)...), nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV6Src, make([]byte, 16)...), leaf(ctnl.CTAIPV6Dst, make([]byte, 16)...)))),
		entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3))), nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 4)))),
		entry4(udp, nest(ctnl.CTATupleReply, leaf(ctnl.CTATupleZone, be16(0)...), nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, 1), leaf(ctnl.CTAProtoICMPType, 3))),
			nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(2)...), nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, 1)), nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoSrcPort, be16(9)...)))),
		// ti-mo counts a counter's pad among its two attributes at least.
		entry4(udp, nest(ctnl.CTACountersReply, leaf(ctnl.CTACountersPad), leaf(ctnl.CTACountersBytes, be64(7)...))),
		// Addresses sized against their types, a family-less header.
		append([]byte{0, 0, 0, 0}, nest(ctnl.CTATupleOrig,
			nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, make([]byte, 16)...), leaf(ctnl.CTAIPV6Dst, 1, 2, 3, 4)),
			nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, 58), leaf(ctnl.CTAProtoICMPV6ID, be16(7)...), leaf(ctnl.CTAProtoICMPV6Type, 128), leaf(ctnl.CTAProtoICMPV6Code, 0)))...),
		// Labels past bit 127 and of a size not a multiple of 4; a secmark
		// and an event timestamp of the wrong sizes, which Decode skips.
		entry4(udp, leaf(ctnl.CTALabels, append(make([]byte, 16), 1, 0, 0, 0, 0xff)...), leaf(ctnl.CTASecmark, 1, 2, 3), leaf(ctnl.CTATimestampEvent, 1, 2, 3)),
		// An empty helper nest, a nest without NLA_F_NESTED.
		entry4(udp, nest(ctnl.CTAHelp)),
		entry4(udp, leaf(ctnl.CTATimestamp, leaf(ctnl.CTATimestampStart, be64(1)...)...)),
		// No attributes at all.
		{2, 0, 0, 0},
	}
	var seeds []seed
	for i, m := range msgs {
		typ, flags := uint16(typNew), uint16(flagCreate)
		if i%2 == 1 {
			typ, flags = typDelete, 0
		}
		seeds = append(seeds, seed{typ, flags, uint32(i), m})
	}
	return seeds
}

// decodedEntry4 is what DecodeFast makes of an IPv4 NEW message of
// protocol proto's entry4: the entry a test case changes to say what it
// wants.
func decodedEntry4(t *testing.T, proto uint8) model.Entry {
	t.Helper()
	var e model.Event
	if err := DecodeFast(rawMessage(typNew, flagCreate, 0, entry4(proto)), &e); err != nil {
		t.Fatal(err)
	}
	return e.Entry
}

// TestDecodeFastDivergences shows each rule of FuzzDecodeDifferential on a
// message: what Decode makes of it unrewritten, and what DecodeFast does.
func TestDecodeFastDivergences(t *testing.T) {
	const tcp, udp, dccp = 6, 17, 33
	tests := []struct {
		name       string
		data       []byte
		decodeFail bool // Decode refuses the message
		want       func(e *model.Entry)
		wantTime   int64 // ns since the epoch, 0 for none
		wantErr    error // of DecodeFast
	}{
		{
			name:       "rule 1: timestamp pads skipped",
			data:       entry4(tcp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampPad), leaf(ctnl.CTATimestampStart, be64(1e9)...), leaf(ctnl.CTATimestampPad), leaf(ctnl.CTATimestampStop, be64(2e9)...))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Start, e.Stop = ts(1e9), ts(2e9)
				e.Fields |= model.FieldStart | model.FieldStop
			},
		},
		{
			name:       "rule 1: dccp pad skipped",
			data:       entry4(dccp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoDCCP, leaf(ctnl.CTAProtoinfoTCPState, 4), leaf(ctnl.CTAProtoinfoDCCPPad), leaf(ctnl.CTAProtoinfoDCCPHandshakeSeq, be64(9)...)))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.State = 4
				e.Fields |= model.FieldState
			},
		},
		{
			name:       "rule 1: the event timestamp's pad is an empty CTA_STATUS, which leaves the status alone",
			data:       entry4(udp, leaf(ctnl.CTAStatus), leaf(ctnl.CTATimestampEvent, be64(5e9)...)),
			decodeFail: true,
			want:       func(*model.Entry) {},
			wantTime:   5e9,
		},
		{
			name:       "rule 2: 32-bit counters read",
			data:       entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACounters32Packets, be32(5)...), leaf(ctnl.CTACounters32Bytes, be32(300)...))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Orig.Packets, e.Orig.Bytes = 5, 300
				e.Fields |= model.FieldOrigCounters
			},
		},
		{
			name:    "rule 3: a zero length after the one protocol of a protoinfo",
			data:    entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3)), []byte{0, 0, 1, 0})),
			wantErr: ErrMalformed,
		},
		{
			name:    "rule 3: a zero length in a helper",
			data:    entry4(tcp, nest(ctnl.CTAHelp, []byte{0, 0, byte(ctnl.CTAHelpName), 0})),
			wantErr: ErrMalformed,
		},
		{
			name: "rule 4: type 257 is not CTA_TUPLE_ORIG",
			data: entry4(udp, nest(0x100|ctnl.CTATupleOrig,
				nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, 10, 0, 0, 1), leaf(ctnl.CTAIPV4Dst, 10, 0, 0, 2)), leaf(ctnl.CTATupleZone, be16(1)...))),
			want: func(*model.Entry) {},
		},
		{
			name: "rule 4 in a nest: type 257 in a tuple's proto nest is skipped, not CTA_PROTO_NUM",
			data: entry4(udp, nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(7)...),
				nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, udp), leaf(ctnl.CTAProtoSrcPort, be16(5555)...), leaf(0x100|ctnl.CTAProtoNum, tcp)))),
			want: func(e *model.Entry) {
				e.Orig.Zone, e.Orig.SrcPort, e.Orig.DstPort = 7, 5555, 0
				e.Fields |= model.FieldOrigZone
			},
		},
		{
			name: "rule 5: an unknown child in a tuple's proto nest skipped",
			data: entry4(udp, nest(ctnl.CTATupleOrig, leaf(ctnl.CTATupleZone, be16(7)...),
				nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, udp), leaf(ctnl.CTAProtoSrcPort, be16(5555)...), leaf(10, be32(1)...), leaf(ctnl.CTAProtoDstPort, be16(53)...)))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Orig.Zone, e.Orig.SrcPort, e.Orig.DstPort = 7, 5555, 53
				e.Fields |= model.FieldOrigZone
			},
		},
		{
			name: "rule 5: unknown children in a tuple and its ip nest skipped, whatever their size",
			data: entry4(udp, nest(ctnl.CTATupleReply,
				nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, 10, 0, 0, 2), leaf(5, 1, 2, 3, 4, 5), leaf(ctnl.CTAIPV4Dst, 10, 0, 0, 1)), leaf(4, be32(1)...),
				nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, udp), leaf(ctnl.CTAProtoSrcPort, be16(53)...), leaf(ctnl.CTAProtoDstPort, be16(5555)...)))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Reply.Src, e.Reply.Dst = netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")
				e.Reply.SrcPort, e.Reply.DstPort = 53, 5555
			},
		},
		{
			name:       "rule 5: an unknown child in protoinfo tcp skipped",
			data:       entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3), leaf(6, 0xaa, 0xbb, 0xcc)))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.State = 3
				e.Fields |= model.FieldState
			},
		},
		{
			name:       "rule 5: an unknown protocol beside tcp in protoinfo skipped",
			data:       entry4(tcp, nest(ctnl.CTAProtoinfo, nest(4, leaf(ctnl.CTAProtoinfoTCPState, 9)), nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3)))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.State = 3
				e.Fields |= model.FieldState
			},
		},
		{
			name:       "rule 5: an unknown child in counters skipped, and not counted",
			data:       entry4(udp, nest(ctnl.CTACountersOrig, leaf(ctnl.CTACountersPackets, be64(5)...), leaf(6, be64(9)...), leaf(ctnl.CTACountersBytes, be64(300)...))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Orig.Packets, e.Orig.Bytes = 5, 300
				e.Fields |= model.FieldOrigCounters
			},
		},
		{
			name:       "rule 5: an unknown child in the timestamp skipped",
			data:       entry4(udp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampStart, be64(1e9)...), leaf(4, be64(7)...))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Start = ts(1e9)
				e.Fields |= model.FieldStart
			},
		},
		{
			name:       "rule 5: unknown children in help and secctx skipped",
			data:       entry4(udp, nest(ctnl.CTAHelp, leaf(3, 1, 2), leaf(ctnl.CTAHelpName, 'f', 't', 'p', 0)), nest(ctnl.CTASecctx, leaf(2, 1), leaf(ctnl.CTASecctxName, 'u', 0))),
			decodeFail: true,
			want: func(e *model.Entry) {
				e.Helper, e.Secctx = "ftp", "u"
				e.Fields |= model.FieldHelper | model.FieldSecctx
			},
		},
		{
			name:       "rule 5: counters of unknown children only are empty",
			data:       entry4(udp, nest(ctnl.CTACountersOrig, leaf(6, be64(1)...), leaf(7, be64(2)...))),
			decodeFail: true,
			wantErr:    ErrMalformed,
		},
		{
			name:       "rule 5: a protoinfo of an unknown protocol only is empty",
			data:       entry4(tcp, nest(ctnl.CTAProtoinfo, nest(4, leaf(ctnl.CTAProtoinfoTCPState, 3)))),
			decodeFail: true,
			wantErr:    ErrMalformed,
		},
		{
			name:       "rule 5: a known child of the wrong size beside an unknown one is malformed",
			data:       entry4(tcp, nest(ctnl.CTAProtoinfo, nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3, 0), leaf(6, 1)))),
			decodeFail: true,
			wantErr:    ErrMalformed,
		},
		{
			name:       "rule 5: an unknown child running past its nest is truncated",
			data:       entry4(udp, nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampStart, be64(1)...), withLen(leaf(4, be64(7)...), 40))),
			decodeFail: true,
			wantErr:    ErrTruncated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ref model.Event
			refErr := decodeTiMo(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typNew), Flags: netlink.HeaderFlags(flagCreate)}, Data: tt.data}, &ref)
			if (refErr != nil) != tt.decodeFail {
				t.Errorf("Decode: %v, want failure: %v", refErr, tt.decodeFail)
			}
			var got model.Event
			err := DecodeFast(rawMessage(typNew, flagCreate, 0, tt.data), &got)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DecodeFast: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			proto := model.Proto(udp)
			if got.Entry.Proto != proto {
				proto = got.Entry.Proto
			}
			want := model.Event{Type: model.EventNew, Entry: decodedEntry4(t, uint8(proto))}
			tt.want(&want.Entry)
			if tt.wantTime != 0 {
				want.Time = ts(tt.wantTime)
			}
			if diff := cmp.Diff(want, got, eventOpts); diff != "" {
				t.Errorf("DecodeFast (-want +got):\n%s", diff)
			}
			if refErr == nil {
				if diff := cmp.Diff(ref, got, eventOpts); diff == "" {
					t.Error("Decode agrees: no divergence shown")
				}
			}
		})
	}
}

// TestDecodeMaster decodes CTA_TUPLE_MASTER, which neither the captures
// (no helper was loaded) nor ti-mo's presence guesses show.
func TestDecodeMaster(t *testing.T) {
	const tcp, udp = 6, 17
	tests := []struct {
		name  string
		attrs []byte
		want  model.Entry
	}{
		{"none", entry4(udp), model.Entry{}},
		{"same protocol", entry4(tcp, tuple4(ctnl.CTATupleMaster, tcp, [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}, 40000, 21)),
			model.Entry{Fields: model.FieldMaster, MasterProto: tcp, Master: model.Tuple{
				Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"), SrcPort: 40000, DstPort: 21}}},
		{"other protocol", entry4(udp, tuple4(ctnl.CTATupleMaster, tcp, [4]byte{192, 0, 2, 9}, [4]byte{198, 51, 100, 9}, 5061, 5060)),
			model.Entry{Fields: model.FieldMaster, MasterProto: tcp, Master: model.Tuple{
				Src: netip.MustParseAddr("192.0.2.9"), Dst: netip.MustParseAddr("198.51.100.9"), SrcPort: 5061, DstPort: 5060}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev model.Event
			if err := DecodeFast(rawMessage(typNew, flagCreate, 0, tt.attrs), &ev); err != nil {
				t.Fatal(err)
			}
			got := model.Entry{Fields: ev.Entry.Fields & model.FieldMaster, Master: ev.Entry.Master, MasterProto: ev.Entry.MasterProto}
			if diff := cmp.Diff(tt.want, got, eventOpts); diff != "" {
				t.Errorf("master (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeFastErrors(t *testing.T) {
	good := loadCapture(t, "tcp")[0].raw
	with := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	setLen := func(b []byte) []byte {
		binary.NativeEndian.PutUint32(b, uint32(len(b)))
		return b
	}
	attrs := ctnl.NLMsgHdrLen + ctnl.NFGenMsgLen
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", good[:ctnl.NLMsgHdrLen-1], ErrTruncated},
		{"length past the bytes", good[:len(good)-1], ErrTruncated},
		{"length below the header", with(func(b []byte) []byte { binary.NativeEndian.PutUint32(b, 15); return b }), ErrTruncated},
		{"expectation subsystem", with(func(b []byte) []byte { binary.NativeEndian.PutUint16(b[4:], 2<<8); return b }), ErrNotConntrack},
		{"get request", with(func(b []byte) []byte {
			binary.NativeEndian.PutUint16(b[4:], typNew+uint16(ctnl.IPCTNLMsgCtGet))
			return b
		}), ErrNotConntrack},
		{"netlink error", with(func(b []byte) []byte { binary.NativeEndian.PutUint16(b[4:], uint16(netlink.Error)); return b }), ErrNotConntrack},
		{"no nfgenmsg", with(func(b []byte) []byte { return setLen(b[:ctnl.NLMsgHdrLen+2]) }), ErrTruncated},
		{"attribute longer than message", with(func(b []byte) []byte {
			binary.NativeEndian.PutUint16(b[attrs:], 0xfff0)
			return b
		}), ErrTruncated},
		{"attribute shorter than its header", with(func(b []byte) []byte {
			binary.NativeEndian.PutUint16(b[attrs:], 3)
			return b
		}), ErrMalformed},
		{"trailing bytes", with(func(b []byte) []byte { return setLen(append(b, 1, 2)) }), ErrMalformed},
		{"tuple without children", with(func(b []byte) []byte {
			return setLen(append(b[:attrs:attrs], 4, 0, byte(ctnl.CTATupleOrig), byte(ctnl.NLAFNested>>8)))
		}), ErrMalformed},
		{"tuple not flagged as a nest", with(func(b []byte) []byte {
			b[attrs+3] &^= byte(ctnl.NLAFNested >> 8)
			return b
		}), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev model.Event
			if err := DecodeFast(tt.msg, &ev); !errors.Is(err, tt.want) {
				t.Errorf("DecodeFast = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDecodeFastIgnoresFollowingBytes decodes a message followed by the
// rest of its datagram, as the reader hands it over.
func TestDecodeFastIgnoresFollowingBytes(t *testing.T) {
	msgs := loadCapture(t, "tcp")
	var want, got model.Event
	if err := DecodeFast(msgs[0].raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := DecodeFast(append(append([]byte(nil), msgs[0].raw...), msgs[1].raw...), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, eventOpts); diff != "" {
		t.Errorf("(-alone +followed):\n%s", diff)
	}
}

func TestDecodeFastReusesEvent(t *testing.T) {
	labelled := loadCapture(t, "zone_mark_labels")[3].raw
	plain := loadCapture(t, "tcp")[6].raw
	var ev model.Event
	if err := DecodeFast(labelled, &ev); err != nil {
		t.Fatal(err)
	}
	backing := &ev.Entry.Labels[:1][0]
	if err := DecodeFast(plain, &ev); err != nil {
		t.Fatal(err)
	}
	var fresh model.Event
	if err := DecodeFast(plain, &fresh); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fresh, ev, eventOpts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("previous event leaks into the next (-fresh +reused):\n%s", diff)
	}
	if err := DecodeFast(labelled, &ev); err != nil {
		t.Fatal(err)
	}
	if &ev.Entry.Labels[0] != backing {
		t.Error("Labels' backing array was not reused")
	}
	if diff := cmp.Diff([]string{"3", "100"}, ev.Entry.Labels); diff != "" {
		t.Errorf("Labels (-want +got):\n%s", diff)
	}
}

// TestDecodeNamedLabels: with a name table, labels are the names of the
// bits the table names and the numbers of the others, in bit order.
func TestDecodeNamedLabels(t *testing.T) {
	labelled := loadCapture(t, "zone_mark_labels")[3].raw // bits 3 and 100
	var names model.LabelNames
	names.Add(3, "heartbeat")
	names.Add(101, "unset")
	tests := []struct {
		name  string
		names *model.LabelNames
		want  []string
	}{
		{"no table", nil, []string{"3", "100"}},
		{"empty table", &model.LabelNames{}, []string{"3", "100"}},
		{"bit 3 named", &names, []string{"heartbeat", "100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev model.Event
			if err := decodeFast(labelled, &ev, tt.names); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ev.Entry.Labels); diff != "" {
				t.Errorf("Labels (-want +got):\n%s", diff)
			}
			if !ev.Entry.Fields.Has(model.FieldLabels) {
				t.Error("FieldLabels not set")
			}
			if allocs := testing.AllocsPerRun(100, func() { _ = decodeFast(labelled, &ev, tt.names) }); allocs != 0 {
				t.Errorf("%v allocations, want 0", allocs)
			}
		})
	}
}

// TestDecodeFastAllocs holds DecodeFast to no allocation per event, helper
// and security context names included once seen.
func TestDecodeFastAllocs(t *testing.T) {
	secctx := rawMessage(typNew, flagCreate, 0, entry4(17,
		nest(ctnl.CTASecctx, leaf(ctnl.CTASecctxName, []byte("system_u:object_r:test_allocs_t:s0\x00")...))))
	// Unknown children in nests (rule 5 of FuzzDecodeDifferential) are
	// skipped without allocating either.
	unknown := rawMessage(typNew, flagCreate, 0, entry4(6,
		nest(ctnl.CTATupleOrig, leaf(4, be32(1)...), nest(ctnl.CTATupleIP, leaf(ctnl.CTAIPV4Src, 10, 0, 0, 1), leaf(5, 1), leaf(ctnl.CTAIPV4Dst, 10, 0, 0, 2)),
			nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, 6), leaf(10, 1))),
		nest(ctnl.CTAProtoinfo, nest(4, leaf(1, 9)), nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3), leaf(6, 1))),
		nest(ctnl.CTACountersOrig, leaf(ctnl.CTACountersPackets, be64(5)...), leaf(6, be64(9)...), leaf(ctnl.CTACountersBytes, be64(300)...)),
		nest(ctnl.CTAHelp, leaf(3, 1), leaf(ctnl.CTAHelpName, 'f', 't', 'p', 0)),
		nest(ctnl.CTATimestamp, leaf(ctnl.CTATimestampStart, be64(1)...), leaf(4, be64(7)...))))
	master := rawMessage(typNew, flagCreate, 0, entry4(6, tuple4(ctnl.CTATupleMaster, 6, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 40000, 21)))
	msgs := [][]byte{secctx, unknown, master}
	for _, name := range captures {
		for _, c := range loadCapture(t, name) {
			msgs = append(msgs, c.raw)
		}
	}
	var ev model.Event
	for i, m := range msgs {
		if err := DecodeFast(m, &ev); err != nil { // the labels' array, an unseen name
			t.Fatalf("message %d: %v", i, err)
		}
		if allocs := testing.AllocsPerRun(100, func() { _ = DecodeFast(m, &ev) }); allocs != 0 {
			t.Errorf("message %d: %v allocations, want 0", i, allocs)
		}
	}
}

func TestInterner(t *testing.T) {
	in := newInterner(2, "ftp")
	if got := in.get([]byte("ftp")); got != "ftp" {
		t.Errorf("get(ftp) = %q", got)
	}
	a := in.get([]byte("sip"))
	if b := in.get([]byte("sip")); a != b || unsafeData(a) != unsafeData(b) {
		t.Error("a second sip is not the first")
	}
	// Full: names are still right, only not kept.
	if got := in.get([]byte("irc")); got != "irc" || len(*in.m.Load()) != 2 {
		t.Errorf("get(irc) = %q with %d names kept", got, len(*in.m.Load()))
	}
	if got := in.get(nil); got != "" {
		t.Errorf("get(nil) = %q", got)
	}
}

// unsafeData is the address of s's bytes.
func unsafeData(s string) *byte { return unsafe.StringData(s) }

// The benchmarked messages: a TCP connection's first event, an update, its
// destruction with counters and timestamps (caused through ctnetlink), an
// IPv6 update, a NAT update, an event with a helper and one with labels.
var benchMessages = []struct {
	name  string
	file  string
	index int
}{
	{"tcp-new", "tcp", 0},
	{"tcp-update", "tcp", 2},
	{"tcp-destroy", "tcp", 6},
	{"ipv6-tcp-update", "ipv6", 4},
	{"dnat-update", "dnat", 1},
	{"helper-new", "helper", 0},
	{"labels-new", "zone_mark_labels", 3},
}

func BenchmarkDecode(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			msg := loadCapture(b, bm.file)[bm.index].msg
			var ev model.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.Data)))
			for b.Loop() {
				if err := decodeTiMo(msg, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeFast(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			raw := loadCapture(b, bm.file)[bm.index].raw
			var ev model.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(raw) - ctnl.NLMsgHdrLen))
			for b.Loop() {
				if err := DecodeFast(raw, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
