// Package filter is the userspace event filter behind the flags of
// `ctwatch watch`: --family, --proto, --src, --dst, --port, --sport, --dport,
// --state, --status, --zone and --mark, and the rest of conntrack -E's
// filters: --reply-src, --reply-dst, --reply-sport, --reply-dport,
// --mask-src, --mask-dst, --src-nat, --dst-nat, --any-nat, --label,
// --orig-zone, --reply-zone, --icmp-type, --icmp-code, --icmp-id,
// --secmark, --srckey, --dstkey, --reply-key-src, --reply-key-dst,
// --orig-vtag, --reply-vtag and --role.
//
// A [Spec] holds the flags' raw values; [New] checks and compiles them into a
// [Filter] whose [Filter.Match] decides, without allocating, whether an event
// is written. The kernel cannot filter multicast conntrack events by these
// criteria for us (ctnetlink event filters only know families and a few
// groups), so the watch loop matches every decoded event here.
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
// The flags conntrack -E has beside those follow conntrack-tools 1.4.7
// (src/conntrack.c and the libnetfilter_conntrack it calls), with the
// differences said:
//
//   - --reply-src and --reply-dst match the reply tuple's source and
//     destination as --src and --dst match the original's (conntrack takes
//     no CIDR prefix there; ctwatch does). --reply-sport and --reply-dport
//     (conntrack's --reply-port-src and --reply-port-dst) match the reply
//     tuple's ports as --sport and --dport do, port protocols only.
//   - --mask-src and --mask-dst give the mask of the --src and --dst
//     addresses, as an address: --src 10.0.0.0 --mask-src 255.0.0.0 is
//     --src 10.0.0.0/8. At most one IPv4 and one IPv6 mask; each applies to
//     every --src (--dst) item of its family, which must then be a plain
//     address, and a mask without such an item is an error (conntrack: a
//     mask needs --src). Masks need not be contiguous, as in conntrack's
//     filter_network: --src 10.0.0.1 --mask-src 255.0.0.255 matches
//     addresses whose first and last bytes are 10 and 1 (address & mask ==
//     value & mask).
//   - --src-nat, --dst-nat and --any-nat, without a value, match NATed
//     entries, decided from the tuples as libnetfilter_conntrack's
//     NFCT_GOPT_IS_SNAT/IS_SPAT and IS_DNAT/IS_DPAT do: an entry is
//     source-NATed when its status has SRC_NAT_DONE and the reply tuple's
//     destination address or port differs from the original source, and
//     destination-NATed when it has DST_NAT_DONE and the reply source
//     address or port differs from the original destination. The kernel
//     sets both NAT_DONE bits on every entry that went through the NAT
//     hooks (a null binding when no rule applied) and the tuples decide;
//     tuples that differ without the bits (IPVS) are not NAT. A value is a
//     list of NAT addresses, ORed, each ADDR, ADDR:PORT or [IPV6]:PORT as
//     in conntrack (ADDR may also be a CIDR prefix, PORT a range): the
//     address the entry is NATed to, which is the reply destination for
//     --src-nat and the reply source for --dst-nat, and the port its port
//     is NATed to, both NATed. --src-nat --dst-nat wants both, --any-nat
//     either (it cannot be combined with the other two). Two differences
//     from conntrack: IPv6 addresses are compared whole (conntrack
//     compares their first 32 bits, and ignores an IPv6 ADDR altogether),
//     and an ICMP entry's "port" is its identifier, which source NAT
//     rewrites (conntrack compares the identifier with the reply's type
//     and code). Entries read from text never carry the NAT_DONE bits.
//     ctwatch takes the value as --src-nat=ADDR or, as conntrack, as the
//     next argument (--src-nat ADDR); conntrack 1.4.7 itself drops a value
//     given with '=' and matches any NAT then.
//   - --label matches connlabels by name, looked up in the
//     --connlabel-file table ([Spec.LabelNames]), or by bit number
//     (0-127). Unlike other flags, and as conntrack, its items are ANDed:
//     an entry matches when it has every label given. An entry without
//     labels never matches.
//   - --orig-zone and --reply-zone match the zone of one direction, taken
//     as for --zone: that direction's zone, else the zone for both, else
//     0. (conntrack compares only the tuple's own zone attribute, so that
//     its --orig-zone 5 misses an entry in zone 5 for both directions.)
//   - --icmp-type, --icmp-code and --icmp-id match the original tuple's
//     ICMP or ICMPv6 type (0-255), code (0-255) and identifier (0-65535);
//     like the port flags they only match ICMP and ICMPv6 entries.
//   - --secmark matches the security mark as --mark matches the connmark
//     (VALUE or VALUE/MASK); an entry without one has secmark 0.
//     (conntrack -E parses --secmark but libnetfilter_conntrack's
//     comparison ignores it.)
//   - --srckey and --dstkey (conntrack's --orig-key-src and --orig-key-dst)
//     match the original tuple's GRE keys, --reply-key-src and
//     --reply-key-dst the reply tuple's: 0-65535, decimal or 0x-hex, GRE
//     entries only. (libnetfilter_conntrack's comparison skips GRE keys, so
//     that conntrack -E matches every GRE entry with them.)
//   - --orig-vtag and --reply-vtag match an SCTP entry's verification tag
//     of the original or the reply direction (32 bits, decimal or 0x-hex),
//     --role a DCCP entry's role of the original direction (client or
//     server, any case, or an abbreviation as conntrack takes: cl, s); an
//     entry of another protocol never matches, so that the vtag flags
//     cannot be combined with --role. An entry that does not carry the
//     value never matches, as libnetfilter_conntrack's comparison under
//     NFCT_CMP_MASK decides for an attribute the filter sets and the entry
//     lacks: the kernel leaves the vtags and the role out of destroy
//     events, so that these flags select new and update events only, and
//     entries read from text never carry them. (The names are those of
//     conntrack's -p sctp and -p dccp options, but conntrack-tools 1.4.7
//     takes them only to create or update entries, -I and -U: its -E and
//     -L refuse them as an "Illegal option with this command".)
//
// [New] reports every bad item of every flag at once (joined with
// [errors.Join]), each as a [*FlagError] naming the flag and the item.
//
// [Filter.String] prints the filter in a canonical flag form (items
// normalised, sorted and deduplicated) for the startup log; passing those
// values back to New yields an equivalent filter (a NAT flag without a
// value printed bare, --label with the same table).
package filter
