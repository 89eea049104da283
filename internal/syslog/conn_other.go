//go:build !linux

package syslog

import "net"

// peerClosed cannot tell without a non-blocking peek; the first write to a
// closed connection then fails only on the next write.
func peerClosed(net.Conn) bool { return false }

// peek cannot tell either: a RELP client finds a serverclose hint only when
// it reads the responses of its next messages.
func peek(net.Conn) (closed, readable bool) { return false, false }

// quickAck has no portable equivalent: answers may wait for the peer's
// delayed-ACK timer.
func quickAck(net.Conn) {}
