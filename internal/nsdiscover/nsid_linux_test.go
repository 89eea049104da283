package nsdiscover

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func nsidMessage(t testing.TB, attrs func(ae *netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	attrs(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return append(make([]byte, 4), b...)
}

func TestDecodeNSID(t *testing.T) {
	for _, tt := range []struct {
		name    string
		b       []byte
		want    int32
		wantErr error
	}{
		{"id", nsidMessage(t, func(ae *netlink.AttributeEncoder) {
			ae.Int32(unix.NETNSA_NSID, 7)
			ae.Int32(unix.NETNSA_CURRENT_NSID, 3)
		}), 7, nil},
		{"none assigned", nsidMessage(t, func(ae *netlink.AttributeEncoder) { ae.Int32(unix.NETNSA_NSID, -1) }), NoNSID, nil},
		{"no attribute", nsidMessage(t, func(ae *netlink.AttributeEncoder) { ae.Uint32(unix.NETNSA_PID, 1) }), NoNSID, errNoNSIDAttr},
		{"short", []byte{0, 0}, NoNSID, errShort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeNSID(tt.b)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("decodeNSID = %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	// A truncated attribute is an error, not a made-up id.
	b := nsidMessage(t, func(ae *netlink.AttributeEncoder) { ae.Int32(unix.NETNSA_NSID, 7) })
	binary.NativeEndian.PutUint16(b[4:], 6) // length covers 2 of the 4 bytes
	if got, err := decodeNSID(b[:10]); err == nil {
		t.Errorf("decodeNSID of a truncated attribute = %d, nil; want an error", got)
	}
}

func FuzzDecodeNSID(f *testing.F) {
	f.Add(nsidMessage(f, func(ae *netlink.AttributeEncoder) { ae.Int32(unix.NETNSA_NSID, 7) }))
	f.Add([]byte{0, 0, 0, 0, 8, 0, 1, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := decodeNSID(b)
		if err != nil && id != NoNSID {
			t.Fatalf("decodeNSID = %d with error %v; want NoNSID with an error", id, err)
		}
	})
}
