package origins

import (
	"strconv"
	"strings"
)

// netlinkSocket is one line of /proc/net/netlink.
type netlinkSocket struct {
	Protocol int    // the "Eth" column: NETLINK_NETFILTER is 12
	PortID   uint32 // the "Pid" column, which is the port id
	Inode    uint64
}

// parseNetlinkLine parses one line of /proc/net/netlink:
//
//	sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
//	ffff8f0c41a3c000 12  4026531    00000000 0        0        0     2        0        34567
//
// It reports false for the header and for lines it cannot read.
func parseNetlinkLine(line string) (netlinkSocket, bool) {
	var f [10]string
	n := 0
	for field := range strings.FieldsSeq(line) {
		if n == len(f) {
			return netlinkSocket{}, false
		}
		f[n] = field
		n++
	}
	if n != len(f) {
		return netlinkSocket{}, false
	}
	if _, err := strconv.ParseUint(f[0], 16, 64); err != nil {
		return netlinkSocket{}, false // the header, or garbage
	}
	proto, err := strconv.ParseUint(f[1], 10, 31)
	if err != nil {
		return netlinkSocket{}, false
	}
	portid, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return netlinkSocket{}, false
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return netlinkSocket{}, false
	}
	return netlinkSocket{Protocol: int(proto), PortID: uint32(portid), Inode: inode}, true
}

// parseNetlinkTable returns the port id → socket inode map of the
// /proc/net/netlink sockets of protocol proto.
func parseNetlinkTable(b []byte, proto int) map[uint32]uint64 {
	m := make(map[uint32]uint64)
	for line := range strings.Lines(string(b)) {
		if s, ok := parseNetlinkLine(line); ok && s.Protocol == proto && s.Inode != 0 {
			m[s.PortID] = s.Inode
		}
	}
	return m
}

// parseSocketLink returns the inode of a /proc/PID/fd link target
// "socket:[INODE]".
func parseSocketLink(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	return ino, err == nil
}
