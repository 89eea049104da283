// Package communityid computes the Community ID (version 1) of a flow: the
// string "1:" followed by the base64 of a SHA-1 over the flow's endpoints,
// which Zeek, Suricata, Arkime, Elastic and others log for the same flow, so
// that a SIEM joins ctwatch's records with theirs by a string comparison.
//
// The computation follows the specification at
// https://github.com/corelight/community-id-spec (README.md, and for ICMP
// the type pairing of its reference implementations, which mirror Zeek):
//
//   - the hash input is the seed (2 bytes, network order), the source and
//     destination addresses (4 or 16 bytes each), the IP protocol number (1
//     byte), a zero byte, and for TCP, UDP, SCTP, ICMP and ICMPv6 the source
//     and destination ports (2 bytes each, network order); every other
//     protocol (GRE, DCCP, UDP-Lite, OSPF, ...) hashes without ports, even
//     where conntrack has ports or GRE keys for it;
//   - the endpoints are ordered so that the smaller address comes first,
//     and for equal addresses the smaller port, which makes both directions
//     of a flow hash alike;
//   - ICMP and ICMPv6 have no ports: the message type becomes the source
//     port, and the destination port is the type of the other half of the
//     exchange for the request/reply types (echo, timestamp, information,
//     address mask, router solicitation/advertisement; for ICMPv6 echo,
//     multicast listener query/report, router and neighbour
//     solicitation/advertisement, node information query/reply and home
//     agent address discovery request/reply). Any other type is one-way:
//     the destination port is the message code and the endpoints are NOT
//     reordered, since no answer will ever pair with it.
//
// The specification says nothing about IPv4-mapped IPv6 addresses: they
// hash as the 16 bytes they are (an IPv6 packet carries them so), not as
// IPv4. A flow whose addresses are invalid or of different families has no
// Community ID; the specification allows an empty string for what a monitor
// cannot hash, and that is what [Append] and [String] produce.
//
// [Append] computes an ID without allocating when its destination has room
// for [Len] more bytes; [FromEntry] and [FromTuple] build a [Flow] from a
// [model.Entry].
package communityid
