package record

import (
	"net/netip"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// unrepliedSummaryHint is the hint of a summary of unreplied flows:
// docs/heartbeat.md.
const unrepliedSummaryHint = "more unanswered flows than the unreplied warnings' burst in one interval: a scan, a DNS storm, or a peer or network gone; they are counted here (flows) with the busiest destinations and ports rather than warned about one by one"

// UnrepliedSummary writes a summary of the unreplied flows of one interval
// that were not warned about one by one: the same record kind as
// Unreplied's warnings, so that one query finds both and the sum of their
// flows counts every unreplied flow.
func (e *Encoder) UnrepliedSummary(s *flow.UnrepliedSummary) {
	write(e, s, (*Encoder).nativeUnrepliedSummary, (*Encoder).ecsUnrepliedSummary, (*Encoder).ocsfUnrepliedSummary)
}

// appendSummaryKeys appends the keys every schema writes for a summary,
// after a comma when dst holds keys already: summary, flows, since,
// destinations, destinations_capped, top and top_ports.
func (e *Encoder) appendSummaryKeys(dst []byte, s *flow.UnrepliedSummary) []byte {
	dst = objBool(dst, "summary", true)
	dst = objUint(dst, "flows", s.Flows)
	dst = objTime(dst, "since", s.Since)
	dst = objInt(dst, "destinations", int64(s.Destinations))
	dst = objBool(dst, "destinations_capped", s.DestinationsCapped)
	dst = e.appendSummaryTop(objKey(dst, "top"), s.Top)
	return appendSummaryPorts(objKey(dst, "top_ports"), s.TopPorts)
}

// appendSummaryTop appends the busiest destinations as a JSON array of
// {proto, dst, the destination's port keys, zone, netns (when the encoder
// names namespaces: the same address in two namespaces is two
// destinations), flows}.
func (e *Encoder) appendSummaryTop(dst []byte, top []flow.DestinationCount) []byte {
	dst = append(dst, '[')
	for i := range top {
		d := &top[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = objStr(dst, "proto", d.Proto.JSONName())
		dst = appendAddr(objKey(dst, "dst"), familyOf(d.Addr), d.Addr)
		dst = appendDestPort(dst, d.Proto, d.Port)
		dst = objUint(dst, "zone", uint64(d.Zone))
		if ns := e.netnsOf(d.NetNS); ns != nil {
			dst = objRaw(dst, "netns", ns.json)
		}
		dst = objUint(dst, "flows", d.Flows)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendSummaryPorts appends the busiest destination ports as a JSON array
// of {proto, the port keys, flows}.
func appendSummaryPorts(dst []byte, ports []flow.PortCount) []byte {
	dst = append(dst, '[')
	for i := range ports {
		p := &ports[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = objStr(dst, "proto", p.Proto.JSONName())
		dst = appendDestPort(dst, p.Proto, p.Port)
		dst = objUint(dst, "flows", p.Flows)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendDestPort appends a destination's port with the key an entry's
// tuple gives it: dport for protocols with ports, type and code for ICMP
// (port is type<<8 | code), dstkey for GRE, nothing for the others.
func appendDestPort(dst []byte, proto model.Proto, port uint16) []byte {
	switch {
	case proto.HasPorts():
		dst = objUint(dst, "dport", uint64(port))
	case proto.IsICMP():
		dst = objUint(dst, "type", uint64(port>>8))
		dst = objUint(dst, "code", uint64(port&0xff))
	case proto == model.ProtoGRE:
		dst = objUint(dst, "dstkey", uint64(port))
	}
	return dst
}

// familyOf returns the family of a destination's address.
func familyOf(a netip.Addr) model.Family {
	if a.Is6() {
		return model.FamilyIPv6
	}
	return model.FamilyIPv4
}

// unrepliedSummarised writes "unreplied_summarised", the unreplied flows
// counted into summaries, when there are any: most runs see no scan.
func unrepliedSummarised(n uint64) func(*zerolog.Event) {
	return func(z *zerolog.Event) {
		if n > 0 {
			z.Uint64("unreplied_summarised", n)
		}
	}
}
