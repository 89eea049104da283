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
// i-th into its own slot of buf, slotSize bytes at i*slotSize, and, when
// ctrlSize is not 0, its control messages into its own slot of ctrl,
// ctrlSize bytes at i*ctrlSize. The vector and its iovecs are built once;
// the kernel only writes msg_len, msg_flags and msg_controllen of each
// element.
type mmsgBuffer struct {
	hdrs     []mmsghdr
	iovs     []unix.Iovec
	buf      []byte
	slotSize int
	ctrl     []byte
	ctrlSize int
}

// newMmsgBuffer returns a buffer of slots datagrams of up to slotSize
// bytes, with ctrlSize bytes of control messages each (0: none asked for,
// as a socket that does not listen to every namespace needs).
func newMmsgBuffer(slots, slotSize, ctrlSize int) *mmsgBuffer {
	m := &mmsgBuffer{
		hdrs:     make([]mmsghdr, slots),
		iovs:     make([]unix.Iovec, slots),
		buf:      make([]byte, slots*slotSize),
		slotSize: slotSize,
		ctrl:     make([]byte, slots*ctrlSize),
		ctrlSize: ctrlSize,
	}
	for i := range m.hdrs {
		// The vector points into Go memory, which stays put: Go's
		// collector does not move heap objects, and m keeps them alive.
		m.iovs[i].Base = &m.buf[i*slotSize]
		m.iovs[i].SetLen(slotSize)
		m.hdrs[i].hdr.Iov = &m.iovs[i]
		m.hdrs[i].hdr.SetIovlen(1)
		if ctrlSize > 0 {
			m.hdrs[i].hdr.Control = &m.ctrl[i*ctrlSize]
		}
	}
	return m
}

// recv reads up to want (at most len(m.hdrs)) datagrams from fd with
// flags, which must include MSG_DONTWAIT, and returns how many it read.
//
// The call is raw, made without telling the scheduler: it never blocks,
// and a system call the scheduler knows of can wake the runtime's monitor
// thread (sysmon), which then polls every 20 µs for a while, a cost of
// several times the read on a quiet host.
func (m *mmsgBuffer) recv(fd uintptr, want int, flags int) (int, error) {
	want = min(want, len(m.hdrs))
	if want <= 0 {
		return 0, nil
	}
	if m.ctrlSize > 0 {
		// The kernel leaves in msg_controllen how much it wrote: each
		// call has to offer the whole slot again.
		for i := range want {
			m.hdrs[i].hdr.SetControllen(m.ctrlSize)
		}
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(want), uintptr(flags), 0, 0)
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

// control returns the control messages of the i-th datagram of the last
// recv, and whether the kernel cut them to fit their slot (MSG_CTRUNC);
// nil without control slots.
func (m *mmsgBuffer) control(i int) ([]byte, bool) {
	if m.ctrlSize == 0 {
		return nil, false
	}
	h := &m.hdrs[i]
	off := i * m.ctrlSize
	// The kernel writes at most the slot; the bound keeps a wrong length
	// within it all the same.
	n := int(min(uint64(h.hdr.Controllen), uint64(m.ctrlSize)))
	return m.ctrl[off : off+n], h.hdr.Flags&unix.MSG_CTRUNC != 0
}
