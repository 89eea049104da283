package communityid_test

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/communityid"
)

// FuzzAppend checks that Append never panics, appends either nothing (for
// a flow without an ID) or "1:" and the base64 of Sum's digest, and that
// both directions of a TCP, UDP, SCTP, paired-ICMP or portless flow hash
// alike.
func FuzzAppend(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}, uint8(6), uint16(1122), uint16(3344), uint16(0))
	f.Add([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 1}, uint8(132), uint16(7), uint16(7), uint16(1))
	f.Add(netip.MustParseAddr("fe80::1").AsSlice(), netip.MustParseAddr("ff02::1").AsSlice(), uint8(58), uint16(135), uint16(0), uint16(0))
	f.Add([]byte{192, 168, 0, 89}, []byte{192, 168, 0, 1}, uint8(1), uint16(8), uint16(0), uint16(0))
	f.Add([]byte{10, 0, 0, 2}, []byte{10, 0, 0, 1}, uint8(1), uint16(3), uint16(1), uint16(0))
	f.Add([]byte{10, 0, 0, 2}, []byte{10, 0, 0, 1}, uint8(47), uint16(1), uint16(2), uint16(0))
	f.Add([]byte{10, 0, 0, 2}, netip.MustParseAddr("::ffff:10.0.0.1").AsSlice(), uint8(17), uint16(53), uint16(53), uint16(0))
	f.Add([]byte{}, []byte{1}, uint8(0), uint16(0), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, src, dst []byte, proto uint8, sport, dport, seed uint16) {
		s, _ := netip.AddrFromSlice(src)
		d, _ := netip.AddrFromSlice(dst)
		fl := communityid.Flow{Src: s, Dst: d, Proto: proto, SrcPort: sport, DstPort: dport}

		head := []byte("community_id=")
		got := communityid.Append(bytes.Clone(head), fl, seed)
		if !bytes.HasPrefix(got, head) {
			t.Fatalf("Append changed dst's bytes: %q", got)
		}
		id := got[len(head):]
		sum, ok := communityid.Sum(fl, seed)
		hashable := s.IsValid() && d.IsValid() && s.Is4() == d.Is4()
		if ok != hashable {
			t.Fatalf("Sum ok = %v for %+v, want %v", ok, fl, hashable)
		}
		if !ok {
			if len(id) != 0 {
				t.Fatalf("Append appended %q for a flow without ID %+v", id, fl)
			}
			return
		}
		if len(id) != communityid.Len || !bytes.HasPrefix(id, []byte("1:")) {
			t.Fatalf("ID %q is not \"1:\" and 28 base64 characters", id)
		}
		raw, err := base64.StdEncoding.DecodeString(string(id[2:]))
		if err != nil {
			t.Fatalf("ID %q: %v", id, err)
		}
		if diff := cmp.Diff(sum[:], raw); diff != "" {
			t.Fatalf("ID %q does not encode Sum (-want +got):\n%s", id, diff)
		}

		back := communityid.Flow{Src: d, Dst: s, Proto: proto, SrcPort: dport, DstPort: sport}
		switch proto {
		case 1, 58:
			// Only a request or reply has an other end: the reply
			// carries its counterpart type, which is what the forward
			// flow's ports were mapped to.
			other, paired := counterpartOf(proto, sport)
			if !paired {
				return
			}
			back.SrcPort, back.DstPort = other, dport
		}
		if diff := cmp.Diff(string(id), communityid.String(back, seed)); diff != "" {
			t.Errorf("%+v and %+v hash differently (-forward +back):\n%s", fl, back, diff)
		}
	})
}

func counterpartOf(proto uint8, typ uint16) (uint16, bool) {
	pairs := icmpPairs
	if proto == 58 {
		pairs = icmpv6Pairs
	}
	for _, p := range pairs {
		switch typ {
		case p[0]:
			return p[1], true
		case p[1]:
			return p[0], true
		}
	}
	return 0, false
}
