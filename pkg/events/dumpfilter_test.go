package events

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestDumpFilterValidate(t *testing.T) {
	a4, a6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name  string
		f     DumpFilter
		valid bool
	}{
		{"zero", DumpFilter{}, true},
		{"family", DumpFilter{Family: model.FamilyIPv6}, true},
		{"unknown family", DumpFilter{Family: 7}, false},
		{"mark, status and zone need no family", DumpFilter{Mark: 1, MarkMask: 1, Status: 2, StatusMask: 2, HasZone: true}, true},
		{"tuple without family", DumpFilter{Orig: DumpTuple{Proto: model.ProtoTCP, HasProto: true}}, false},
		{"address of the family", DumpFilter{Family: model.FamilyIPv4, Orig: DumpTuple{Src: a4}, Reply: DumpTuple{Dst: a4}}, true},
		{"address of the other family", DumpFilter{Family: model.FamilyIPv4, Reply: DumpTuple{Dst: a6}}, false},
		{"IPv6 address, which the kernel compares inverted", DumpFilter{Family: model.FamilyIPv6, Orig: DumpTuple{Src: a6}}, false},
		{"ports of udp", DumpFilter{Family: model.FamilyIPv6, Orig: DumpTuple{Proto: model.ProtoUDP, HasProto: true, DstPort: 53, HasDstPort: true}}, true},
		{"ports without a protocol", DumpFilter{Family: model.FamilyIPv4, Orig: DumpTuple{SrcPort: 1, HasSrcPort: true}}, false},
		{"ports of sctp, which the kernel does not compare", DumpFilter{Family: model.FamilyIPv4, Orig: DumpTuple{Proto: model.ProtoSCTP, HasProto: true, SrcPort: 1, HasSrcPort: true}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if (err == nil) != tt.valid || (err != nil && !errors.Is(err, ErrInvalidDumpFilter)) {
				t.Errorf("Validate() = %v, want valid %v", err, tt.valid)
			}
		})
	}
}

func TestDumpFilterWire(t *testing.T) {
	f := DumpFilter{Family: model.FamilyIPv4, Mark: 5, MarkMask: 0xff, Status: model.StatusAssured, StatusMask: model.StatusAssured | model.StatusSeenReply,
		Zone: 9, HasZone: true,
		Orig:  DumpTuple{Src: netip.MustParseAddr("10.0.0.1"), Proto: model.ProtoTCP, HasProto: true, DstPort: 22, HasDstPort: true},
		Reply: DumpTuple{Dst: netip.MustParseAddr("10.0.0.2")}}
	want := ctnl.DumpFilter{Family: 2, Mark: 5, MarkMask: 0xff, Status: ctnl.IPSAssured, StatusMask: ctnl.IPSAssured | ctnl.IPSSeenReply, Zone: 9, HasZone: true,
		Orig:  ctnl.TupleFilter{Flags: ctnl.FilterIPSrc | ctnl.FilterProtoNum | ctnl.FilterProtoDstPort, Src: netip.MustParseAddr("10.0.0.1"), Proto: 6, DstPort: 22},
		Reply: ctnl.TupleFilter{Flags: ctnl.FilterIPDst, Dst: netip.MustParseAddr("10.0.0.2")}}
	if diff := cmp.Diff(want, f.wire(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if f.IsZero() || !(DumpFilter{}).IsZero() {
		t.Errorf("IsZero wrong")
	}
	if (DumpFilter{}).wire() != (ctnl.DumpFilter{}) {
		t.Errorf("the zero filter is not the zero request")
	}
}
