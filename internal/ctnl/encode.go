package ctnl

import "encoding/binary"

// Requests are built by appending to a caller's buffer, so that a batch of
// requests costs no allocation once the buffer has grown: AppendMessage
// starts a message and EndMessage writes its length, BeginNest and EndNest
// do the same for a nest, and the AppendAttr family appends attributes,
// padded to 4 bytes. Numbers are big-endian, as ctnetlink's are.
//
// Lengths are not checked: a message or nest is the caller's, and one
// longer than its length field (4 GiB, 64 KiB) is the caller's bug.

// AppendMessage appends an nfnetlink message's struct nlmsghdr (its
// length left for EndMessage) and struct nfgenmsg (family, NFNETLINK_V0,
// resource id 0), and returns the offset of the message for EndMessage.
// The port id is 0: the kernel's.
func AppendMessage(b []byte, t HeaderType, f Flags, seq uint32, family uint8) (_ []byte, at int) {
	at = len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, uint16(t))
	b = binary.NativeEndian.AppendUint16(b, uint16(f))
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return append(b, family, NFNetlinkV0, 0, 0), at
}

// EndMessage writes the length of the message AppendMessage began at at.
func EndMessage(b []byte, at int) []byte {
	binary.NativeEndian.PutUint32(b[at:], uint32(len(b)-at))
	return b
}

// AppendAttr appends an attribute of type t holding payload, padded.
func AppendAttr(b []byte, t AttrType, payload []byte) []byte {
	b = appendAttrHeader(b, t, len(payload))
	b = append(b, payload...)
	return pad(b)
}

// AppendU8 appends an attribute of type t holding v.
func AppendU8(b []byte, t AttrType, v uint8) []byte {
	b = appendAttrHeader(b, t, 1)
	return append(b, v, 0, 0, 0)
}

// AppendU16 appends an attribute of type t holding v, big-endian.
func AppendU16(b []byte, t AttrType, v uint16) []byte {
	b = appendAttrHeader(b, t, 2)
	b = binary.BigEndian.AppendUint16(b, v)
	return append(b, 0, 0)
}

// AppendU32 appends an attribute of type t holding v, big-endian.
func AppendU32(b []byte, t AttrType, v uint32) []byte {
	b = appendAttrHeader(b, t, 4)
	return binary.BigEndian.AppendUint32(b, v)
}

// AppendU64 appends an attribute of type t holding v, big-endian.
func AppendU64(b []byte, t AttrType, v uint64) []byte {
	b = appendAttrHeader(b, t, 8)
	return binary.BigEndian.AppendUint64(b, v)
}

// BeginNest appends the header of a nest of type t, flagged NLA_F_NESTED
// as the kernel wants, its length left for EndNest, and returns its
// offset.
func BeginNest(b []byte, t AttrType) (_ []byte, at int) {
	at = len(b)
	b = binary.NativeEndian.AppendUint16(b, 0)
	return binary.NativeEndian.AppendUint16(b, uint16(t|NLAFNested)), at
}

// EndNest writes the length of the nest BeginNest began at at. Its
// attributes are padded already, so the nest is too.
func EndNest(b []byte, at int) []byte {
	binary.NativeEndian.PutUint16(b[at:], uint16(len(b)-at))
	return b
}

func appendAttrHeader(b []byte, t AttrType, n int) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(NLAHdrLen+n))
	return binary.NativeEndian.AppendUint16(b, uint16(t))
}

// pad appends zeros up to the next 4-byte boundary.
func pad(b []byte) []byte {
	for len(b)%NLMsgAlignTo != 0 {
		b = append(b, 0)
	}
	return b
}
