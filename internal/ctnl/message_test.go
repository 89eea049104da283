package ctnl

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawMsg is a netlink message of type t and the given payload, padded.
func rawMsg(t HeaderType, f Flags, seq uint32, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(NLMsgHdrLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, uint16(t))
	b = binary.NativeEndian.AppendUint16(b, uint16(f))
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 42)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestNextMessage(t *testing.T) {
	one := rawMsg(NLMsgDone, NLMFMulti, 1, []byte{1, 2, 3}) // 19 bytes, padded to 20
	two := rawMsg(NLMsgNoop, 0, 2, nil)
	tests := []struct {
		name    string
		in      []byte
		want    []Header
		wantErr error
	}{
		{name: "empty"},
		{
			name: "two messages",
			in:   append(append([]byte(nil), one...), two...),
			want: []Header{{Len: 19, Type: NLMsgDone, Flags: NLMFMulti, Seq: 1, PortID: 42}, {Len: 16, Type: NLMsgNoop, Seq: 2, PortID: 42}},
		},
		{
			name: "last message without its padding",
			in:   one[:19],
			want: []Header{{Len: 19, Type: NLMsgDone, Flags: NLMFMulti, Seq: 1, PortID: 42}},
		},
		{name: "short header", in: one[:15], wantErr: ErrTruncated},
		{name: "length past the bytes", in: one[:18], wantErr: ErrTruncated},
		{
			name:    "length below the header",
			in:      append(binary.NativeEndian.AppendUint32(nil, 15), make([]byte, 12)...),
			wantErr: ErrTruncated,
		},
		{
			name:    "trailing bytes after a message",
			in:      append(append([]byte(nil), two...), 1, 2, 3),
			want:    []Header{{Len: 16, Type: NLMsgNoop, Seq: 2, PortID: 42}},
			wantErr: ErrTruncated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Header
			var err error
			for b := tt.in; len(b) > 0; {
				var msg []byte
				if msg, b, err = NextMessage(b); err != nil {
					break
				}
				if len(msg) != cap(msg) {
					t.Errorf("message of %d bytes has capacity %d: appending to it would overwrite the next", len(msg), cap(msg))
				}
				got = append(got, ParseHeader(msg))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    int32
		wantErr error
	}{
		{name: "ack", payload: binary.NativeEndian.AppendUint32(nil, 0)},
		{name: "errno", payload: binary.NativeEndian.AppendUint32(nil, 0xffffffff), want: -1},
		{name: "short", payload: []byte{1, 2, 3}, wantErr: ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ErrorCode(tt.payload)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ErrorCode = %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNFNLType(t *testing.T) {
	ht := NFNLType(NFNLSubsysCTNetlink, IPCTNLMsgCtGetStats)
	if ht != 0x105 || ht.Subsys() != NFNLSubsysCTNetlink || ht.Msg() != IPCTNLMsgCtGetStats {
		t.Errorf("NFNLType = %#x (subsystem %d, message %d), want 0x105", uint16(ht), ht.Subsys(), ht.Msg())
	}
}

func TestWalkAllocs(t *testing.T) {
	b := rawMsg(NFNLType(NFNLSubsysCTNetlink, IPCTNLMsgCtNew), 0, 1, AppendU32(AppendU16(nil, 1, 2), 3, 4))
	walked := 0
	n := testing.AllocsPerRun(100, func() {
		msg, _, err := NextMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		for a := Payload(msg); len(a) > 0; {
			_, _, rest, ok := NextAttr(a)
			if !ok {
				t.Fatal(AttrError(a))
			}
			a = rest
			walked++
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per walk, want 0", n)
	}
	if walked == 0 {
		t.Error("no attribute walked")
	}
}

// FuzzNextMessage checks that splitting never reads past its input, makes
// progress, and returns messages that cover their own length.
func FuzzNextMessage(f *testing.F) {
	f.Add(rawMsg(NLMsgError, 0, 1, make([]byte, 20)))
	f.Add(append(rawMsg(NLMsgDone, NLMFMulti, 1, []byte{0, 0, 0, 0}), 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			msg, rest, err := NextMessage(b)
			if err != nil {
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("error %v is not ErrTruncated", err)
				}
				return
			}
			if h := ParseHeader(msg); int(h.Len) != len(msg) || len(msg) < NLMsgHdrLen {
				t.Fatalf("message of %d bytes, header says %d", len(msg), h.Len)
			}
			if len(rest) >= len(b) {
				t.Fatalf("no progress: %d bytes left of %d", len(rest), len(b))
			}
			b = rest
		}
	})
}
