package communityid_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestFromEntry(t *testing.T) {
	tests := []struct {
		name string
		line string
		want communityid.Flow
		// sameReply says whether the reply tuple hashes like the original
		// one: true without NAT.
		sameReply bool
	}{
		{
			name:      "tcp",
			line:      "ipv4     2 tcp      6 117 SYN_SENT src=192.168.1.6 dst=192.168.1.9 sport=32775 dport=22 [UNREPLIED] src=192.168.1.9 dst=192.168.1.6 sport=22 dport=32775 use=2",
			want:      communityid.Flow{Src: addr("192.168.1.6"), Dst: addr("192.168.1.9"), Proto: 6, SrcPort: 32775, DstPort: 22},
			sameReply: true,
		},
		{
			name:      "icmp echo: the reply tuple has the reply type",
			line:      "ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.2 type=8 code=0 id=2233 src=127.0.0.2 dst=127.0.0.1 type=0 code=0 id=2233 use=1",
			want:      communityid.Flow{Src: addr("127.0.0.1"), Dst: addr("127.0.0.2"), Proto: 1, SrcPort: 8, DstPort: 0},
			sameReply: true,
		},
		{
			name:      "icmpv6 echo",
			line:      "ipv6     10 icmpv6   58 29 src=2001:db8::2 dst=2001:db8::1 type=128 code=0 id=7 src=2001:db8::1 dst=2001:db8::2 type=129 code=0 id=7 use=1",
			want:      communityid.Flow{Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), Proto: 58, SrcPort: 128, DstPort: 0},
			sameReply: true,
		},
		{
			name:      "gre keys land in the ports and are not hashed",
			line:      "ipv4     2 gre      47 179 timeout=30, stream_timeout=180 src=10.0.0.1 dst=10.0.0.2 srckey=0x1 dstkey=0xbeef src=10.0.0.2 dst=10.0.0.1 srckey=0xbeef dstkey=0x1 use=1",
			want:      communityid.Flow{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: 47, SrcPort: 1, DstPort: 0xbeef},
			sameReply: true,
		},
		{
			name:      "udp behind dnat: the reply tuple is another flow",
			line:      "ipv4     2 udp      17 29 src=192.168.1.6 dst=203.0.113.1 sport=5353 dport=53 src=10.0.0.53 dst=192.168.1.6 sport=53 dport=5353 use=2",
			want:      communityid.Flow{Src: addr("192.168.1.6"), Dst: addr("203.0.113.1"), Proto: 17, SrcPort: 5353, DstPort: 53},
			sameReply: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, _, err := model.ParseText(tt.line, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := &ev.Entry
			if diff := cmp.Diff(tt.want, communityid.FromEntry(e), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("FromEntry (-want +got):\n%s", diff)
			}
			want := communityid.String(tt.want, 0)
			if diff := cmp.Diff(want, string(communityid.AppendEntry(nil, e, 0))); diff != "" {
				t.Errorf("AppendEntry (-want +got):\n%s", diff)
			}
			reply := communityid.String(communityid.FromTuple(e.Proto, &e.Reply), 0)
			if got := reply == want; got != tt.sameReply {
				t.Errorf("reply tuple's ID %s, original's %s: same = %v, want %v", reply, want, got, tt.sameReply)
			}
		})
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
