package events

import (
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// recvControlSize is the room for each datagram's control messages when
// the socket listens to every namespace: the nsid's takes
// CMSG_SPACE(sizeof(int)), 24 bytes on 64-bit, and nothing else is asked
// for; the rest is slack, so that a control message the kernel adds one day
// does not cut the nsid's.
const recvControlSize = 64

// The layout of a control message, struct cmsghdr followed by its data:
//
//	struct cmsghdr {
//		size_t cmsg_len;   /* header and data, without the tail padding */
//		int    cmsg_level;
//		int    cmsg_type;
//		unsigned char cmsg_data[];  /* at CMSG_ALIGN(sizeof(struct cmsghdr)) */
//	};
//
// each one padded to CMSG_ALIGN, a multiple of sizeof(long), which Linux
// makes the size of a pointer on every architecture. The last one of a
// buffer may lack its padding: the kernel's put_cmsg stops at the end of
// the buffer.
const (
	cmsgAlignTo  = int(unsafe.Sizeof(uintptr(0)))
	cmsgLenSize  = int(unsafe.Sizeof(unix.Cmsghdr{}.Len))
	cmsgDataOff  = (unix.SizeofCmsghdr + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1)
	nsidDataSize = 4 // an int
)

// parseNetNS returns the namespace a datagram came from, read from its
// control messages ctrl as recvmsg(2) wrote them for a socket with
// NETLINK_LISTEN_ALL_NSID: the peer whose nsid the SOL_NETLINK
// NETLINK_LISTEN_ALL_NSID message carries, or, without one, the socket's
// own namespace (the kernel attaches none to its own namespace's messages
// unless that namespace has an id in itself). Other control messages are
// skipped. It allocates nothing, and reads only within ctrl: a message
// whose length runs past the buffer, a second nsid, a nsid of another size
// than an int's, or a negative one (the kernel sends only assigned ids) is
// ErrMalformed.
func parseNetNS(ctrl []byte) (model.NetNS, error) {
	var ns model.NetNS
	for len(ctrl) > 0 {
		if len(ctrl) < unix.SizeofCmsghdr {
			return model.NetNS{}, fmt.Errorf("control message header of %d bytes: %w", len(ctrl), ErrMalformed)
		}
		var l uint64
		if cmsgLenSize == 8 {
			l = binary.NativeEndian.Uint64(ctrl)
		} else {
			l = uint64(binary.NativeEndian.Uint32(ctrl))
		}
		if l < uint64(cmsgDataOff) || l > uint64(len(ctrl)) {
			return model.NetNS{}, fmt.Errorf("control message length %d of %d bytes: %w", l, len(ctrl), ErrMalformed)
		}
		level := int32(binary.NativeEndian.Uint32(ctrl[cmsgLenSize:]))
		typ := int32(binary.NativeEndian.Uint32(ctrl[cmsgLenSize+4:]))
		if level == unix.SOL_NETLINK && typ == unix.NETLINK_LISTEN_ALL_NSID {
			data := ctrl[cmsgDataOff:l]
			switch {
			case ns.Peer:
				return model.NetNS{}, fmt.Errorf("second namespace id in one datagram's control messages: %w", ErrMalformed)
			case len(data) != nsidDataSize:
				return model.NetNS{}, fmt.Errorf("namespace id of %d bytes: %w", len(data), ErrMalformed)
			}
			id := int32(binary.NativeEndian.Uint32(data))
			if id < 0 {
				return model.NetNS{}, fmt.Errorf("namespace id %d: %w", id, ErrMalformed)
			}
			ns = model.PeerNetNS(id)
		}
		// l is at most len(ctrl), so next fits in an int.
		next := min((int(l)+cmsgAlignTo-1)&^(cmsgAlignTo-1), len(ctrl))
		ctrl = ctrl[next:]
	}
	return ns, nil
}

// handlePeerDatagram is handleDatagram for a socket that listens to every
// namespace: ctrl are the datagram's control messages and ctrunc says
// whether the kernel cut them to fit. Each event of the datagram carries
// the namespace they name. A datagram whose namespace cannot be told
// (control messages cut or malformed, which the kernel's are not) is one
// failure, rather than events attributed to the wrong namespace.
func handlePeerDatagram(d []byte, truncated bool, ctrl []byte, ctrunc bool, now time.Time, b *Batch, names *model.LabelNames) int {
	ns, err := parseNetNS(ctrl)
	if err == nil && ctrunc {
		err = fmt.Errorf("control messages larger than %d bytes: %w", len(ctrl), ErrTruncated)
	}
	if err != nil {
		b.fail(fmt.Errorf("read the namespace of a datagram: %w", err), d)
		return 1
	}
	first, firstExpect := len(b.Events), len(b.Expects)
	received := handleDatagram(d, truncated, now, b, names)
	if ns.Peer {
		for i := first; i < len(b.Events); i++ {
			b.Events[i].NetNS = ns
		}
		for i := firstExpect; i < len(b.Expects); i++ {
			b.Expects[i].NetNS = ns
		}
	}
	return received
}
