package communityid

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestInput checks the hash input byte by byte for the cases the baseline
// vectors leave out, and that the ID is the base64 of its SHA-1. The wanted
// inputs are written out from the specification's layout: seed, source,
// destination, protocol, zero, ports.
func TestInput(t *testing.T) {
	tests := []struct {
		name string
		flow Flow
		seed uint16
		// in is the wanted hash input in hex; spaces separate the parts.
		in string
		// id, when set, is an ID published by a third party for the flow.
		id string
	}{
		{
			name: "icmp echo request from the larger address is reordered with the ports swapped",
			flow: Flow{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: 1, SrcPort: 8, DstPort: 0},
			in:   "0000 0a000001 0a000002 01 00 0000 0008",
		},
		{
			name: "icmp echo reply from the smaller address meets its request",
			flow: Flow{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: 1, SrcPort: 0, DstPort: 0},
			in:   "0000 0a000001 0a000002 01 00 0000 0008",
		},
		{
			name: "icmp echo code is not hashed",
			flow: Flow{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: 1, SrcPort: 8, DstPort: 7},
			in:   "0000 0a000001 0a000002 01 00 0000 0008",
		},
		{
			name: "icmp timestamp request",
			flow: Flow{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: 1, SrcPort: 13},
			in:   "0000 0a000001 0a000002 01 00 000d 000e",
		},
		{
			name: "icmp echo to itself: equal addresses, the mapped ports decide",
			flow: Flow{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), Proto: 1, SrcPort: 8},
			in:   "0000 7f000001 7f000001 01 00 0000 0008",
		},
		{
			name: "icmp destination unreachable is one-way: not reordered, code hashed",
			flow: Flow{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: 1, SrcPort: 3, DstPort: 1},
			in:   "0000 0a000002 0a000001 01 00 0003 0001",
		},
		{
			name: "icmp type out of range is one-way",
			flow: Flow{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: 1, SrcPort: 0x1234, DstPort: 0x5678},
			in:   "0000 0a000002 0a000001 01 00 1234 5678",
		},
		{
			name: "icmpv6 neighbour solicitation from the larger address",
			flow: Flow{Src: addr("fe80::2"), Dst: addr("fe80::1"), Proto: 58, SrcPort: 135},
			in:   "0000 fe800000000000000000000000000001 fe800000000000000000000000000002 3a 00 0088 0087",
		},
		{
			name: "icmpv6 neighbour advertisement back meets the solicitation",
			flow: Flow{Src: addr("fe80::1"), Dst: addr("fe80::2"), Proto: 58, SrcPort: 136},
			in:   "0000 fe800000000000000000000000000001 fe800000000000000000000000000002 3a 00 0088 0087",
		},
		{
			name: "icmpv6 echo request from the smaller address",
			flow: Flow{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), Proto: 58, SrcPort: 128},
			in:   "0000 20010db8000000000000000000000001 20010db8000000000000000000000002 3a 00 0080 0081",
		},
		{
			name: "icmpv6 packet too big is one-way",
			flow: Flow{Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), Proto: 58, SrcPort: 2, DstPort: 0},
			in:   "0000 20010db8000000000000000000000002 20010db8000000000000000000000001 3a 00 0002 0000",
		},
		{
			name: "icmpv6 mobile prefix solicitation (146) is one-way, as the spec's table shows",
			flow: Flow{Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), Proto: 58, SrcPort: 146, DstPort: 0},
			in:   "0000 20010db8000000000000000000000002 20010db8000000000000000000000001 3a 00 0092 0000",
		},
		{
			name: "icmp type numbers under icmpv6 are not icmp's pairs",
			flow: Flow{Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), Proto: 58, SrcPort: 8, DstPort: 0},
			in:   "0000 20010db8000000000000000000000002 20010db8000000000000000000000001 3a 00 0008 0000",
		},
		{
			name: "sctp from the larger address",
			flow: Flow{Src: addr("192.168.1.2"), Dst: addr("192.168.1.1"), Proto: 132, SrcPort: 5000, DstPort: 38412},
			in:   "0000 c0a80101 c0a80102 84 00 960c 1388",
		},
		{
			name: "tcp with equal addresses: the smaller port first",
			flow: Flow{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), Proto: 6, SrcPort: 40000, DstPort: 8080},
			in:   "0000 7f000001 7f000001 06 00 1f90 9c40",
		},
		{
			name: "udp with port 0 (community-id.py's output quoted in elastic/elasticsearch#148522)",
			flow: Flow{Src: addr("172.24.225.209"), Dst: addr("172.25.226.249"), Proto: 17, SrcPort: 0, DstPort: 4789},
			in:   "0000 ac18e1d1 ac19e2f9 11 00 0000 12b5",
			id:   "1:9ayyFkI/hn0776trgTtxzvo6f8k=",
		},
		{
			name: "gre hashes without its keys",
			flow: Flow{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: 47, SrcPort: 1, DstPort: 0xbeef},
			in:   "0000 0a000001 0a000002 2f 00",
		},
		{
			name: "ospf over ipv6 hashes without ports",
			flow: Flow{Src: addr("fe80::1"), Dst: addr("ff02::5"), Proto: 89},
			in:   "0000 fe800000000000000000000000000001 ff020000000000000000000000000005 59 00",
		},
		{
			name: "udp-lite and dccp are not in the spec's port list",
			flow: Flow{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: 136, SrcPort: 1, DstPort: 2},
			in:   "0000 0a000001 0a000002 88 00",
		},
		{
			name: "ipv4-mapped addresses hash as 16 bytes",
			flow: Flow{Src: addr("::ffff:5.6.7.8"), Dst: addr("::ffff:1.2.3.4"), Proto: 6, SrcPort: 80, DstPort: 1234},
			in:   "0000 00000000000000000000ffff01020304 00000000000000000000ffff05060708 06 00 04d2 0050",
		},
		{
			name: "zones are not hashed",
			flow: Flow{Src: addr("fe80::2%eth0"), Dst: addr("fe80::1%eth1"), Proto: 17, SrcPort: 546, DstPort: 547},
			in:   "0000 fe800000000000000000000000000001 fe800000000000000000000000000002 11 00 0223 0222",
		},
		{
			name: "seed in network order",
			flow: Flow{Src: addr("1.2.3.4"), Dst: addr("5.6.7.8"), Proto: 6, SrcPort: 1122, DstPort: 3344},
			seed: 0xbeef,
			in:   "beef 01020304 05060708 06 00 0462 0d10",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := hex.DecodeString(strings.ReplaceAll(tt.in, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			if len(want)%4 != 0 {
				t.Fatalf("wanted input of %d bytes is not 32-bit aligned", len(want))
			}
			var in [maxInput]byte
			n, ok := input(&in, tt.flow, tt.seed)
			if !ok {
				t.Fatalf("input(%+v) not ok", tt.flow)
			}
			if diff := cmp.Diff(want, in[:n]); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
			sum := sha1.Sum(want)
			wantID := "1:" + base64.StdEncoding.EncodeToString(sum[:])
			if tt.id != "" {
				if diff := cmp.Diff(tt.id, wantID); diff != "" {
					t.Fatalf("the published ID is not that of the wanted input (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(wantID, String(tt.flow, tt.seed)); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoID checks that flows the specification cannot hash get no ID.
func TestNoID(t *testing.T) {
	tests := []struct {
		name string
		flow Flow
	}{
		{"zero flow", Flow{}},
		{"no source", Flow{Dst: addr("10.0.0.1"), Proto: 6}},
		{"no destination", Flow{Src: addr("10.0.0.1"), Proto: 6}},
		{"mixed families", Flow{Src: addr("10.0.0.1"), Dst: addr("2001:db8::1"), Proto: 17}},
		{"ipv4 and ipv4-mapped", Flow{Src: addr("10.0.0.1"), Dst: addr("::ffff:10.0.0.2"), Proto: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := Sum(tt.flow, 0); ok {
				t.Error("Sum ok")
			}
			if diff := cmp.Diff("", String(tt.flow, 0)); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
			dst := []byte("id=")
			if diff := cmp.Diff("id=", string(Append(dst, tt.flow, 0))); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
		})
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
