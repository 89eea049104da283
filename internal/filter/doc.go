// Package filter is the userspace event filter behind the flags of
// `ctwatch watch`: --family, --proto, --src, --dst, --port, --sport, --dport,
// --state, --status, --zone and --mark.
//
// A [Spec] holds the flags' raw values; [New] checks and compiles them into a
// [Filter] whose [Filter.Match] decides, without allocating, whether an event
// is written. [Filter.BPF] also compiles a filter into a classic BPF
// program for the event socket, so that the kernel drops the events
// outside it before they are queued (docs/filter.md); Match still runs on
// every event received, for the criteria the program does not compile.
//
// # Semantics
//
// Each flag is a comma-separated list of items. Items within one flag are
// ORed, different flags are ANDed, and an empty flag does not constrain: with
// --proto tcp,udp --dport 53 an event matches when it is TCP or UDP, and its
// destination port is 53. Spaces around items are ignored; an empty item (as
// in "tcp,,udp") is an error. Every check looks at the entry of the event:
//
//   - --family matches the entry's family: ipv4 (also inet, 2) or ipv6 (also
//     inet6, 10), case-insensitive.
//   - --proto matches the layer-4 protocol by name (tcp, udp, udplite, icmp,
//     icmpv6, sctp, dccp, gre; case-insensitive) or by number (0-255).
//   - --src and --dst match the original tuple's source and destination
//     against addresses and CIDR prefixes. A prefix with host bits set
//     (10.1.2.3/8) is taken as its network (10.0.0.0/8). An IPv4 prefix
//     never matches an IPv6 entry and the other way round; an IPv4-mapped
//     IPv6 address (::ffff:10.0.0.1) is an IPv6 address like any other.
//     Addresses with an IPv6 zone (fe80::1%eth0) are rejected: conntrack
//     tuples carry none.
//   - --port matches when the original tuple's source or destination port is
//     in one of the ports or ranges (80, 1000-2000); --sport and --dport
//     look at one of them. Port flags only match protocols with ports (TCP,
//     UDP, UDP-Lite, SCTP, DCCP; [model.Proto.HasPorts]): --port 80 never
//     matches ICMP, nor GRE, whose tuples hold keys where ports would be.
//   - --state matches the protocol state by name, case-insensitive, or by
//     number as [model.State.Name] prints states it has no name for. A name
//     is looked up in each stateful protocol (TCP, SCTP, DCCP) and matches
//     each protocol that knows it: ESTABLISHED matches TCP and SCTP entries,
//     SYN_SENT only TCP ones; combine with --proto to narrow it. An item no
//     protocol knows is an error. An entry without a state (UDP, ICMP, or a
//     source that did not carry it) never matches.
//   - --status matches the status bits. An item is unreplied (no reply
//     seen), replied (SEEN_REPLY), assured, offload, hw_offload, or any
//     status bit name (seen_reply, confirmed, dst_nat, ...), case-insensitive.
//     Items without '!' are ORed as with every flag. An item with a leading
//     '!' is negated, and negated items are ANDed with each other and with
//     the plain items: --status unreplied,!assured matches entries that are
//     unreplied and not assured, and --status !assured,!offload matches
//     entries that are neither. A --status value that no entry can match
//     (assured,!assured) is an error. Entries read from text only carry the
//     SEEN_REPLY, ASSURED, OFFLOAD and HW_OFFLOAD bits (see
//     [model.Entry.Status]), so other bits never match them.
//   - --zone matches zone numbers (0-65535). Like the kernel, the filter
//     takes an entry's zone per direction: a zone given for one direction
//     only (zone-orig=, zone-reply=) applies to that direction, a zone for
//     both directions to both, and a direction without a zone is in zone 0.
//     An item matches when either direction is in that zone, so an entry
//     without any zone is in zone 0.
//   - --mark matches the connmark against VALUE (exact) or VALUE/MASK (the
//     mark ANDed with MASK equals VALUE), each decimal or 0x-hex. A VALUE
//     with bits outside its MASK could never match and is an error. An entry
//     without a mark has mark 0.
//
// [New] reports every bad item of every flag at once (joined with
// [errors.Join]), each as a [*FlagError] naming the flag and the item.
//
// [Filter.String] prints the filter in a canonical flag form (items
// normalised, sorted and deduplicated) for the startup log; passing those
// values back to New yields an equivalent filter.
package filter
