//go:build !linux

package syslog

import "net"

// peerClosed cannot tell without a non-blocking peek; the first write to a
// closed connection then fails only on the next write.
func peerClosed(net.Conn) bool { return false }
