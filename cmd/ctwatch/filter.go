package main

import (
	"flag"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/filter"
)

// filterFlags defines the filter flags of watch on fs (conntrack -E's, by
// its names, and its other spellings) and returns the Spec they fill;
// internal/filter says what each matches. The caller sets LabelNames.
func filterFlags(fs *flag.FlagSet) *filter.Spec {
	var spec filter.Spec
	fs.StringVar(&spec.Family, "family", "", "only these families: ipv4, ipv6")
	fs.StringVar(&spec.Proto, "proto", "", "only these protocols: tcp, udp, icmp, icmpv6, sctp, dccp, udplite, gre, or numbers")
	fs.StringVar(&spec.Src, "src", "", "only these original source addresses or CIDR prefixes")
	fs.StringVar(&spec.Dst, "dst", "", "only these original destination addresses or CIDR prefixes")
	fs.StringVar(&spec.Port, "port", "", "only these original source or destination ports or ranges (80, 1000-2000)")
	fs.StringVar(&spec.SPort, "sport", "", "only these original source ports or ranges")
	fs.StringVar(&spec.DPort, "dport", "", "only these original destination ports or ranges")
	fs.StringVar(&spec.State, "state", "", "only these protocol states (SYN_SENT, ESTABLISHED, ...)")
	fs.StringVar(&spec.Status, "status", "", "only entries with these labels or status bits (unreplied, replied, assured, offload, dst_nat, ...); !NAME excludes")
	fs.StringVar(&spec.Zone, "zone", "", "only these conntrack zones")
	fs.StringVar(&spec.Mark, "mark", "", "only these connmarks: VALUE or VALUE/MASK")
	fs.StringVar(&spec.ReplySrc, "reply-src", "", "only these reply source addresses or CIDR prefixes (the address replies come from: a DNAT's real server)")
	fs.StringVar(&spec.ReplyDst, "reply-dst", "", "only these reply destination addresses or CIDR prefixes (the address replies go to: an SNAT's public address)")
	fs.StringVar(&spec.ReplySPort, "reply-sport", "", "only these reply source ports or ranges")
	fs.StringVar(&spec.ReplyDPort, "reply-dport", "", "only these reply destination ports or ranges")
	fs.StringVar(&spec.MaskSrc, "mask-src", "", "mask of the --src addresses, one IPv4 and one IPv6 at most: --src 10.0.0.0 --mask-src 255.0.0.0 is 10.0.0.0/8; need not be contiguous")
	fs.StringVar(&spec.MaskDst, "mask-dst", "", "mask of the --dst addresses, as --mask-src")
	optionalFlag(fs, "src-nat", &spec.SrcNAT, &spec.SrcNATAddr, "ADDRS", "only source-NATed entries; with ADDR, ADDR:PORT or [IPV6]:PORT items, NATed to one of them")
	optionalFlag(fs, "dst-nat", &spec.DstNAT, &spec.DstNATAddr, "ADDRS", "only destination-NATed entries; with ADDR, ADDR:PORT or [IPV6]:PORT items, NATed to one of them")
	optionalFlag(fs, "any-nat", &spec.AnyNAT, &spec.AnyNATAddr, "ADDRS", "only source- or destination-NATed entries; with ADDR, ADDR:PORT or [IPV6]:PORT items, NATed to one of them")
	fs.Var(joinedValue{&spec.Label}, "label", "only entries with all these connlabels: names from --connlabel-file, or bit numbers; repeatable")
	fs.StringVar(&spec.OrigZone, "orig-zone", "", "only these conntrack zones of the original direction")
	fs.StringVar(&spec.ReplyZone, "reply-zone", "", "only these conntrack zones of the reply direction")
	fs.StringVar(&spec.ICMPType, "icmp-type", "", "only ICMP and ICMPv6 entries of these types (the original direction's: 8 is echo request)")
	fs.StringVar(&spec.ICMPCode, "icmp-code", "", "only ICMP and ICMPv6 entries of these codes")
	fs.StringVar(&spec.ICMPID, "icmp-id", "", "only ICMP and ICMPv6 entries of these identifiers")
	fs.StringVar(&spec.Secmark, "secmark", "", "only these security marks: VALUE or VALUE/MASK")
	fs.StringVar(&spec.GRESrcKey, "srckey", "", "only GRE entries with these original source keys (decimal or 0x-hex)")
	fs.StringVar(&spec.GREDstKey, "dstkey", "", "only GRE entries with these original destination keys")
	fs.StringVar(&spec.GREReplySrcKey, "reply-key-src", "", "only GRE entries with these reply source keys")
	fs.StringVar(&spec.GREReplyDstKey, "reply-key-dst", "", "only GRE entries with these reply destination keys")
	fs.StringVar(&spec.OrigVtag, "orig-vtag", "", "only SCTP entries with these original-direction verification tags (decimal or 0x-hex; not in destroy events)")
	fs.StringVar(&spec.ReplyVtag, "reply-vtag", "", "only SCTP entries with these reply-direction verification tags")
	fs.StringVar(&spec.Role, "role", "", "only DCCP entries whose original direction has this role: client, server (not in destroy events)")
	for _, alias := range sortedKeys(filterAliases) {
		name := filterAliases[alias]
		fs.Var(fs.Lookup(name).Value, alias, "conntrack's spelling of --"+name)
	}
	return &spec
}

// filterAliases are conntrack's spellings of filter flags, and the flag
// each is another name of.
var filterAliases = map[string]string{
	"protonum": "proto", "orig-src": "src", "orig-dst": "dst", "orig-port-src": "sport", "orig-port-dst": "dport",
	"reply-port-src": "reply-sport", "reply-port-dst": "reply-dport",
	"orig-key-src": "srckey", "orig-key-dst": "dstkey",
}

// aliasConflict refuses a flag given under both its names, where the flag
// package would keep the last silently.
func aliasConflict(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, alias := range sortedKeys(filterAliases) {
		if name := filterAliases[alias]; set[alias] && set[name] {
			return usageError{fmt.Errorf("--%s is --%s: give one of them", alias, name)}
		}
	}
	return nil
}
