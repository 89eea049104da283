//go:build integration

package main

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// decodedMsg is a request as a reader of the wire sees it.
type decodedMsg struct {
	Len, Type, Flags int
	Seq              uint32
	Family           byte
	Attrs            map[ctnl.AttrType]any // leaves as []byte, nests as maps
}

// decodeMsgs splits a buffer of netlink messages and decodes their
// ctnetlink attributes with mdlayher/netlink's decoder, independently of
// the encoder under test.
func decodeMsgs(t *testing.T, b []byte) []decodedMsg {
	t.Helper()
	var out []decodedMsg
	for len(b) > 0 {
		var m netlink.Message
		l := int(binary.NativeEndian.Uint32(b))
		if err := m.UnmarshalBinary(b[:l]); err != nil {
			t.Fatalf("message: %v", err)
		}
		d := decodedMsg{Len: l, Type: int(m.Header.Type), Flags: int(m.Header.Flags), Seq: m.Header.Sequence, Family: m.Data[0]}
		d.Attrs = decodeAttrs(t, m.Data[4:])
		out = append(out, d)
		b = b[(l+3)&^3:]
	}
	return out
}

func decodeAttrs(t *testing.T, b []byte) map[ctnl.AttrType]any {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		t.Fatal(err)
	}
	m := map[ctnl.AttrType]any{}
	for ad.Next() {
		if ad.TypeFlags()&netlink.Nested != 0 {
			ad.Do(func(b []byte) error {
				m[ctnl.AttrType(ad.Type())] = decodeAttrs(t, b)
				return nil
			})
			continue
		}
		m[ctnl.AttrType(ad.Type())] = ad.Bytes()
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func tupleAttrs(src, dst [4]byte, sport, dport uint16) map[ctnl.AttrType]any {
	return map[ctnl.AttrType]any{
		ctnl.CTATupleIP: map[ctnl.AttrType]any{ctnl.CTAIPV4Src: src[:], ctnl.CTAIPV4Dst: dst[:]},
		ctnl.CTATupleProto: map[ctnl.AttrType]any{
			ctnl.CTAProtoNum:     []byte{unix.IPPROTO_UDP},
			ctnl.CTAProtoSrcPort: binary.BigEndian.AppendUint16(nil, sport),
			ctnl.CTAProtoDstPort: binary.BigEndian.AppendUint16(nil, dport),
		},
	}
}

func TestCTNetlinkRequests(t *testing.T) {
	tup := entryTuple(0x10203)
	var b []byte
	b = appendCreate(b, 1, tup)
	b = appendUpdate(b, 2, tup, 1)
	b = appendDelete(b, 3, tup)
	got := decodeMsgs(t, b)
	for i := range got {
		got[i].Len = 0 // checked by the decoder
	}
	src, dst := [4]byte{10, 77, 2, 3}, [4]byte{10, 78, 0, 1}
	want := []decodedMsg{{
		Type: int(ctNew), Flags: int(ctnl.NLMFRequest | ctnl.NLMFCreate | ctnl.NLMFExcl), Seq: 1, Family: unix.AF_INET,
		Attrs: map[ctnl.AttrType]any{
			ctnl.CTATupleOrig:  tupleAttrs(src, dst, 1025, 80),
			ctnl.CTATupleReply: tupleAttrs(dst, src, 80, 1025),
			ctnl.CTAStatus:     []byte{0, 0, 0, byte(entryStatus)},
			ctnl.CTATimeout:    binary.BigEndian.AppendUint32(nil, entryTimeout),
		},
	}, {
		Type: int(ctNew), Flags: int(ctnl.NLMFRequest), Seq: 2, Family: unix.AF_INET,
		Attrs: map[ctnl.AttrType]any{ctnl.CTATupleOrig: tupleAttrs(src, dst, 1025, 80), ctnl.CTAMark: []byte{0, 0, 0, 1}},
	}, {
		Type: int(ctDelete), Flags: int(ctnl.NLMFRequest), Seq: 3, Family: unix.AF_INET,
		Attrs: map[ctnl.AttrType]any{ctnl.CTATupleOrig: tupleAttrs(src, dst, 1025, 80)},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestEntryTupleUnique(t *testing.T) {
	seen := make(map[ctTuple]int)
	for i := range 3 << 16 {
		tup := entryTuple(i)
		if j, dup := seen[tup]; dup {
			t.Fatalf("entries %d and %d share tuple %+v", j, i, tup)
		}
		seen[tup] = i
	}
}

// nlmsg builds one netlink message for the answer and event parsers.
func nlmsg(typ ctnl.HeaderType, flags ctnl.Flags, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(ctnl.NLMsgHdrLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, uint16(typ))
	b = binary.NativeEndian.AppendUint16(b, uint16(flags))
	b = binary.NativeEndian.AppendUint32(b, 7)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func errPayload(code int32) []byte {
	return append(binary.NativeEndian.AppendUint32(nil, uint32(code)), make([]byte, ctnl.NLMsgHdrLen)...)
}

func TestAckErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		want   []int32
		wantOK bool
	}{
		{name: "one error", in: nlmsg(ctnl.NLMsgError, 0, errPayload(-2)), want: []int32{-2}, wantOK: true},
		{name: "ack skipped", in: append(nlmsg(ctnl.NLMsgError, 0, errPayload(0)), nlmsg(ctnl.NLMsgError, 0, errPayload(-17))...), want: []int32{-17}, wantOK: true},
		{name: "other messages skipped", in: nlmsg(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtGet), 0, []byte{2, 0, 0, 0}), wantOK: true},
		{name: "length beyond the datagram", in: nlmsg(ctnl.NLMsgError, 0, errPayload(-2))[:20]},
		{name: "length below a header", in: []byte{4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{name: "empty", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ackErrors(tt.in)
			if diff := cmp.Diff(fmt.Sprint(tt.want, tt.wantOK), fmt.Sprint(got, ok)); diff != "" {
				t.Errorf("ackErrors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCountEventMessages(t *testing.T) {
	var c eventCounts
	countEventMessages(&c, nlmsg(ctNew, ctnl.NLMFCreate|ctnl.NLMFExcl, []byte{2, 0, 0, 0}))
	countEventMessages(&c, nlmsg(ctNew, 0, []byte{2, 0, 0, 0}))
	countEventMessages(&c, append(nlmsg(ctDelete, 0, []byte{2, 0, 0, 0}), nlmsg(ctDelete, 0, nil)...))
	countEventMessages(&c, nlmsg(ctnl.NFNLType(ctnl.NFNLSubsysQueue, 0), 0, nil))
	countEventMessages(&c, []byte{200, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if diff := cmp.Diff(eventCounts{New: 1, Update: 1, Destroy: 2, Other: 2}, c); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func FuzzNetlinkParsers(f *testing.F) {
	f.Add(nlmsg(ctnl.NLMsgError, 0, errPayload(-2)))
	f.Add(nlmsg(ctNew, ctnl.NLMFCreate, []byte{2, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		ackErrors(data)
		var c eventCounts
		countEventMessages(&c, data)
		if c.Events()+c.Other > len(data)/ctnl.NLMsgHdrLen+1 {
			t.Fatalf("%d messages counted in %d bytes", c.Events()+c.Other, len(data))
		}
	})
}
