package record

import "github.com/rs/zerolog"

// The OCSF schema's records about the namespaces of a watch of several:
// Base Events of activity Other, as the other records about the watch
// (netns_gone aside, a failure), with the namespace's container as
// device.container and its identity under unmapped.conntrack.netns.

// ocsfNetns starts a record about namespace s.ns, its identity rendered
// into buf.
func (e *Encoder) ocsfNetns(level zerolog.Level, name string, s *netnsSlot, buf []byte) (*zerolog.Event, uint64) {
	s.found = true
	s.json = appendNSIdentity(buf, &s.ns)
	return e.ocsfRecordNS(level, ocsfClass{class: ocsfBaseEvent, activity: ocsfActivityOther, activityName: name,
		severity: ocsfInformational}, e.clock(), s)
}

func (e *Encoder) ocsfNetnsAdded(a *NetnsAdded) {
	var buf [512]byte
	s := netnsSlot{ns: a.NS}
	z, seq := e.ocsfNetns(netnsAddedLevel(a), "Netns Added", &s, buf[:0])
	if z == nil {
		return
	}
	if a.Dumped {
		if a.Err != nil {
			ocsfStatus(z, ocsfStatusFailure)
			z.Str("status_detail", a.Err.Error())
		} else {
			ocsfStatus(z, ocsfStatusSuccess)
		}
		z.Int("count", ocsfInt(a.Entries))
	}
	d := zerolog.Dict().Bool("dumped", a.Dumped)
	if a.Dumped {
		d.Uint64("entries", a.Entries)
	}
	ocsfUnmapped(z, e.ocsfConntrack(seq, "netns_added").RawJSON("netns", s.json).Dict("netns_added", d))
}

func (e *Encoder) ocsfNetnsRemoved(r *NetnsRemoved) {
	var buf [512]byte
	s := netnsSlot{ns: r.NS}
	z, seq := e.ocsfNetns(zerolog.InfoLevel, "Netns Removed", &s, buf[:0])
	if z == nil {
		return
	}
	z.Int("count", ocsfInt(uint64(max(r.Ended, 0))))
	ocsfUnmapped(z, e.ocsfConntrack(seq, "netns_removed").RawJSON("netns", s.json).
		Dict("netns_removed", zerolog.Dict().Int("flows_ended", r.Ended).Uint64("events", r.Events)))
}
