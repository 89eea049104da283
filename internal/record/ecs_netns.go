package record

import "github.com/rs/zerolog"

// The classes of the records about the namespaces of a watch of several.
var (
	ecsNetnsAddedClass   = ecsClass{"event", ecsNetwork, ecsInfo, "conntrack-netns-added"}
	ecsNetnsRemovedClass = ecsClass{"event", ecsNetwork, ecsInfo, "conntrack-netns-removed"}
)

// ecsNetnsIdentity writes a namespace's container.id and orchestrator
// fields and returns its identity object, for conntrack.netns.
func ecsNetnsIdentity(z *zerolog.Event, s *netnsSlot, buf []byte) []byte {
	s.json = appendNSIdentity(buf, &s.ns)
	ecsContainer(z, s)
	return s.json
}

func (e *Encoder) ecsNetnsAdded(a *NetnsAdded) {
	var x *ecsEventExtra
	if a.Dumped {
		x = &ecsEventExtra{outcome: ecsOutcomeOf(a.Err)}
	}
	z := e.ecsRecord(netnsAddedLevel(a), &ecsNetnsAddedClass, x, "")
	if z == nil {
		return
	}
	ecsError(z, a.Err)
	var buf [512]byte
	s := netnsSlot{found: true, ns: a.NS}
	id := ecsNetnsIdentity(z, &s, buf[:0])
	d := zerolog.Dict().Bool("dumped", a.Dumped)
	if a.Dumped {
		d.Uint64("entries", a.Entries)
	}
	z.Dict("conntrack", e.ecsConntrack("netns_added").RawJSON("netns", id).Dict("netns_added", d))
	z.Send()
}

func (e *Encoder) ecsNetnsRemoved(r *NetnsRemoved) {
	z := e.ecsRecord(zerolog.InfoLevel, &ecsNetnsRemovedClass, nil, "")
	if z == nil {
		return
	}
	var buf [512]byte
	s := netnsSlot{found: true, ns: r.NS}
	id := ecsNetnsIdentity(z, &s, buf[:0])
	z.Dict("conntrack", e.ecsConntrack("netns_removed").RawJSON("netns", id).
		Dict("netns_removed", zerolog.Dict().Int("flows_ended", r.Ended).Uint64("events", r.Events)))
	z.Send()
}
