package model

import "strconv"

// Proto is a layer-4 protocol number (IPPROTO_*).
type Proto uint8

// The layer-4 protocols conntrack knows by name.
const (
	ProtoICMP    Proto = 1
	ProtoTCP     Proto = 6
	ProtoUDP     Proto = 17
	ProtoDCCP    Proto = 33
	ProtoGRE     Proto = 47
	ProtoICMPv6  Proto = 58
	ProtoSCTP    Proto = 132
	ProtoUDPLite Proto = 136
)

// String returns the name the kernel and conntrack-tools print in an entry's
// protocol column; both print "unknown" for a protocol they have no tracker
// for (the generic tracker), followed by its number.
func (p Proto) String() string {
	if n := p.name(); n != "" {
		return n
	}
	return "unknown"
}

// JSONName returns the protocol's name, or its number as text when it has
// none, which is what the JSON contract's "proto" key carries: "unknown"
// would lose information a SIEM query needs.
func (p Proto) JSONName() string {
	if n := p.name(); n != "" {
		return n
	}
	return strconv.Itoa(int(p))
}

func (p Proto) name() string {
	switch p {
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoDCCP:
		return "dccp"
	case ProtoGRE:
		return "gre"
	case ProtoICMPv6:
		return "icmpv6"
	case ProtoSCTP:
		return "sctp"
	case ProtoUDPLite:
		return "udplite"
	}
	return ""
}

// ParseProto accepts a protocol by name (as String or JSONName print it) or
// by number. "unknown" is not accepted: it names no single protocol.
func ParseProto(s string) (Proto, bool) {
	switch s {
	case "icmp":
		return ProtoICMP, true
	case "tcp":
		return ProtoTCP, true
	case "udp":
		return ProtoUDP, true
	case "dccp":
		return ProtoDCCP, true
	case "gre":
		return ProtoGRE, true
	case "icmpv6", "ipv6-icmp":
		return ProtoICMPv6, true
	case "sctp":
		return ProtoSCTP, true
	case "udplite":
		return ProtoUDPLite, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, false
	}
	return Proto(n), true
}

// HasPorts reports whether the protocol's tuples carry source and destination
// ports.
func (p Proto) HasPorts() bool {
	switch p {
	case ProtoTCP, ProtoUDP, ProtoUDPLite, ProtoSCTP, ProtoDCCP:
		return true
	}
	return false
}

// IsICMP reports whether the protocol's tuples carry an ICMP type, code and
// id (ICMP and ICMPv6).
func (p Proto) IsICMP() bool {
	return p == ProtoICMP || p == ProtoICMPv6
}

// HasState reports whether conntrack keeps a protocol state for the protocol
// (TCP, SCTP and DCCP).
func (p Proto) HasState() bool {
	return p == ProtoTCP || p == ProtoSCTP || p == ProtoDCCP
}
