package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
)

// castagnoli is CRC32C, computed with SSE4.2/ARMv8 instructions where
// they exist.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame layout, little endian:
//
//	crc32c u32 | len u32 | seq u64 | unixnano i64 | level i8 | data[len]
//
// The CRC covers everything after itself, so a frame is whole and
// unchanged or it is refused.
const (
	frameHeader = 4 + 4 + 8 + 8 + 1
)

// Segment header layout, little endian:
//
//	magic [8] | version u32 | number u64 | first index u64 | runlen u16 | run | crc32c u32
//
// The CRC covers everything before it.
const (
	magic      = "ctwspool"
	version    = 1
	maxRunLen  = 255
	hdrFixed   = 8 + 4 + 8 + 8 + 2 + 4
	segSuffix  = ".seg"
	segNameLen = 12 // digits of the segment number in its file name
)

// errShort is returned by the decoders for a buffer that does not hold
// the whole frame or header yet.
var errShort = errors.New("short")

// appendFrame appends the frame of r, stamped with unixnano, to b.
func appendFrame(b []byte, r *Record, unixnano int64) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Data)))
	b = binary.LittleEndian.AppendUint64(b, r.Seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(unixnano))
	b = append(b, byte(int8(r.Level)))
	b = append(b, r.Data...)
	binary.LittleEndian.PutUint32(b[start:], crc32.Checksum(b[start+4:], castagnoli))
	return b
}

// frame is a decoded frame; data aliases the buffer it was decoded from.
type frame struct {
	seq      uint64
	unixnano int64
	level    int8
	data     []byte
}

// decodeFrame decodes the frame at the start of b. It returns errShort
// when b ends before the frame does (more may be read), and another error
// for a frame that can never be valid: a length above maxData or a CRC
// that does not match.
func decodeFrame(b []byte, maxData int) (frame, int, error) {
	if len(b) < frameHeader {
		return frame{}, 0, errShort
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if int64(n) > int64(maxData) {
		return frame{}, 0, fmt.Errorf("record length %d is above the limit %d", n, maxData)
	}
	size := frameHeader + int(n)
	if len(b) < size {
		return frame{}, 0, errShort
	}
	if want, got := binary.LittleEndian.Uint32(b), crc32.Checksum(b[4:size], castagnoli); want != got {
		return frame{}, 0, fmt.Errorf("crc32c %08x, want %08x", got, want)
	}
	return frame{
		seq:      binary.LittleEndian.Uint64(b[8:]),
		unixnano: int64(binary.LittleEndian.Uint64(b[16:])),
		level:    int8(b[24]),
		data:     b[frameHeader:size:size],
	}, size, nil
}

// segHeader is what a segment file starts with.
type segHeader struct {
	number uint64 // also the file's name
	first  uint64 // index of the segment's first record
	run    string // run id of every record in the segment
}

func (h segHeader) size() int64 { return int64(hdrFixed + len(h.run)) }

func (h segHeader) appendTo(b []byte) []byte {
	start := len(b)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, h.number)
	b = binary.LittleEndian.AppendUint64(b, h.first)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.run)))
	b = append(b, h.run...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// decodeSegHeader decodes the header at the start of b (errShort when b
// is shorter than the header).
func decodeSegHeader(b []byte) (segHeader, error) {
	if len(b) < hdrFixed {
		return segHeader{}, errShort
	}
	if string(b[:8]) != magic {
		return segHeader{}, fmt.Errorf("no segment magic %q", magic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return segHeader{}, fmt.Errorf("segment version %d, want %d", v, version)
	}
	runLen := int(binary.LittleEndian.Uint16(b[28:]))
	if runLen > maxRunLen {
		return segHeader{}, fmt.Errorf("run id length %d is above %d", runLen, maxRunLen)
	}
	size := hdrFixed + runLen
	if len(b) < size {
		return segHeader{}, errShort
	}
	if want, got := binary.LittleEndian.Uint32(b[size-4:]), crc32.Checksum(b[:size-4], castagnoli); want != got {
		return segHeader{}, fmt.Errorf("header crc32c %08x, want %08x", got, want)
	}
	return segHeader{
		number: binary.LittleEndian.Uint64(b[12:]),
		first:  binary.LittleEndian.Uint64(b[20:]),
		run:    string(b[30 : 30+runLen]),
	}, nil
}

// Ack file layout: two slots of ackSlot bytes, written in turn, each
//
//	generation u64 | segment u64 | offset u64 | index u64 | crc32c u32 | pad u32
//
// The valid slot with the higher generation is the ack. A torn write
// (power loss) spoils one slot only, and the other still holds the ack
// before it.
const ackSlot = 40

// ackState is a persisted ack: every record before index (in segment seg
// up to offset off) is delivered.
type ackState struct {
	gen uint64
	pos Position
}

func (a ackState) appendTo(b []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint64(b, a.gen)
	b = binary.LittleEndian.AppendUint64(b, a.pos.seg)
	b = binary.LittleEndian.AppendUint64(b, uint64(a.pos.off))
	b = binary.LittleEndian.AppendUint64(b, a.pos.index)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
	return binary.LittleEndian.AppendUint32(b, 0)
}

func decodeAck(b []byte) (ackState, bool) {
	if len(b) < ackSlot {
		return ackState{}, false
	}
	if binary.LittleEndian.Uint32(b[32:]) != crc32.Checksum(b[:32], castagnoli) {
		return ackState{}, false
	}
	a := ackState{
		gen: binary.LittleEndian.Uint64(b),
		pos: Position{
			seg:   binary.LittleEndian.Uint64(b[8:]),
			off:   int64(binary.LittleEndian.Uint64(b[16:])),
			index: binary.LittleEndian.Uint64(b[24:]),
		},
	}
	return a, a.gen != 0
}

// readFrameHeaderAt reads the seq and time of the frame at off in f (no
// CRC check: the frame was checked when it was recovered or written).
func readFrameHeaderAt(f *os.File, off int64) (frame, error) {
	var b [frameHeader]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return frame{}, err
	}
	return frame{
		seq:      binary.LittleEndian.Uint64(b[8:]),
		unixnano: int64(binary.LittleEndian.Uint64(b[16:])),
		level:    int8(b[24]),
	}, nil
}
