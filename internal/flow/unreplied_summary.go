package flow

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// UnrepliedSummary stands for the unreplied flows of one interval that
// were not reported one by one: beyond Config.UnrepliedBurst warnings in
// Config.UnrepliedInterval, a scan or a DNS storm becomes one summary per
// interval that counts every flow and names the busiest destinations and
// ports, instead of one warning per flow.
type UnrepliedSummary struct {
	// Time is the now of the ExpireSummary call that closed the interval;
	// Since is when the interval began.
	Time, Since time.Time
	// Flows counts the unreplied flows summarised; Destinations the
	// distinct destinations among them (up to maxSummaryDests, beyond
	// which Destinations is a lower bound and DestinationsCapped is set).
	Flows              uint64
	Destinations       int
	DestinationsCapped bool
	// Top are the destinations with the most flows, at most
	// SummaryTop, most flows first; TopPorts likewise by protocol and
	// destination port.
	Top      []DestinationCount
	TopPorts []PortCount
}

// DestinationCount is one destination of an UnrepliedSummary.
type DestinationCount struct {
	// NetNS is the destination's namespace, as its flows' events said
	// (model.Event.NetNS): one summary covers every namespace the tracker
	// follows, and the same address in two of them is two destinations.
	NetNS model.NetNS
	Proto model.Proto
	Zone  uint16
	Addr  netip.Addr
	// Port is the destination port; for ICMP, type<<8 | code.
	Port  uint16
	Flows uint64
}

// PortCount is one destination port of an UnrepliedSummary.
type PortCount struct {
	Proto model.Proto
	// Port is the destination port; for ICMP, type<<8 | code.
	Port  uint16
	Flows uint64
}

// SummaryTop is how many destinations and ports a summary names.
const SummaryTop = 5

// maxSummaryDests bounds the distinct destinations counted per interval, so
// that a scan of a /8 costs a bounded map; flows beyond it are still
// counted in Flows.
const maxSummaryDests = 4096

type portKey struct {
	proto model.Proto
	port  uint16
}

// burst is the unreplied detector's rate limit: the warnings of the current
// interval, and what it summarises once the budget is spent.
type burst struct {
	limit    int
	interval int64
	start    int64 // the current interval's start; 0 before the first
	warned   int
	flows    uint64
	dests    map[destKey]uint64
	capped   bool
	ports    map[portKey]uint64
}

func newBurst(limit int, interval time.Duration) burst {
	return burst{limit: limit, interval: int64(interval)}
}

// admit decides whether an unreplied flow to d, found due at now, is
// reported on its own (true) or summarised (false, and counted).
func (b *burst) admit(d destKey, now int64) bool {
	if b.limit < 0 {
		return true
	}
	if b.start == 0 || b.flows == 0 && now-b.start >= b.interval {
		// Nothing is pending: a quiet interval restarts the budget at
		// once, without waiting for ExpireSummary.
		b.start, b.warned = now, 0
	}
	if b.warned < b.limit {
		b.warned++
		return true
	}
	b.flows++
	if b.dests == nil {
		b.dests, b.ports = make(map[destKey]uint64), make(map[portKey]uint64)
	}
	if _, ok := b.dests[d]; ok || len(b.dests) < maxSummaryDests {
		b.dests[d]++
	} else {
		b.capped = true
	}
	b.ports[portKey{d.proto, d.port}]++
	return false
}

// ExpireSummary closes the unreplied detector's interval once
// Config.UnrepliedInterval has passed since it began: when flows were
// summarised in it, emit receives their summary. Call it before Expire,
// with the same now, so that the flows Expire finds due after an interval
// ended open the next one. emit must not call the Tracker.
func (t *Tracker) ExpireSummary(now time.Time, emit func(*UnrepliedSummary)) {
	b := &t.burst
	if b.start == 0 || now.UnixNano()-b.start < b.interval {
		return
	}
	t.closeSummary(now, emit)
}

// FlushSummary emits the summary of the interval under way, if it holds
// flows, whatever its age: at the end of a watch, so that every unreplied
// flow is reported.
func (t *Tracker) FlushSummary(now time.Time, emit func(*UnrepliedSummary)) {
	t.closeSummary(now, emit)
}

func (t *Tracker) closeSummary(now time.Time, emit func(*UnrepliedSummary)) {
	b := &t.burst
	since := b.start
	b.start, b.warned = now.UnixNano(), 0
	if b.flows == 0 {
		return
	}
	s := UnrepliedSummary{
		Time: now, Since: time.Unix(0, since).UTC(),
		Flows: b.flows, Destinations: len(b.dests), DestinationsCapped: b.capped,
	}
	for d, c := range b.dests {
		s.Top = append(s.Top, DestinationCount{NetNS: netnsOf(d.ns), Proto: d.proto, Zone: d.zone,
			Addr: addrFrom16(d.family, d.addr), Port: d.port, Flows: c})
	}
	slices.SortFunc(s.Top, func(a, b DestinationCount) int {
		return cmp.Or(cmp.Compare(b.Flows, a.Flows), a.Addr.Compare(b.Addr),
			cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Zone, b.Zone),
			cmp.Compare(nsKey(a.NetNS), nsKey(b.NetNS)))
	})
	s.Top = s.Top[:min(len(s.Top), SummaryTop)]
	for p, c := range b.ports {
		s.TopPorts = append(s.TopPorts, PortCount{Proto: p.proto, Port: p.port, Flows: c})
	}
	slices.SortFunc(s.TopPorts, func(a, b PortCount) int {
		return cmp.Or(cmp.Compare(b.Flows, a.Flows), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto))
	})
	s.TopPorts = s.TopPorts[:min(len(s.TopPorts), SummaryTop)]
	b.flows, b.capped = 0, false
	clear(b.dests)
	clear(b.ports)
	t.stats.UnrepliedSummaries++
	emit(&s)
}
