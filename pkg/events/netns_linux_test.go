package events

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// cmsg is one control message as the kernel's put_cmsg writes it on this
// host: cmsg_len (CMSG_LEN: header and data), level, type, the data at
// CMSG_ALIGN(sizeof(struct cmsghdr)), and, with pad, the tail padding to
// CMSG_SPACE that the kernel leaves out when the buffer ends first.
func cmsg(level, typ int32, data []byte, pad bool) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	if cmsgLenSize == 8 {
		binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(len(data))))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(unix.CmsgLen(len(data))))
	}
	binary.NativeEndian.PutUint32(b[cmsgLenSize:], uint32(level))
	binary.NativeEndian.PutUint32(b[cmsgLenSize+4:], uint32(typ))
	copy(b[cmsgDataOff:], data)
	if !pad {
		b = b[:unix.CmsgLen(len(data))]
	}
	return b
}

// nsidCmsg is the NETLINK_LISTEN_ALL_NSID control message of nsid.
func nsidCmsg(nsid int32, pad bool) []byte {
	return cmsg(unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, binary.NativeEndian.AppendUint32(nil, uint32(nsid)), pad)
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseNetNS(t *testing.T) {
	// struct ucred, as SCM_CREDENTIALS carries it: a control message of
	// another kind, before or after the nsid's.
	creds := cmsg(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, make([]byte, 12), true)
	tests := []struct {
		name string
		ctrl []byte
		want model.NetNS
		err  error
	}{
		{name: "none: own namespace", ctrl: nil, want: model.NetNS{}},
		{name: "nsid 0", ctrl: nsidCmsg(0, true), want: model.PeerNetNS(0)},
		{name: "nsid 7", ctrl: nsidCmsg(7, true), want: model.PeerNetNS(7)},
		{name: "largest nsid", ctrl: nsidCmsg(1<<31-1, true), want: model.PeerNetNS(1<<31 - 1)},
		{name: "without tail padding", ctrl: nsidCmsg(3, false), want: model.PeerNetNS(3)},
		{name: "after another", ctrl: cat(creds, nsidCmsg(5, false)), want: model.PeerNetNS(5)},
		{name: "before another", ctrl: cat(nsidCmsg(5, true), creds), want: model.PeerNetNS(5)},
		{name: "another only", ctrl: creds, want: model.NetNS{}},
		{name: "nsid type at another level", ctrl: cmsg(unix.SOL_SOCKET, unix.NETLINK_LISTEN_ALL_NSID, make([]byte, 4), true), want: model.NetNS{}},
		{name: "header only, of another", ctrl: cmsg(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, nil, true), want: model.NetNS{}},

		{name: "nsid of 8 bytes", ctrl: cmsg(unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, make([]byte, 8), true), err: ErrMalformed},
		{name: "nsid of 2 bytes", ctrl: cmsg(unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, make([]byte, 2), false), err: ErrMalformed},
		{name: "two nsids", ctrl: cat(nsidCmsg(1, true), nsidCmsg(2, true)), err: ErrMalformed},
		{name: "negative nsid", ctrl: nsidCmsg(-1, true), err: ErrMalformed},
		{name: "cut header", ctrl: nsidCmsg(1, true)[:unix.SizeofCmsghdr-1], err: ErrMalformed},
		{name: "trailing bytes", ctrl: cat(nsidCmsg(1, true), []byte{1, 2, 3}), err: ErrMalformed},
		{name: "length past the buffer", ctrl: nsidCmsg(1, false)[:unix.CmsgLen(4)-1], err: ErrMalformed},
		{name: "length 0", ctrl: make([]byte, unix.CmsgSpace(4)), err: ErrMalformed},
		{name: "length shorter than the header", ctrl: func() []byte {
			b := nsidCmsg(1, true)
			b[0] = byte(unix.SizeofCmsghdr - 1)
			return b
		}(), err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetNS(tt.ctrl)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parseNetNS(%x) error %v, want %v", tt.ctrl, err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseNetNS(%x) (-want +got):\n%s", tt.ctrl, diff)
			}
		})
	}
}

// TestParseNetNSBytes parses control messages written out byte by byte as
// Linux writes them on a 64-bit little-endian host (amd64, arm64):
// cmsg_len of 8 bytes, SOL_NETLINK 270, NETLINK_LISTEN_ALL_NSID 8, the int
// at offset 16, padded to 24. TestEventsAllNetNSControlBytes (-tags
// integration) holds the kernel to the first layout.
func TestParseNetNSBytes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 || binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the layouts are those of a 64-bit little-endian host")
	}
	tests := []struct {
		name string
		hex  string
		want model.NetNS
		err  error
	}{{
		name: "nsid 2, padded",
		hex:  "1400000000000000 0e010000 08000000 02000000 00000000",
		want: model.PeerNetNS(2),
	}, {
		name: "nsid 258, the buffer's end",
		hex:  "1400000000000000 0e010000 08000000 02010000",
		want: model.PeerNetNS(258),
	}, {
		name: "SCM_CREDENTIALS (pid 1, uid 0, gid 0), then nsid 0",
		hex: "1c00000000000000 01000000 02000000 01000000 00000000 00000000 00000000" +
			"1400000000000000 0e010000 08000000 00000000 00000000",
		want: model.PeerNetNS(0),
	}, {
		name: "nsid with cmsg_len 24, a data of 8 bytes",
		hex:  "1800000000000000 0e010000 08000000 02000000 00000000",
		err:  ErrMalformed,
	}, {
		name: "nsid -1 (NETNSA_NSID_NOT_ASSIGNED)",
		hex:  "1400000000000000 0e010000 08000000 ffffffff 00000000",
		err:  ErrMalformed,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctrl, err := hex.DecodeString(strings.ReplaceAll(tt.hex, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseNetNS(ctrl)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseNetNS holds parseNetNS to never panicking and never reading
// past its buffer (it gets one with no spare capacity), and to agreeing
// with x/sys's parser: what parseNetNS accepts, x/sys parses too, and the
// nsid is the data of the one NETLINK_LISTEN_ALL_NSID message among them.
func FuzzParseNetNS(f *testing.F) {
	creds := cmsg(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, make([]byte, 12), true)
	for _, seed := range [][]byte{
		nil, nsidCmsg(0, true), nsidCmsg(9, false), cat(creds, nsidCmsg(4, true)), creds,
		cat(nsidCmsg(1, true), nsidCmsg(2, true)), nsidCmsg(-1, true), nsidCmsg(1, true)[:5],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ctrl []byte) {
		ctrl = ctrl[:len(ctrl):len(ctrl)]
		got, err := parseNetNS(ctrl)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if got != (model.NetNS{}) {
				t.Fatalf("%+v with error %v", got, err)
			}
			return
		}
		msgs, xerr := unix.ParseSocketControlMessage(ctrl)
		if xerr != nil {
			t.Fatalf("parseNetNS accepts %x, x/sys: %v", ctrl, xerr)
		}
		var want model.NetNS
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_NETLINK && m.Header.Type == unix.NETLINK_LISTEN_ALL_NSID {
				if want.Peer || len(m.Data) != 4 {
					t.Fatalf("parseNetNS accepts %x: a second nsid, or one of %d bytes", ctrl, len(m.Data))
				}
				want = model.PeerNetNS(int32(binary.NativeEndian.Uint32(m.Data)))
			}
		}
		if got != want {
			t.Fatalf("parseNetNS(%x) = %+v, x/sys's messages say %+v", ctrl, got, want)
		}
		if got.Peer && got.NSID < 0 || !got.Peer && got.NSID != 0 {
			t.Fatalf("parseNetNS(%x) = %+v", ctrl, got)
		}
	})
}

// TestHandlePeerDatagram reads datagrams with their control messages into
// one batch: a peer's event carries its nsid, a local one none, also in a
// slot that held a peer's event before; a datagram whose control messages
// are malformed or cut is one failure, with no event.
func TestHandlePeerDatagram(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	tcp := loadCapture(t, "tcp")
	b := &Batch{}
	received := handlePeerDatagram(tcp[0].raw, false, nsidCmsg(4, true), false, now, b, nil) +
		handlePeerDatagram(tcp[1].raw, false, nil, false, now, b, nil) +
		handlePeerDatagram(tcp[2].raw, false, nsidCmsg(4, true)[:10], false, now, b, nil) +
		handlePeerDatagram(tcp[3].raw, false, nsidCmsg(5, true), true, now, b, nil)
	if received != 4 {
		t.Errorf("received %d, want 4", received)
	}
	want := make([]model.Event, 2)
	for i, m := range [][]byte{tcp[0].raw, tcp[1].raw} {
		if err := DecodeFast(m, &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	want[0].NetNS = model.PeerNetNS(4)
	if diff := cmp.Diff(want, b.Events, eventOpts); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if len(b.Failures) != 2 {
		t.Fatalf("%d failures, want 2: %v", len(b.Failures), b.Failures)
	}
	for i, f := range []struct {
		raw []byte
		err error
	}{{tcp[2].raw, ErrMalformed}, {tcp[3].raw, ErrTruncated}} {
		if !errors.Is(b.Failures[i].Err, f.err) {
			t.Errorf("failure %d: %v, want %v", i, b.Failures[i].Err, f.err)
		}
		if diff := cmp.Diff(f.raw, b.Failures[i].Raw); diff != "" {
			t.Errorf("failure %d's bytes (-want +got):\n%s", i, diff)
		}
	}

	// The slots are reused: a local event in the peer's slot is local.
	b.Events, b.Failures = b.Events[:0], b.Failures[:0]
	handlePeerDatagram(tcp[0].raw, false, nil, false, now, b, nil)
	if len(b.Events) != 1 || !b.Events[0].NetNS.Local() {
		t.Errorf("local event in a reused slot: %+v, want one local event", b.Events)
	}
}

// TestHandlePeerDatagramAllocs holds the reader of every namespace to no
// allocation per event, as TestHandleDatagramAllocs the reader of one.
func TestHandlePeerDatagramAllocs(t *testing.T) {
	var msgs [][]byte
	for _, name := range captures {
		for _, c := range loadCapture(t, name) {
			msgs = append(msgs, c.raw)
		}
	}
	ctrl := cat(cmsg(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, make([]byte, 12), true), nsidCmsg(3, true))
	b := &Batch{Events: make([]model.Event, 0, len(msgs))}
	now := time.Now()
	run := func() {
		b.Events = b.Events[:0]
		for i, m := range msgs {
			c := ctrl
			if i%2 == 0 {
				c = nil
			}
			handlePeerDatagram(m, false, c, false, now, b, nil)
		}
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Errorf("%v allocations for %d datagrams, want 0", allocs, len(msgs))
	}
	if len(b.Failures) != 0 {
		t.Fatalf("failures: %v", b.Failures)
	}
	for i, ev := range b.Events {
		if want := i%2 == 1; ev.NetNS.Peer != want || ev.NetNS.Peer && ev.NetNS.NSID != 3 {
			t.Fatalf("event %d in namespace %+v, want peer %v with nsid 3", i, ev.NetNS, want)
		}
	}
}

// BenchmarkHandlePeerDatagram is BenchmarkHandleDatagram for a socket that
// listens to every namespace: each datagram's nsid is parsed and stamped
// on its event.
func BenchmarkHandlePeerDatagram(b *testing.B) {
	ctrl := nsidCmsg(3, true)
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			raw := loadCapture(b, bm.file)[bm.index].raw
			batch := &Batch{Events: make([]model.Event, 0, DefaultBatchSize)}
			var now time.Time
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if len(batch.Events) == DefaultBatchSize {
					batch.Events = batch.Events[:0]
				}
				if i%recvSlots == 0 {
					now = time.Now()
				}
				handlePeerDatagram(raw, false, ctrl, false, now, batch, nil)
			}
			if len(batch.Failures) != 0 {
				b.Fatal(batch.Failures[0].Err)
			}
		})
	}
}

// TestReceiveControlMessages reads, through Receive with control slots,
// datagrams of a socket pair that passes credentials (SO_PASSCRED): every
// datagram comes with an SCM_CREDENTIALS control message, written by the
// kernel, which the reader skips; its events are local. Slots too small
// for the credentials cut them (MSG_CTRUNC), and the datagrams fail.
func TestReceiveControlMessages(t *testing.T) {
	tcp := loadCapture(t, "tcp")
	for _, tt := range []struct {
		name             string
		ctrlSize         int
		events, failures int
	}{
		{"room", recvControlSize, 3, 0},
		{"cut", unix.SizeofCmsghdr, 0, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, w := socketSubscriberCtrl(t, 8, tt.ctrlSize)
			if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
				t.Fatal(err)
			}
			for _, c := range tcp[:3] {
				if err := unix.Send(w, c.raw, 0); err != nil {
					t.Fatal(err)
				}
			}
			b := NewBatch()
			if err := s.Receive(b, true); err != nil {
				t.Fatal(err)
			}
			if len(b.Events) != tt.events || len(b.Failures) != tt.failures {
				t.Fatalf("%d events, %d failures (%v); want %d, %d", len(b.Events), len(b.Failures), b.Failures, tt.events, tt.failures)
			}
			for i, ev := range b.Events {
				if !ev.NetNS.Local() {
					t.Errorf("event %d in namespace %+v, want local", i, ev.NetNS)
				}
			}
			for i, f := range b.Failures {
				if !errors.Is(f.Err, ErrTruncated) {
					t.Errorf("failure %d: %v, want ErrTruncated", i, f.Err)
				}
			}
			if ctrl, ctrunc := s.mmsg.control(0); tt.failures == 0 && (ctrunc || len(ctrl) != unix.CmsgSpace(12)) {
				t.Errorf("control of %d bytes (cut: %v), want the %d of SCM_CREDENTIALS", len(ctrl), ctrunc, unix.CmsgSpace(12))
			}
			if got := s.received.Load(); got != 3 {
				t.Errorf("received %d, want 3", got)
			}
		})
	}
}

// TestReceiveControlAllocs is TestReceiveAllocs with control slots, which
// Receive offers again on every call.
func TestReceiveControlAllocs(t *testing.T) {
	s, w := socketSubscriberCtrl(t, DefaultBatchSize, recvControlSize)
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	msg := loadCapture(t, "tcp")[2].raw
	b := NewBatch()
	allocs := testing.AllocsPerRun(100, func() {
		if err := unix.Send(w, msg, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Receive(b, true); err != nil || len(b.Events) != 1 {
			t.Fatalf("Receive: %d events, %d failures, %v", len(b.Events), len(b.Failures), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read of one event, want 0", allocs)
	}
}
