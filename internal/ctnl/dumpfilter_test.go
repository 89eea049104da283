package ctnl

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAppendDumpRequest checks the bytes of each part of a dump filter as
// ctnetlink_alloc_filter parses them: big-endian values but for the
// CTA_FILTER flags, which are host-order NLA_U32.
func TestAppendDumpRequest(t *testing.T) {
	host := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	nested := func(t AttrType) AttrType { return t | NLAFNested }
	tests := []struct {
		name   string
		f      DumpFilter
		family uint8
		want   []node
	}{
		{name: "nothing", f: DumpFilter{}, want: nil},
		{name: "family only", f: DumpFilter{Family: 10}, family: 10, want: nil},
		{name: "mark: the value is masked", f: DumpFilter{Mark: 0x1ff, MarkMask: 0xf0}, want: []node{
			{Type: CTAMark, Data: be(0xf0)}, {Type: CTAMarkMask, Data: be(0xf0)}}},
		{name: "status", f: DumpFilter{Status: 4, StatusMask: 6}, want: []node{
			{Type: CTAStatus, Data: be(4)}, {Type: CTAStatusMask, Data: be(6)}}},
		{name: "zone 0 is a filter too", f: DumpFilter{HasZone: true}, want: []node{
			{Type: CTAZone, Data: []byte{0, 0}}}},
		{name: "zone", f: DumpFilter{Zone: 0x1234, HasZone: true}, want: []node{
			{Type: CTAZone, Data: []byte{0x12, 0x34}}}},
		{name: "orig tuple", family: 2, f: DumpFilter{Family: 2, Orig: TupleFilter{
			Flags: FilterIPSrc | FilterProtoNum | FilterProtoDstPort,
			Src:   netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 17, SrcPort: 9, DstPort: 53}},
			want: []node{
				{Type: nested(CTATupleOrig), Kids: []node{
					{Type: nested(CTATupleIP), Kids: []node{{Type: CTAIPV4Src, Data: []byte{10, 0, 0, 1}}}},
					{Type: nested(CTATupleProto), Kids: []node{{Type: CTAProtoNum, Data: []byte{17}}, {Type: CTAProtoDstPort, Data: []byte{0, 53}}}},
				}},
				{Type: nested(CTAFilter), Kids: []node{{Type: CTAFilterOrigFlags, Data: host(uint32(FilterIPSrc | FilterProtoNum | FilterProtoDstPort))}}},
			}},
		{name: "reply tuple, IPv6", family: 10, f: DumpFilter{Family: 10, Reply: TupleFilter{
			Flags: FilterIPDst | FilterProtoNum | FilterProtoSrcPort,
			Dst:   netip.MustParseAddr("2001:db8::1"), Proto: 6, SrcPort: 443}},
			want: []node{
				{Type: nested(CTATupleReply), Kids: []node{
					{Type: nested(CTATupleIP), Kids: []node{{Type: CTAIPV6Dst, Data: netip.MustParseAddr("2001:db8::1").AsSlice()}}},
					{Type: nested(CTATupleProto), Kids: []node{{Type: CTAProtoNum, Data: []byte{6}}, {Type: CTAProtoSrcPort, Data: []byte{1, 0xbb}}}},
				}},
				{Type: nested(CTAFilter), Kids: []node{{Type: CTAFilterReplyFlags, Data: host(uint32(FilterIPDst | FilterProtoNum | FilterProtoSrcPort))}}},
			}},
		{name: "everything", family: 2, f: DumpFilter{Family: 2, Mark: 1, MarkMask: ^uint32(0), Status: 0, StatusMask: 2, Zone: 7, HasZone: true,
			Orig:  TupleFilter{Flags: FilterProtoNum, Proto: 6},
			Reply: TupleFilter{Flags: FilterIPSrc | FilterIPDst, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1")}},
			want: []node{
				{Type: CTAMark, Data: be(1)}, {Type: CTAMarkMask, Data: be(^uint32(0))},
				{Type: CTAStatus, Data: be(0)}, {Type: CTAStatusMask, Data: be(2)},
				{Type: CTAZone, Data: []byte{0, 7}},
				{Type: nested(CTATupleOrig), Kids: []node{{Type: nested(CTATupleProto), Kids: []node{{Type: CTAProtoNum, Data: []byte{6}}}}}},
				{Type: nested(CTATupleReply), Kids: []node{{Type: nested(CTATupleIP), Kids: []node{
					{Type: CTAIPV4Src, Data: []byte{10, 0, 0, 2}}, {Type: CTAIPV4Dst, Data: []byte{10, 0, 0, 1}}}}}},
				{Type: nested(CTAFilter), Kids: []node{
					{Type: CTAFilterOrigFlags, Data: host(uint32(FilterProtoNum))},
					{Type: CTAFilterReplyFlags, Data: host(uint32(FilterIPSrc | FilterIPDst))}}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendDumpRequest(nil, &tt.f)
			if diff := cmp.Diff([]byte{tt.family, NFNetlinkV0, 0, 0}, b[:NFGenMsgLen]); diff != "" {
				t.Errorf("nfgenmsg (-want +got):\n%s", diff)
			}
			if len(b)%NLMsgAlignTo != 0 {
				t.Errorf("payload of %d bytes is not aligned", len(b))
			}
			got, err := walk(b[NFGenMsgLen:])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppendDumpRequestBytes pins one request byte for byte, headers and
// padding included, against the layout the kernel parses.
func TestAppendDumpRequestBytes(t *testing.T) {
	f := DumpFilter{Family: 2, Zone: 3, HasZone: true, Orig: TupleFilter{Flags: FilterProtoNum, Proto: 17}}
	flags := binary.NativeEndian.AppendUint32(nil, uint32(FilterProtoNum))
	h := func(l, typ uint16) []byte {
		return binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16(nil, l), typ)
	}
	var want []byte
	want = append(want, 2, 0, 0, 0)                                   // nfgenmsg
	want = append(append(want, h(6, uint16(CTAZone))...), 0, 3, 0, 0) // CTA_ZONE, padded
	want = append(want, h(16, uint16(CTATupleOrig|NLAFNested))...)
	want = append(want, h(12, uint16(CTATupleProto|NLAFNested))...)
	want = append(append(want, h(5, uint16(CTAProtoNum))...), 17, 0, 0, 0)
	want = append(want, h(12, uint16(CTAFilter|NLAFNested))...)
	want = append(append(want, h(8, uint16(CTAFilterOrigFlags))...), flags...)
	if diff := cmp.Diff(want, AppendDumpRequest(nil, &f)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzAppendDumpRequest: any filter encodes to attributes that walk, each
// part present exactly when set.
func FuzzAppendDumpRequest(f *testing.F) {
	f.Add(uint8(2), uint32(1), uint32(0xff), uint32(2), uint32(6), uint16(3), true, uint32(0x3b), uint32(0x13), []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2})
	f.Add(uint8(10), uint32(0), uint32(0), uint32(0), uint32(0), uint16(0), false, uint32(0), uint32(0x3), make([]byte, 16), make([]byte, 16))
	f.Fuzz(func(t *testing.T, family uint8, mark, markMask, status, statusMask uint32, zone uint16, hasZone bool, orig, reply uint32, src, dst []byte) {
		a, _ := netip.AddrFromSlice(src)
		b, _ := netip.AddrFromSlice(dst)
		mask := FilterIPSrc | FilterIPDst | FilterProtoNum | FilterProtoSrcPort | FilterProtoDstPort
		df := DumpFilter{Family: family, Mark: mark, MarkMask: markMask, Status: Status(status), StatusMask: Status(statusMask), Zone: zone, HasZone: hasZone,
			Orig:  TupleFilter{Flags: FilterFlags(orig) & mask, Src: a, Dst: b, Proto: 6, SrcPort: 1, DstPort: 2},
			Reply: TupleFilter{Flags: FilterFlags(reply) & mask, Src: b, Dst: a, Proto: 6, SrcPort: 2, DstPort: 1}}
		if !a.IsValid() || !b.IsValid() {
			df.Orig.Flags &^= FilterIPSrc | FilterIPDst
			df.Reply.Flags &^= FilterIPSrc | FilterIPDst
		}
		out := AppendDumpRequest(nil, &df)
		if out[0] != family || len(out)%NLMsgAlignTo != 0 {
			t.Fatalf("nfgenmsg %v, %d bytes", out[:NFGenMsgLen], len(out))
		}
		nodes, err := walk(out[NFGenMsgLen:])
		if err != nil {
			t.Fatal(err)
		}
		seen := map[AttrType]bool{}
		for _, n := range nodes {
			seen[n.Type&NLATypeMask] = true
		}
		hasTuple := df.Orig.Flags|df.Reply.Flags != 0
		for typ, want := range map[AttrType]bool{CTAMark: markMask != 0, CTAStatus: statusMask != 0, CTAZone: hasZone,
			CTATupleOrig: df.Orig.Flags != 0, CTATupleReply: df.Reply.Flags != 0, CTAFilter: hasTuple} {
			if seen[typ] != want {
				t.Errorf("attribute %d present %v, want %v", typ, seen[typ], want)
			}
		}
	})
}
