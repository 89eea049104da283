package communityid

// counterparts maps an ICMP or ICMPv6 message type to the type of the other
// half of its exchange; a type without one is one-way. The tables come from
// the Community ID specification's reference implementations, which follow
// Zeek's ICMP4_counterpart and ICMP6_counterpart.
type counterparts [256]struct {
	other  uint8
	paired bool
}

// icmpCounterpart pairs the ICMP request and reply types (RFC 792, RFC 950,
// RFC 1256).
var icmpCounterpart = pairs(
	8, 0, // echo request, echo reply
	13, 14, // timestamp request, reply
	15, 16, // information request, reply
	10, 9, // router solicitation, advertisement
	17, 18, // address mask request, reply
)

// icmpv6Counterpart pairs the ICMPv6 request and reply types (RFC 4443,
// RFC 2710, RFC 4861, RFC 4620, RFC 6275).
var icmpv6Counterpart = pairs(
	128, 129, // echo request, echo reply
	130, 131, // multicast listener query, report
	133, 134, // router solicitation, advertisement
	135, 136, // neighbour solicitation, advertisement
	139, 140, // node information query, reply ("who are you")
	144, 145, // home agent address discovery request, reply
)

func pairs(types ...uint8) *counterparts {
	var c counterparts
	for i := 0; i+1 < len(types); i += 2 {
		a, b := types[i], types[i+1]
		c[a].other, c[a].paired = b, true
		c[b].other, c[b].paired = a, true
	}
	return &c
}

// icmpPorts returns the ports an ICMP message of type typ and code code
// hashes with, and whether its type is one-way (its endpoints keep their
// order).
func icmpPorts(c *counterparts, typ, code uint16) (sport, dport uint16, oneWay bool) {
	if typ < uint16(len(c)) && c[typ].paired {
		return typ, uint16(c[typ].other), false
	}
	return typ, code, true
}
