package events

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is the kernel's struct mmsghdr, one element of recvmmsg(2)'s
// vector:
//
//	struct mmsghdr {
//		struct msghdr msg_hdr;  /* offset 0 */
//		unsigned int  msg_len;  /* offset sizeof(struct msghdr): 56 on 64-bit, 28 on 32-bit */
//	};
//
// Go lays it out as C does: the fields in order, each at its natural
// alignment, and the size rounded up to the largest alignment (the
// pointers' in unix.Msghdr), so that a []mmsghdr is the C array: 64-byte
// elements on 64-bit (4 bytes of tail padding), 32 on 32-bit (none). x/sys
// has SYS_RECVMMSG but no wrapper and no such type.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// recvSlotSize is the room for each datagram of a recvmmsg: an event
// message is well under 2 KiB.
const recvSlotSize = 8 << 10

// mmsgBuffer receives up to len(hdrs) datagrams with one recvmmsg: the
// i-th into its own slot of buf, slotSize bytes at i*slotSize. The vector
// and its iovecs are built once; the kernel only writes msg_len and
// msg_flags of each element.
type mmsgBuffer struct {
	hdrs     []mmsghdr
	iovs     []unix.Iovec
	buf      []byte
	slotSize int
}

func newMmsgBuffer(slots, slotSize int) *mmsgBuffer {
	m := &mmsgBuffer{
		hdrs:     make([]mmsghdr, slots),
		iovs:     make([]unix.Iovec, slots),
		buf:      make([]byte, slots*slotSize),
		slotSize: slotSize,
	}
	for i := range m.hdrs {
		// The vector points into Go memory, which stays put: Go's
		// collector does not move heap objects, and m keeps them alive.
		m.iovs[i].Base = &m.buf[i*slotSize]
		m.iovs[i].SetLen(slotSize)
		m.hdrs[i].hdr.Iov = &m.iovs[i]
		m.hdrs[i].hdr.SetIovlen(1)
	}
	return m
}

// recv reads up to want (at most len(m.hdrs)) datagrams from fd with
// flags, and returns how many it read.
func (m *mmsgBuffer) recv(fd uintptr, want int, flags int) (int, error) {
	want = min(want, len(m.hdrs))
	if want <= 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(want), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// datagram returns the i-th datagram of the last recv, and whether the
// kernel cut it to fit its slot.
func (m *mmsgBuffer) datagram(i int) ([]byte, bool) {
	h := &m.hdrs[i]
	off := i * m.slotSize
	return m.buf[off : off+int(h.len)], h.hdr.Flags&unix.MSG_TRUNC != 0
}
