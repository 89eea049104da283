package record

import "github.com/rs/zerolog"

func (e *Encoder) nativeNetnsAdded(a *NetnsAdded) {
	z := e.nativeRecord(netnsAddedLevel(a), "netns_added")
	if z == nil {
		return
	}
	var buf [512]byte
	z.RawJSON("netns", appendNSIdentity(buf[:0], &a.NS)).Bool("dumped", a.Dumped)
	if a.Dumped {
		z.Uint64("entries", a.Entries)
	}
	z.Err(a.Err).Send()
}

func (e *Encoder) nativeNetnsRemoved(r *NetnsRemoved) {
	z := e.nativeRecord(zerolog.InfoLevel, "netns_removed")
	if z == nil {
		return
	}
	var buf [512]byte
	z.RawJSON("netns", appendNSIdentity(buf[:0], &r.NS)).
		Int("flows_ended", r.Ended).
		Uint64("events", r.Events).
		Send()
}

// netnsTotals writes the stop record's per-namespace counts: each
// namespace's identity keys with its events and records, at most
// MaxStopNetNS of them.
type netnsTotals []NetNSTotal

// MarshalZerologArray implements zerolog.LogArrayMarshaler.
func (n netnsTotals) MarshalZerologArray(a *zerolog.Array) {
	var buf [512]byte
	for i := range n[:min(len(n), MaxStopNetNS)] {
		b := appendNSIdentity(buf[:0], &n[i].NS)
		b = objUint(b[:len(b)-1], "events", n[i].Events) // reopen the object
		b = objUint(b, "records", n[i].Records)
		a.RawJSON(append(b, '}'))
	}
}

// netnsMore returns the stop record's netns_more: the namespaces the
// caller left out and those beyond MaxStopNetNS.
func netnsMore(t *Totals) int {
	return t.NetNSMore + max(len(t.NetNS)-MaxStopNetNS, 0)
}
