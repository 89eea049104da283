package events

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// testdata/expect.nlmsg holds the expectation events Linux 6.18 sent while
// conntrack -E expect printed testdata/expect.conntrack.txt: an FTP
// control connection on loopback with the ftp helper, whose PASV reply the
// helper read twice (new, destroy, new) before the data connection matched
// the expectation (destroy).
const (
	typExpNew    = uint16(ctnl.NFNLSubsysCTNetlinkExp)<<8 | uint16(ctnl.IPCTNLMsgExpNew)
	typExpDelete = uint16(ctnl.NFNLSubsysCTNetlinkExp)<<8 | uint16(ctnl.IPCTNLMsgExpDelete)
)

func conntrackLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestDecodeExpectCaptured decodes the kernel's expectation messages and
// prints each as conntrack printed the same event, byte for byte.
func TestDecodeExpectCaptured(t *testing.T) {
	msgs := loadCapture(t, "expect")
	want := conntrackLines(t, "expect.conntrack.txt")
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, %d conntrack lines", len(msgs), len(want))
	}
	for i, m := range msgs {
		var ev model.ExpectEvent
		if err := DecodeExpect(m.raw, &ev); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if diff := cmp.Diff(want[i], string(model.AppendExpectText(nil, &ev, nil))); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
		// The kernel sends the id and the flags, which the line does
		// not show.
		if f := model.ExpectFieldID | model.ExpectFieldFlags | model.ExpectFieldTimeout; !ev.Expect.Fields.Has(f) {
			t.Errorf("message %d: fields %#x lack %#x", i, ev.Expect.Fields, f)
		}
	}
}

func tupleNest(typ ctnl.AttrType, proto uint8, src, dst netip.Addr, sport, dport uint16) []byte {
	ipSrc, ipDst := ctnl.CTAIPV4Src, ctnl.CTAIPV4Dst
	if src.Is6() {
		ipSrc, ipDst = ctnl.CTAIPV6Src, ctnl.CTAIPV6Dst
	}
	return nest(typ,
		nest(ctnl.CTATupleIP, leaf(ipSrc, src.AsSlice()...), leaf(ipDst, dst.AsSlice()...)),
		nest(ctnl.CTATupleProto, leaf(ctnl.CTAProtoNum, proto), leaf(ctnl.CTAProtoSrcPort, be16(sport)...), leaf(ctnl.CTAProtoDstPort, be16(dport)...)))
}

// sipExpect is a hand-built expectation of what the capture lacks: IPv6,
// a UDP expectation of a TCP master, zone, flags, NAT, a function, and
// attributes of unknown types, which are skipped.
func sipExpect(more ...[]byte) []byte {
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	ones := netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	parts := [][]byte{{10, 0, 0, 0},
		tupleNest(ctnl.CTAExpectMaster, 6, a, b, 5060, 5060),
		tupleNest(ctnl.CTAExpectTuple, 17, b, a, 0, 16384),
		tupleNest(ctnl.CTAExpectMask, 17, netip.IPv6Unspecified(), ones, 0, 0xffff),
		nest(ctnl.CTAExpectNat, leaf(ctnl.CTAExpectNatDir, be32(1)...),
			tupleNest(ctnl.CTAExpectNatTuple, 6, netip.MustParseAddr("2001:db8::9"), netip.IPv6Unspecified(), 0, 7000)),
		leaf(ctnl.CTAExpectTimeout, be32(180)...),
		leaf(ctnl.CTAExpectID, be32(77)...),
		leaf(ctnl.CTAExpectFlags, be32(uint32(model.ExpectPermanent|model.ExpectInactive))...),
		leaf(ctnl.CTAExpectClass, be32(1)...),
		leaf(ctnl.CTAExpectHelpName, 's', 'i', 'p', 0),
		leaf(ctnl.CTAExpectFn, []byte("nat-follow-master\x00")...),
		leaf(ctnl.CTAExpectZone, be16(9)...),
		leaf(99, 1, 2, 3, 4),
	}
	return bytes.Join(append(parts, more...), nil)
}

func TestDecodeExpectHandBuilt(t *testing.T) {
	var ev model.ExpectEvent
	if err := DecodeExpect(rawMessage(typExpDelete, 0, 4242, sipExpect()), &ev); err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	want := model.ExpectEvent{
		Type:   model.EventDestroy,
		Origin: model.Origin{PortID: 4242},
		Expect: model.Expect{
			Family: model.FamilyIPv6, Proto: model.ProtoUDP, MasterProto: model.ProtoTCP,
			Fields: model.ExpectFieldTimeout | model.ExpectFieldMask | model.ExpectFieldMaster | model.ExpectFieldID |
				model.ExpectFieldFlags | model.ExpectFieldClass | model.ExpectFieldZone | model.ExpectFieldHelper |
				model.ExpectFieldNAT | model.ExpectFieldFn,
			Tuple:   model.Tuple{Src: b, Dst: a, DstPort: 16384},
			Mask:    model.Tuple{Src: netip.IPv6Unspecified(), Dst: netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), DstPort: 0xffff},
			Master:  model.Tuple{Src: a, Dst: b, SrcPort: 5060, DstPort: 5060},
			Timeout: 180, ID: 77, Flags: model.ExpectPermanent | model.ExpectInactive, Class: 1, Zone: 9,
			Helper: "sip", Fn: "nat-follow-master",
			NATDir: 1, NAT: model.Tuple{Src: netip.MustParseAddr("2001:db8::9"), Dst: netip.IPv6Unspecified(), DstPort: 7000},
		},
	}
	if diff := cmp.Diff(want, ev, eventOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeExpectErrors(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	master := tupleNest(ctnl.CTAExpectMaster, 6, a, a, 1, 21)
	tuple := tupleNest(ctnl.CTAExpectTuple, 6, a, a, 0, 9)
	mask := tupleNest(ctnl.CTAExpectMask, 6, a, a, 0, 0xffff)
	flat := append([]byte(nil), tuple...)
	binary16 := func(b []byte, v uint16) []byte { b[2], b[3] = byte(v), byte(v>>8); return b }
	binary16(flat, uint16(ctnl.CTAExpectTuple)) // NLA_F_NESTED cleared (little-endian host)
	hdr := []byte{2, 0, 0, 0}
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"connection message", rawMessage(typNew, flagCreate, 0, entry4(6)), ErrNotConntrack},
		{"expectation get", rawMessage(uint16(ctnl.NFNLSubsysCTNetlinkExp)<<8|uint16(ctnl.IPCTNLMsgExpGet), 0, 0, hdr), ErrNotConntrack},
		{"short header", rawMessage(typExpNew, 0, 0, hdr)[:10], ErrTruncated},
		{"no nfgenmsg", rawMessage(typExpNew, 0, 0, nil), ErrTruncated},
		{"no tuple", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, master, mask}, nil)), ErrMalformed},
		{"no master", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, tuple, mask}, nil)), ErrMalformed},
		{"not nested", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, master, flat, mask}, nil)), ErrMalformed},
		{"short timeout", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, master, tuple, mask, leaf(ctnl.CTAExpectTimeout, 1, 2)}, nil)), ErrMalformed},
		{"short zone", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, master, tuple, mask, leaf(ctnl.CTAExpectZone, 1)}, nil)), ErrMalformed},
		{"nat without tuple", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, master, tuple, mask, nest(ctnl.CTAExpectNat, leaf(ctnl.CTAExpectNatDir, be32(0)...))}, nil)), ErrMalformed},
		{"cut attribute", rawMessage(typExpNew, 0, 0, bytes.Join([][]byte{hdr, master, tuple, withLen(append([]byte(nil), mask...), 200)}, nil)), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev model.ExpectEvent
			if err := DecodeExpect(tt.msg, &ev); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDecodeExpectAllocs holds DecodeExpect to no allocation per event,
// once the helper's and function's names were seen.
func TestDecodeExpectAllocs(t *testing.T) {
	msgs := [][]byte{rawMessage(typExpNew, flagCreate, 0, sipExpect())}
	for _, c := range loadCapture(t, "expect") {
		msgs = append(msgs, c.raw)
	}
	var ev model.ExpectEvent
	for i, m := range msgs {
		if err := DecodeExpect(m, &ev); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if allocs := testing.AllocsPerRun(100, func() { _ = DecodeExpect(m, &ev) }); allocs != 0 {
			t.Errorf("message %d: %v allocations, want 0", i, allocs)
		}
	}
}

// TestHandleDatagramExpect: a datagram mixing connection and expectation
// messages delivers each kind in its slice, each expectation with its
// place among the connection events, and a bad expectation as a failure.
func TestHandleDatagramExpect(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	tcp := loadCapture(t, "tcp")
	exp := loadCapture(t, "expect")
	bad := rawMessage(typExpNew, 0, 0, []byte{2, 0, 0, 0})
	d := bytes.Join([][]byte{exp[0].raw, tcp[0].raw, exp[1].raw, bad, tcp[1].raw, exp[2].raw}, nil)
	b := &Batch{}
	if got := handleDatagram(d, false, now, b, nil); got != 6 {
		t.Errorf("received %d, want 6", got)
	}
	var at []int
	for i, x := range b.Expects {
		at = append(at, x.At)
		var want model.ExpectEvent
		if err := DecodeExpect(exp[i].raw, &want); err != nil {
			t.Fatal(err)
		}
		want.Time = now
		if diff := cmp.Diff(want, x.ExpectEvent, eventOpts); diff != "" {
			t.Errorf("expectation %d (-want +got):\n%s", i, diff)
		}
	}
	if diff := cmp.Diff([]int{0, 1, 2}, at); diff != "" {
		t.Errorf("At (-want +got):\n%s", diff)
	}
	if len(b.Events) != 2 || len(b.Failures) != 1 || !errors.Is(b.Failures[0].Err, ErrMalformed) {
		t.Errorf("%d events, failures %v; want 2 events and one ErrMalformed", len(b.Events), b.Failures)
	}
}

// FuzzDecodeExpect: DecodeExpect never panics, fails with one of its
// sentinels, and what it decodes prints as a line ParseExpectText reads
// back (given a helper name without blanks).
func FuzzDecodeExpect(f *testing.F) {
	for _, c := range loadCapture(f, "expect") {
		f.Add(c.raw)
	}
	f.Add(rawMessage(typExpNew, flagCreate, 0, sipExpect()))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var ev model.ExpectEvent
		err := DecodeExpect(msg, &ev)
		if err != nil {
			if !errors.Is(err, ErrNotConntrack) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if h := ev.Expect.Helper; ev.Expect.Fields.Has(model.ExpectFieldHelper) && (h == "" || strings.ContainsAny(h, " \t")) {
			// No kernel helper's name is so, and the line has no
			// quoting for it.
			return
		}
		line := model.AppendExpectText(nil, &ev, nil)
		if _, _, err := model.ParseExpectText(string(line)); err != nil {
			t.Fatalf("decoded event prints as %q, which does not parse: %v", line, err)
		}
	})
}
