package events

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestMmsghdrLayout(t *testing.T) {
	// struct mmsghdr: msg_len right after struct msghdr, the whole padded
	// to the alignment of msghdr's pointers.
	hdr, ptr := unsafe.Sizeof(unix.Msghdr{}), unsafe.Sizeof(uintptr(0))
	if off := unsafe.Offsetof(mmsghdr{}.len); off != hdr {
		t.Errorf("msg_len at offset %d, want %d", off, hdr)
	}
	if size, want := unsafe.Sizeof(mmsghdr{}), (hdr+4+ptr-1)/ptr*ptr; size != want {
		t.Errorf("mmsghdr of %d bytes, want %d", size, want)
	}
	if ptr == 8 && unsafe.Sizeof(mmsghdr{}) != 64 {
		t.Errorf("mmsghdr of %d bytes on a 64-bit host, want 64", unsafe.Sizeof(mmsghdr{}))
	}
}

// TestMmsgBufferRecv reads datagrams of a socket pair: several per call,
// each in its slot, a cut one flagged, and EAGAIN once empty.
func TestMmsgBufferRecv(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	sent := [][]byte{[]byte("one"), bytes.Repeat([]byte{'x'}, 40), []byte("three"), []byte("four")}
	for _, d := range sent {
		if err := unix.Send(fds[1], d, 0); err != nil {
			t.Fatal(err)
		}
	}
	m := newMmsgBuffer(3, 32, 0)
	n, err := m.recv(uintptr(fds[0]), 10, unix.MSG_DONTWAIT)
	if err != nil || n != 3 {
		t.Fatalf("recv = %d, %v; want 3 datagrams", n, err)
	}
	for i, want := range [][]byte{sent[0], sent[1][:32], sent[2]} {
		got, truncated := m.datagram(i)
		if !bytes.Equal(got, want) || truncated != (i == 1) {
			t.Errorf("datagram %d = %q (cut: %v), want %q (cut: %v)", i, got, truncated, want, i == 1)
		}
	}
	if n, err := m.recv(uintptr(fds[0]), 1, unix.MSG_DONTWAIT); err != nil || n != 1 {
		t.Fatalf("recv = %d, %v; want 1 datagram", n, err)
	}
	if got, _ := m.datagram(0); !bytes.Equal(got, sent[3]) {
		t.Errorf("datagram = %q, want %q", got, sent[3])
	}
	if _, err := m.recv(uintptr(fds[0]), 3, unix.MSG_DONTWAIT); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("recv of an empty socket: %v, want EAGAIN", err)
	}
}
