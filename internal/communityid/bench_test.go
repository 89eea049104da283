package communityid_test

import (
	"net/netip"
	"testing"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var benchFlows = []struct {
	name string
	flow communityid.Flow
}{
	{"tcp4", communityid.Flow{Src: netip.MustParseAddr("192.168.1.6"), Dst: netip.MustParseAddr("192.168.1.9"), Proto: 6, SrcPort: 32775, DstPort: 22}},
	{"udp6", communityid.Flow{Src: netip.MustParseAddr("2001:db8::2"), Dst: netip.MustParseAddr("2001:db8::1"), Proto: 17, SrcPort: 5353, DstPort: 53}},
	{"icmp4", communityid.Flow{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: 1, SrcPort: 8}},
	{"gre4", communityid.Flow{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: 47, SrcPort: 1, DstPort: 2}},
}

// TestAppendAllocs holds Append and AppendEntry to zero allocations when
// the destination has room, as the record encoders need on the hot path.
func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, communityid.Len)
	for _, bf := range benchFlows {
		got := testing.AllocsPerRun(1000, func() {
			buf = communityid.Append(buf[:0], bf.flow, 0)
		})
		if got != 0 {
			t.Errorf("%s: Append allocates %v times per call, want 0", bf.name, got)
		}
		if len(buf) != communityid.Len {
			t.Errorf("%s: Append wrote %q", bf.name, buf)
		}
	}
	e := &model.Entry{Family: model.FamilyIPv6, Proto: model.ProtoICMPv6, Orig: model.Tuple{
		Src: netip.MustParseAddr("fe80::2"), Dst: netip.MustParseAddr("fe80::1"), ICMPType: 135,
	}}
	if got := testing.AllocsPerRun(1000, func() { buf = communityid.AppendEntry(buf[:0], e, 0) }); got != 0 {
		t.Errorf("AppendEntry allocates %v times per call, want 0", got)
	}
	if len(buf) != communityid.Len {
		t.Errorf("AppendEntry wrote %q", buf)
	}
}

func BenchmarkAppend(b *testing.B) {
	buf := make([]byte, 0, communityid.Len)
	for _, bf := range benchFlows {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = communityid.Append(buf[:0], bf.flow, 0)
			}
		})
	}
}
