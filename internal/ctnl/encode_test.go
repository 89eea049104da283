package ctnl

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// node is an attribute as a walk finds it: leaves keep their payload, nests
// their children.
type node struct {
	Type AttrType // flags included
	Data []byte
	Kids []node
}

// walk decodes b's attributes with NextAttr, descending into those flagged
// NLA_F_NESTED.
func walk(b []byte) ([]node, error) {
	var out []node
	for len(b) > 0 {
		typ, data, rest, ok := NextAttr(b)
		if !ok {
			return out, AttrError(b)
		}
		b = rest
		n := node{Type: typ}
		if typ.Nested() {
			kids, err := walk(data)
			if err != nil {
				return out, err
			}
			n.Kids = kids
		} else {
			n.Data = data
		}
		out = append(out, n)
	}
	return out, nil
}

func TestEncodeWalk(t *testing.T) {
	b, msgAt := AppendMessage(nil, NFNLType(NFNLSubsysCTNetlink, IPCTNLMsgCtNew), NLMFRequest|NLMFCreate, 9, 2)
	b, tup := BeginNest(b, CTATupleOrig)
	b, ip := BeginNest(b, CTATupleIP)
	b = AppendAttr(b, CTAIPV4Src, []byte{10, 0, 0, 1})
	b = AppendAttr(b, CTAIPV4Dst, []byte{10, 0, 0, 2})
	b = EndNest(b, ip)
	b, proto := BeginNest(b, CTATupleProto)
	b = AppendU8(b, CTAProtoNum, 17)
	b = AppendU16(b, CTAProtoSrcPort, 1025)
	b = EndNest(b, proto)
	b = EndNest(b, tup)
	b = AppendU32(b, CTAMark, 0xdeadbeef)
	b = AppendU64(b, CTATimestampEvent, 1<<40)
	b = AppendAttr(b, CTALabels, []byte{1, 2, 3}) // padded to 4
	b = EndMessage(b, msgAt)

	msg, rest, err := NextMessage(b)
	if err != nil || rest != nil {
		t.Fatalf("NextMessage: rest %d bytes, %v", len(rest), err)
	}
	if diff := cmp.Diff(Header{Len: uint32(len(b)), Type: 0x100, Flags: NLMFRequest | NLMFCreate, Seq: 9}, ParseHeader(msg)); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	p := Payload(msg)
	if diff := cmp.Diff([]byte{2, NFNetlinkV0, 0, 0}, p[:NFGenMsgLen]); diff != "" {
		t.Errorf("nfgenmsg (-want +got):\n%s", diff)
	}
	got, err := walk(p[NFGenMsgLen:])
	if err != nil {
		t.Fatal(err)
	}
	want := []node{
		{Type: CTATupleOrig | NLAFNested, Kids: []node{
			{Type: CTATupleIP | NLAFNested, Kids: []node{
				{Type: CTAIPV4Src, Data: []byte{10, 0, 0, 1}},
				{Type: CTAIPV4Dst, Data: []byte{10, 0, 0, 2}},
			}},
			{Type: CTATupleProto | NLAFNested, Kids: []node{
				{Type: CTAProtoNum, Data: []byte{17}},
				{Type: CTAProtoSrcPort, Data: []byte{0x04, 0x01}},
			}},
		}},
		{Type: CTAMark, Data: []byte{0xde, 0xad, 0xbe, 0xef}},
		{Type: CTATimestampEvent, Data: []byte{0, 0, 1, 0, 0, 0, 0, 0}},
		{Type: CTALabels, Data: []byte{1, 2, 3}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	if len(b)%4 != 0 {
		t.Errorf("message of %d bytes is not padded", len(b))
	}
}

func TestNextAttr(t *testing.T) {
	attr := func(l, typ uint16, rest ...byte) []byte {
		b := binary.NativeEndian.AppendUint16(nil, l)
		return append(binary.NativeEndian.AppendUint16(b, typ), rest...)
	}
	tests := []struct {
		name     string
		in       []byte
		wantType AttrType
		wantData []byte
		wantRest []byte
		wantOK   bool
	}{
		{name: "empty", in: nil},
		{name: "short header", in: []byte{4, 0, 1}},
		{name: "length below the header", in: attr(3, 1, 0)},
		{name: "length past the bytes", in: attr(9, 1, 1, 2, 3, 4)},
		{name: "empty payload", in: attr(4, 5), wantType: 5, wantData: []byte{}, wantOK: true},
		{name: "flags kept", in: attr(4, 0x8005), wantType: 5 | NLAFNested, wantData: []byte{}, wantOK: true},
		{name: "padding skipped", in: attr(5, 1, 7, 0, 0, 0, 8, 0, 2, 0), wantType: 1, wantData: []byte{7}, wantRest: attr(8, 2), wantOK: true},
		{name: "last without its padding", in: attr(5, 1, 7), wantType: 1, wantData: []byte{7}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, data, rest, ok := NextAttr(tt.in)
			if diff := cmp.Diff([]any{tt.wantType, tt.wantData, tt.wantRest, tt.wantOK}, []any{typ, data, rest, ok}); diff != "" {
				t.Errorf("NextAttr (-want +got):\n%s", diff)
			}
			if !ok {
				if err := AttrError(tt.in); !errors.Is(err, ErrTruncated) {
					t.Errorf("AttrError = %v, want ErrTruncated", err)
				}
			}
		})
	}
}

func TestEncodeAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		b, at := AppendMessage(buf[:0], NFNLType(NFNLSubsysCTNetlink, IPCTNLMsgCtDelete), NLMFRequest, 1, 2)
		b, tup := BeginNest(b, CTATupleOrig)
		b = AppendU16(b, CTAProtoSrcPort, 80)
		b = AppendAttr(b, CTAIPV4Src, []byte{1, 2, 3, 4})
		b = EndNest(b, tup)
		buf = EndMessage(b, at)
	})
	if n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

// FuzzEncodeWalk encodes attributes described by the input (a type, a
// nesting instruction and a payload length each), walks them back and
// compares.
func FuzzEncodeWalk(f *testing.F) {
	f.Add([]byte{1, 1, 0, 2, 0, 4, 3, 2, 0, 5, 0, 255})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, spec []byte) {
		b, at := AppendMessage(nil, NFNLType(NFNLSubsysCTNetlinkExp, IPCTNLMsgExpNew), NLMFRequest, 1, 10)
		var stack []int     // open nests' offsets in b
		var wstack [][]node // the levels above the open nests
		var level []node    // the attributes of the innermost open level
		for i := 0; i+2 < len(spec) && len(b) < 60000; i += 3 {
			typ := AttrType(spec[i]) & 0x7f // small types, no flags
			switch spec[i+1] % 3 {
			case 0: // leaf
				data := make([]byte, int(spec[i+2])%32)
				for j := range data {
					data[j] = byte(i + j)
				}
				b = AppendAttr(b, typ, data)
				level = append(level, node{Type: typ, Data: data})
			case 1: // open a nest
				var off int
				b, off = BeginNest(b, typ)
				stack = append(stack, off)
				wstack = append(wstack, append(level, node{Type: typ | NLAFNested}))
				level = nil
			case 2: // close the innermost nest
				if len(stack) == 0 {
					continue
				}
				b = EndNest(b, stack[len(stack)-1])
				stack = stack[:len(stack)-1]
				up := wstack[len(wstack)-1]
				wstack = wstack[:len(wstack)-1]
				up[len(up)-1].Kids = level
				level = up
			}
		}
		for len(stack) > 0 {
			b = EndNest(b, stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			up := wstack[len(wstack)-1]
			wstack = wstack[:len(wstack)-1]
			up[len(up)-1].Kids = level
			level = up
		}
		want := level
		b = EndMessage(b, at)
		msg, _, err := NextMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := walk(Payload(msg)[NFGenMsgLen:])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

// cmpEmpty equates nil and empty slices: a leaf of no bytes walks back as
// an empty slice, a nest of no children as nil.
var cmpEmpty = cmp.FilterValues(func(x, y any) bool {
	return isEmpty(x) && isEmpty(y)
}, cmp.Comparer(func(_, _ any) bool { return true }))

func isEmpty(v any) bool {
	switch s := v.(type) {
	case []byte:
		return len(s) == 0
	case []node:
		return len(s) == 0
	}
	return false
}
