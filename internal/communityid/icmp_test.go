package communityid_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/communityid"
)

// The request/reply type pairs of the specification's reference
// implementations (corelight/pycommunityid communityid/icmp.py and
// icmp6.py, corelight/community-id-spec community-id.py), as facts to test
// against: every listed type meets its counterpart from the other end, and
// every other type is one-way.
var (
	icmpPairs   = [][2]uint16{{8, 0}, {13, 14}, {15, 16}, {10, 9}, {17, 18}}
	icmpv6Pairs = [][2]uint16{{128, 129}, {130, 131}, {133, 134}, {135, 136}, {139, 140}, {144, 145}}
)

func TestICMPPairing(t *testing.T) {
	protos := []struct {
		name  string
		proto uint8
		a, b  netip.Addr
		pairs [][2]uint16
	}{
		{"icmp", 1, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7"), icmpPairs},
		{"icmpv6", 58, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1"), icmpv6Pairs},
	}
	for _, p := range protos {
		counterpart := map[uint16]uint16{}
		for _, pair := range p.pairs {
			counterpart[pair[0]], counterpart[pair[1]] = pair[1], pair[0]
		}
		for typ := range uint16(256) {
			// Both orders of the endpoints, so that the reordering is
			// needed on one side whichever address is smaller.
			for _, ends := range [][2]netip.Addr{{p.a, p.b}, {p.b, p.a}} {
				src, dst := ends[0], ends[1]
				there := communityid.String(communityid.Flow{Src: src, Dst: dst, Proto: p.proto, SrcPort: typ, DstPort: 3}, 0)
				if other, paired := counterpart[typ]; paired {
					back := communityid.String(communityid.Flow{Src: dst, Dst: src, Proto: p.proto, SrcPort: other, DstPort: 0}, 0)
					if diff := cmp.Diff(there, back); diff != "" {
						t.Errorf("%s type %d from %v and type %d back differ (-there +back):\n%s", p.name, typ, src, other, diff)
					}
					continue
				}
				back := communityid.String(communityid.Flow{Src: dst, Dst: src, Proto: p.proto, SrcPort: typ, DstPort: 3}, 0)
				if there == back {
					t.Errorf("%s type %d is one-way but hashes alike from both ends: %s", p.name, typ, there)
				}
			}
		}
	}
}
