package flow

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
	"github.com/google/go-cmp/cmp"
)

// TestEntryRoundTrip checks that the entry the tracker rebuilds from its
// record (for Unreplied and Inferred) carries the tuples, NAT included.
func TestEntryRoundTrip(t *testing.T) {
	lines := []string{
		at(0) + "[NEW] tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1001 dport=8081 [UNREPLIED] src=192.168.0.10 dst=10.0.0.1 sport=8080 dport=1001 mark=3 id=7",
		at(0) + "[NEW] udp      17 30 src=127.0.0.1 dst=127.0.0.1 sport=35325 dport=7 [UNREPLIED] src=127.0.0.1 dst=127.0.0.2 sport=7 dport=40000 zone=7 id=8",
		at(0) + "[NEW] icmp     1 30 src=10.0.0.1 dst=10.0.0.4 type=8 code=0 id=77 [UNREPLIED] src=10.0.0.4 dst=10.0.0.1 type=0 code=0 id=77 id=9",
		at(0) + "[NEW] icmpv6   58 30 src=::1 dst=::1 type=128 code=0 id=28923 [UNREPLIED] src=::1 dst=::1 type=129 code=0 id=28923 id=10",
		at(0) + "[NEW] gre      47 60 src=10.0.0.1 dst=10.0.0.6 srckey=0x1 dstkey=0x2 [UNREPLIED] src=10.0.0.6 dst=10.0.0.1 srckey=0x2 dstkey=0x1 id=11",
		at(0) + "[NEW] sctp     132 10 CLOSED src=2001:db8::1 dst=2001:db8::2 sport=40000 dport=2905 [UNREPLIED] src=2001:db8::2 dst=2001:db8::1 sport=2905 dport=40000 id=12",
		at(0) + "[NEW] unknown  99 600 src=10.0.0.1 dst=10.0.0.2 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 id=13",
	}
	for _, l := range lines {
		t.Run(strings.Fields(l)[2], func(t *testing.T) {
			tr := New(testConfig())
			evs := parseLines(t, l)
			observe(t, tr, evs)
			var got []model.Entry
			tr.Expire(base.Add(time.Hour), func(u Unreplied) { got = append(got, u.Entry) })
			want := evs[0].Entry
			want.Fields &^= model.FieldTimeout
			want.Timeout = 0
			if diff := cmp.Diff([]model.Entry{want}, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
		})
	}
}
