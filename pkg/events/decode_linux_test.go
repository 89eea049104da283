package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
	"github.com/rs/zerolog"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// eventOpts compares events: netip.Addr by value.
var eventOpts = cmpopts.EquateComparable(netip.Addr{})

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The captures in testdata are raw ctnetlink event messages recorded from
// Linux 6.18 with nf_conntrack_acct=1 and nf_conntrack_timestamp=1 by
// TestEventsCapture (integration/events_capture_test.go, -events.capture).
var captures = []string{"tcp", "udp", "icmp", "ipv6", "zone_mark_labels", "dnat", "helper", "ctnetlink"}

// captured is one recorded message.
type captured struct {
	msg netlink.Message
	raw []byte
}

func loadCapture(t testing.TB, name string) []captured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".nlmsg"))
	if err != nil {
		t.Fatal(err)
	}
	var out []captured
	if err := forEachMessage(b, func(msg netlink.Message, raw []byte) bool {
		out = append(out, captured{msg, raw})
		return true
	}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

var lo = netip.MustParseAddr("127.0.0.1")

func TestDecodeCaptured(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		index int
		want  model.Event
	}{
		{
			name: "tcp SYN: new, unreplied, no timestamps on creation",
			file: "tcp", index: 0,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146179904607),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoTCP,
					Fields:  model.FieldTimeout | model.FieldState | model.FieldID,
					State:   model.TCPSynSent,
					Status:  model.StatusConfirmed,
					Timeout: 120,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 57314, DstPort: 44061},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 44061, DstPort: 57314},
					ID:      3588297139,
				},
			},
		},
		{
			name: "tcp ESTABLISHED: assured",
			file: "tcp", index: 2,
			want: model.Event{
				Type: model.EventUpdate,
				Time: ts(1795320146179965061),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoTCP,
					Fields:  model.FieldTimeout | model.FieldState | model.FieldID,
					State:   model.TCPEstablished,
					Status:  model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed,
					Timeout: 432000,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 57314, DstPort: 44061},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 44061, DstPort: 57314},
					ID:      3588297139,
				},
			},
		},
		{
			name: "tcp destroyed by a ctnetlink request: counters, start and stop, port id",
			file: "tcp", index: 6,
			want: model.Event{
				Type:   model.EventDestroy,
				Time:   ts(1795320146191853398),
				Origin: model.Origin{PortID: 3440909282},
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoTCP,
					Fields: model.FieldTimeout | model.FieldState | model.FieldOrigCounters | model.FieldReplyCounters |
						model.FieldID | model.FieldStart | model.FieldStop,
					State:   model.TCPTimeWait,
					Status:  model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed | model.StatusDying,
					Timeout: 119,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 57314, DstPort: 44061, Packets: 5, Bytes: 273},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 44061, DstPort: 57314, Packets: 3, Bytes: 164},
					ID:      3588297139,
					Start:   ts(1795320146179909426),
					Stop:    ts(1795320146191853268),
				},
			},
		},
		{
			name: "udp to a closed port: unreplied",
			file: "udp", index: 0,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146397187749),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields:  model.FieldTimeout | model.FieldID,
					Status:  model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 43791, DstPort: 694},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 694, DstPort: 43791},
					ID:      2588853080,
				},
			},
		},
		{
			name: "icmp echo",
			file: "icmp", index: 0,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146582739474),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoICMP,
					Fields:  model.FieldTimeout | model.FieldID,
					Status:  model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, ICMPType: 8, ICMPID: 8203},
					Reply:   model.Tuple{Src: lo, Dst: lo, ICMPType: 0, ICMPID: 8203},
					ID:      3070777882,
				},
			},
		},
		{
			name: "icmpv6 echo reply seen",
			file: "ipv6", index: 1,
			want: model.Event{
				Type: model.EventUpdate,
				Time: ts(1795320146826641279),
				Entry: model.Entry{
					Family: model.FamilyIPv6, Proto: model.ProtoICMPv6,
					Fields:  model.FieldTimeout | model.FieldID,
					Status:  model.StatusSeenReply | model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: netip.IPv6Loopback(), Dst: netip.IPv6Loopback(), ICMPType: 128, ICMPID: 8235},
					Reply:   model.Tuple{Src: netip.IPv6Loopback(), Dst: netip.IPv6Loopback(), ICMPType: 129, ICMPID: 8235},
					ID:      3069054520,
				},
			},
		},
		{
			name: "zone of both directions",
			file: "zone_mark_labels", index: 0,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146999226576),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields:  model.FieldTimeout | model.FieldID | model.FieldZone,
					Status:  model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 42572, DstPort: 5555},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 5555, DstPort: 42572},
					Zone:    7,
					ID:      1158741938,
				},
			},
		},
		{
			name: "zone of the original direction only",
			file: "zone_mark_labels", index: 1,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146999347355),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields:  model.FieldTimeout | model.FieldID | model.FieldOrigZone,
					Status:  model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 42572, DstPort: 5556, Zone: 9},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 5556, DstPort: 42572},
					ID:      2687577392,
				},
			},
		},
		{
			name: "mark",
			file: "zone_mark_labels", index: 2,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146999395185),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields:  model.FieldTimeout | model.FieldID | model.FieldMark,
					Status:  model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 42572, DstPort: 5557},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 5557, DstPort: 42572},
					Mark:    42,
					ID:      3004895491,
				},
			},
		},
		{
			name: "labels as bit numbers",
			file: "zone_mark_labels", index: 3,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320146999458806),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields:  model.FieldTimeout | model.FieldID | model.FieldLabels,
					Status:  model.StatusConfirmed,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 42572, DstPort: 5560},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 5560, DstPort: 42572},
					ID:      695227318,
					Labels:  []string{"3", "100"},
				},
			},
		},
		{
			name: "dnat: reply tuple rewritten",
			file: "dnat", index: 1,
			want: model.Event{
				Type: model.EventUpdate,
				Time: ts(1795320147195459173),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields: model.FieldTimeout | model.FieldID,
					Status: model.StatusSeenReply | model.StatusConfirmed | model.StatusDstNAT |
						model.StatusSrcNATDone | model.StatusDstNATDone,
					Timeout: 30,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 37048, DstPort: 5558},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 5559, DstPort: 37048},
					ID:      3789387912,
				},
			},
		},
		{
			name: "helper",
			file: "helper", index: 0,
			want: model.Event{
				Type: model.EventNew,
				Time: ts(1795320147389820088),
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoTCP,
					Fields:  model.FieldTimeout | model.FieldState | model.FieldID | model.FieldHelper,
					State:   model.TCPSynSent,
					Status:  model.StatusConfirmed | model.StatusHelper,
					Timeout: 120,
					Orig:    model.Tuple{Src: lo, Dst: lo, SrcPort: 37990, DstPort: 2121},
					Reply:   model.Tuple{Src: lo, Dst: lo, SrcPort: 2121, DstPort: 37990},
					ID:      3702058380,
					Helper:  "ftp",
				},
			},
		},
		{
			name: "created through ctnetlink: a zero mark is sent, port id set",
			file: "ctnetlink", index: 0,
			want: model.Event{
				Type:   model.EventNew,
				Time:   ts(1795320147512099727),
				Origin: model.Origin{PortID: 3891935553},
				Entry: model.Entry{
					Family: model.FamilyIPv4, Proto: model.ProtoUDP,
					Fields:  model.FieldTimeout | model.FieldID | model.FieldMark | model.FieldZone,
					Status:  model.StatusConfirmed,
					Timeout: 60,
					Orig:    model.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 4000, DstPort: 53},
					Reply:   model.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 53, DstPort: 4000},
					Zone:    3,
					ID:      2609845767,
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := loadCapture(t, tt.file)
			var got model.Event
			if err := decodeTiMo(msgs[tt.index].msg, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, eventOpts); diff != "" {
				t.Errorf("Decode %s[%d] (-want +got):\n%s", tt.file, tt.index, diff)
			}
			var fast model.Event
			if err := DecodeFast(msgs[tt.index].raw, &fast); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fast, eventOpts); diff != "" {
				t.Errorf("DecodeFast %s[%d] (-want +got):\n%s", tt.file, tt.index, diff)
			}
		})
	}
}

// TestDecodeGolden decodes every captured message with both decoders,
// requires the same event of each, and compares the JSON records with
// testdata/NAME.golden (rewritten by -update).
func TestDecodeGolden(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			var ref, fast bytes.Buffer
			refRec, fastRec := record.New(record.Config{Run: "run-1", Host: "host-1", Log: zerolog.New(&ref)}), record.New(record.Config{Run: "run-1", Host: "host-1", Log: zerolog.New(&fast)})
			// Both events are reused, as the reader reuses its batches'.
			var refEv, fastEv model.Event
			for i, c := range loadCapture(t, name) {
				if err := decodeTiMo(c.msg, &refEv); err != nil {
					t.Fatalf("Decode message %d: %v", i, err)
				}
				if err := DecodeFast(c.raw, &fastEv); err != nil {
					t.Fatalf("DecodeFast message %d: %v", i, err)
				}
				if diff := cmp.Diff(refEv, fastEv, eventOpts); diff != "" {
					t.Errorf("message %d (-Decode +DecodeFast):\n%s", i, diff)
				}
				refRec.Event(&refEv)
				fastRec.Event(&fastEv)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, ref.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), ref.String()); diff != "" {
				t.Errorf("Decode: %s (-want +got):\n%s", path, diff)
			}
			if diff := cmp.Diff(string(want), fast.String()); diff != "" {
				t.Errorf("DecodeFast: %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// withoutAttrs returns a copy of msg without its top-level attributes of
// the given types.
func withoutAttrs(msg netlink.Message, types ...ctnl.AttrType) netlink.Message {
	data := append([]byte(nil), msg.Data[:ctnl.NFGenMsgLen]...)
	it := attrs{b: msg.Data[ctnl.NFGenMsgLen:]}
	for it.next() {
		drop := false
		for _, t := range types {
			drop = drop || it.typ == t
		}
		if drop {
			continue
		}
		hdr := make([]byte, 4)
		binary.NativeEndian.PutUint16(hdr, uint16(4+len(it.data)))
		binary.NativeEndian.PutUint16(hdr[2:], uint16(it.typ)|nestedFlag(it.typ))
		data = append(data, hdr...)
		data = append(data, it.data...)
		for len(data)%4 != 0 {
			data = append(data, 0)
		}
	}
	msg.Data = data
	msg.Header.Length = uint32(ctnl.NLMsgHdrLen + len(data))
	return msg
}

// nestedFlag restores NLA_F_NESTED, which the iterator strips, for the
// nests ti-mo insists on.
func nestedFlag(typ ctnl.AttrType) uint16 {
	switch typ {
	case ctnl.CTATupleOrig, ctnl.CTATupleReply, ctnl.CTAProtoinfo, ctnl.CTAHelp, ctnl.CTACountersOrig, ctnl.CTACountersReply, ctnl.CTASecctx, ctnl.CTATimestamp:
		return netlink.Nested
	}
	return 0
}

func TestDecodePresence(t *testing.T) {
	destroy := loadCapture(t, "tcp")[6].msg
	tests := []struct {
		name     string
		drop     []ctnl.AttrType
		wantGone model.Field
		wantTime bool
	}{
		{name: "all", wantTime: true},
		{name: "no timeout", drop: []ctnl.AttrType{ctnl.CTATimeout}, wantGone: model.FieldTimeout, wantTime: true},
		{name: "no counters", drop: []ctnl.AttrType{ctnl.CTACountersOrig, ctnl.CTACountersReply}, wantGone: model.FieldOrigCounters | model.FieldReplyCounters, wantTime: true},
		{name: "no timestamps", drop: []ctnl.AttrType{ctnl.CTATimestamp}, wantGone: model.FieldStart | model.FieldStop, wantTime: true},
		{name: "no protoinfo", drop: []ctnl.AttrType{ctnl.CTAProtoinfo}, wantGone: model.FieldState, wantTime: true},
		{name: "no event time", drop: []ctnl.AttrType{ctnl.CTATimestampEvent}},
	}
	var full model.Event
	if err := decodeTiMo(destroy, &full); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got model.Event
			if err := decodeTiMo(withoutAttrs(destroy, tt.drop...), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(full.Entry.Fields&^tt.wantGone, got.Entry.Fields); diff != "" {
				t.Errorf("Fields (-want +got):\n%s", diff)
			}
			if got.Time.IsZero() == tt.wantTime {
				t.Errorf("Time = %v, want set: %v", got.Time, tt.wantTime)
			}
		})
	}
}

func TestDecodeReusesEvent(t *testing.T) {
	labelled := loadCapture(t, "zone_mark_labels")[3].msg
	plain := loadCapture(t, "tcp")[6].msg
	var ev model.Event
	if err := decodeTiMo(labelled, &ev); err != nil {
		t.Fatal(err)
	}
	backing := &ev.Entry.Labels[:1][0]
	if err := decodeTiMo(plain, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Entry.Fields.Has(model.FieldLabels) || len(ev.Entry.Labels) != 0 {
		t.Errorf("labels of the previous event kept: %q (fields %b)", ev.Entry.Labels, ev.Entry.Fields)
	}
	if err := decodeTiMo(labelled, &ev); err != nil {
		t.Fatal(err)
	}
	if &ev.Entry.Labels[0] != backing {
		t.Error("Labels' backing array was not reused")
	}
	if diff := cmp.Diff([]string{"3", "100"}, ev.Entry.Labels); diff != "" {
		t.Errorf("Labels (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := loadCapture(t, "tcp")[0].msg
	with := func(f func(m *netlink.Message)) netlink.Message {
		m := good
		m.Data = append([]byte(nil), good.Data...)
		f(&m)
		return m
	}
	tests := []struct {
		name string
		msg  netlink.Message
		want error
	}{
		{"expectation subsystem", with(func(m *netlink.Message) { m.Header.Type = 2 << 8 }), ErrNotConntrack},
		{"get request", with(func(m *netlink.Message) {
			m.Header.Type = netlink.HeaderType(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtGet))
		}), ErrNotConntrack},
		{"netlink error", with(func(m *netlink.Message) { m.Header.Type = netlink.Error }), ErrNotConntrack},
		{"no nfgenmsg", with(func(m *netlink.Message) { m.Data = m.Data[:2] }), ErrTruncated},
		{"attribute longer than message", with(func(m *netlink.Message) {
			binary.NativeEndian.PutUint16(m.Data[ctnl.NFGenMsgLen:], 0xfff0)
		}), ErrMalformed},
		{"tuple without children", with(func(m *netlink.Message) {
			m.Data = append(m.Data[:ctnl.NFGenMsgLen:ctnl.NFGenMsgLen], 4, 0, byte(ctnl.CTATupleOrig), byte(netlink.Nested>>8))
		}), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev model.Event
			err := decodeTiMo(tt.msg, &ev)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFromFlow(t *testing.T) {
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	f := conntrack.NewFlow(6, conntrack.StatusConfirmed|conntrack.StatusAssured, src, dst, 1234, 80, 300, 9)
	f.ID, f.Use, f.Zone = 77, 1, 4
	f.TupleReply.Zone = 5
	f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: uint8(model.TCPEstablished)}
	f.CountersOrig = conntrack.Counter{Packets: 2, Bytes: 120}
	f.Helper.Name = "ftp"
	f.SecurityContext = "system_u:object_r:unlabeled_t:s0\x00"
	f.Timestamp.Start = time.Unix(100, 5)
	f.Labels = []byte{0x01, 0, 0, 0x80}
	want := model.Entry{
		Family: model.FamilyIPv4, Proto: model.ProtoTCP,
		Fields: model.FieldTimeout | model.FieldState | model.FieldOrigCounters | model.FieldReplyZone |
			model.FieldMark | model.FieldSecctx | model.FieldZone | model.FieldUse | model.FieldID |
			model.FieldHelper | model.FieldLabels | model.FieldStart,
		State:   model.TCPEstablished,
		Status:  model.StatusConfirmed | model.StatusAssured,
		Timeout: 300,
		Orig:    model.Tuple{Src: src, Dst: dst, SrcPort: 1234, DstPort: 80, Packets: 2, Bytes: 120},
		Reply:   model.Tuple{Src: dst, Dst: src, SrcPort: 80, DstPort: 1234, Zone: 5},
		Mark:    9, Zone: 4, Use: 1, ID: 77,
		Secctx: "system_u:object_r:unlabeled_t:s0",
		Helper: "ftp",
		Labels: []string{"0", "31"},
		Start:  time.Unix(100, 5).UTC(),
	}
	if diff := cmp.Diff(want, fromFlowLabels(&f), eventOpts); diff != "" {
		t.Errorf("FromFlow (-want +got):\n%s", diff)
	}

	// Zero values cannot be told from absent ones: no presence bits.
	var empty conntrack.Flow
	if got := fromFlowLabels(&empty); got.Fields != 0 {
		t.Errorf("fromFlowLabels(zero flow).Fields = %b, want none", got.Fields)
	}
}

func TestForEachMessage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tcp.nlmsg"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := forEachMessage(b, func(netlink.Message, []byte) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("%d messages, want 7", n)
	}
	n = 0
	if err := forEachMessage(b, func(netlink.Message, []byte) bool { n++; return false }); err != nil || n != 1 {
		t.Errorf("stopping early: %d messages, err %v; want 1, nil", n, err)
	}
	for _, cut := range []int{3, 17, len(b) - 5} {
		if err := forEachMessage(b[:cut], func(netlink.Message, []byte) bool { return true }); !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: err = %v, want ErrTruncated", cut, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range captures {
		for _, c := range loadCapture(f, name) {
			f.Add(uint16(c.msg.Header.Type), uint16(c.msg.Header.Flags), c.msg.Header.PID, c.msg.Data)
		}
	}
	var ev model.Event
	f.Fuzz(func(t *testing.T, typ, flags uint16, pid uint32, data []byte) {
		msg := netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.HeaderFlags(flags), PID: pid},
			Data:   data,
		}
		// ev is reused on purpose: decoding over an old event must not
		// leak its values.
		if err := decodeTiMo(msg, &ev); err != nil {
			return
		}
		switch ev.Type {
		case model.EventNew, model.EventUpdate, model.EventDestroy:
		default:
			t.Errorf("decoded type %v", ev.Type)
		}
		if ev.Origin.PortID != pid {
			t.Errorf("port id %d, want %d", ev.Origin.PortID, pid)
		}
		if len(ev.Entry.Labels) > 0 && !ev.Entry.Fields.Has(model.FieldLabels) {
			t.Errorf("labels %q without FieldLabels", ev.Entry.Labels)
		}
		// Whatever decodes must print.
		_ = model.AppendText(nil, &ev, &model.TextOptions{Layer3: true, ID: true, KTimestamp: true, Timestamp: true})
	})
}

func FuzzForEachMessage(f *testing.F) {
	for _, name := range captures {
		b, err := os.ReadFile(filepath.Join("testdata", name+".nlmsg"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		_ = forEachMessage(b, func(msg netlink.Message, raw []byte) bool {
			if int(msg.Header.Length) != len(raw) || len(msg.Data) != len(raw)-ctnl.NLMsgHdrLen {
				t.Fatalf("length %d, raw %d, data %d", msg.Header.Length, len(raw), len(msg.Data))
			}
			total += len(raw)
			return true
		})
		if total > len(b) {
			t.Fatalf("messages cover %d of %d bytes", total, len(b))
		}
	})
}
