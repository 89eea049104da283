package syslog

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerClosed says whether the server closed (or reset) the stream conn. A
// syslog server never sends, so anything but "nothing to read" means the
// connection is over. Without this check the first batch after a server
// restart would go into a socket whose peer is gone: write(2) succeeds,
// the RST comes back, and only the next write fails, losing the batch.
func peerClosed(c net.Conn) bool {
	closed, _ := peek(c)
	return closed
}

// peek says, without blocking, whether the peer of the stream conn closed
// (or reset) it, and whether there is something to read.
func peek(c net.Conn) (closed, readable bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true, false
	}
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
		case err != nil || n == 0:
			closed = true
		default:
			readable = true
		}
		return true
	})
	return closed || err != nil, readable
}

// quickAck makes the kernel acknowledge what arrives next on the TCP conn
// at once rather than after the delayed-ACK timer (40 ms): a RELP client
// that waits for answers sends nothing an ACK could ride on, and a server
// whose socket has Nagle's algorithm on (librelp's) holds every answer
// after the first until that ACK. Without it a window of answers costs
// 40 ms: 2,700 records/s against rsyslog, 82,000 with it. Linux leaves
// quick-ACK mode by itself, so it is set again before each wait.
// (SO_RCVLOWAT, to wake once for many answers, stalls the same way: data
// not read is not acknowledged at once.)
func quickAck(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}
