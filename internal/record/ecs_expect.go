package record

import (
	"bytes"
	"net/netip"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// The classes of the expectation records: a helper read a connection's
// application protocol and announced the connection it expects (ECS
// 9.4.0's network category takes protocol and info).
var (
	ecsExpectNewClass     = ecsClass{"event", ecsNetwork, `["protocol","info"]`, "conntrack-expect-new"}
	ecsExpectDestroyClass = ecsClass{"event", ecsNetwork, `["protocol","info"]`, "conntrack-expect-destroy"}
	ecsExpectOtherClass   = ecsClass{"state", ecsNetwork, `["protocol","info"]`, "conntrack-expect-snapshot"}
)

// ecsExpect writes an expectation record: network, source and destination
// of the expected tuple, related.ip with the master's addresses, process
// for an origin, and the native keys under conntrack.
func (e *Encoder) ecsExpect(level zerolog.Level, ev *model.ExpectEvent) {
	z := e.ecsOpen(level)
	if z == nil {
		return
	}
	x := &ev.Expect
	c := &ecsExpectOtherClass
	switch ev.Type {
	case model.EventNew:
		c = &ecsExpectNewClass
	case model.EventDestroy:
		c = &ecsExpectDestroyClass
	}
	at := ev.Time
	if at.IsZero() {
		at = e.clock()
	}
	var extra ecsEventExtra
	e.ecsHead(z, at, level, c, &extra, "")

	var buf [512]byte
	b := appendECSNetworkProto(append(buf[:0], '{'), x.Family, x.Proto)
	z.RawJSON("network", append(b, '}'))

	ports := x.Proto.HasPorts()
	var sb, db [64]byte
	src := appendAddr(sb[:0], x.Family, x.Tuple.Src)
	dst := appendAddr(db[:0], x.Family, x.Tuple.Dst)
	b = objRaw(append(buf[:0], '{'), "ip", src)
	if ports {
		b = objUint(b, "port", uint64(x.Tuple.SrcPort))
	}
	z.RawJSON("source", append(b, '}'))
	b = objRaw(append(buf[:0], '{'), "ip", dst)
	if ports {
		b = objUint(b, "port", uint64(x.Tuple.DstPort))
	}
	z.RawJSON("destination", append(b, '}'))

	// The addresses of the expected connection and of its master, once
	// each; a wildcard (an unspecified address) is none.
	b = append(buf[:0], `{"ip":[`...)
	var seen [4][]byte
	n := 0
	var ab [4][64]byte
	for i, a := range [...]netip.Addr{x.Tuple.Src, x.Tuple.Dst, x.Master.Src, x.Master.Dst} {
		if !a.IsValid() || a.IsUnspecified() || i >= 2 && !x.Fields.Has(model.ExpectFieldMaster) {
			continue
		}
		q := appendAddr(ab[i][:0], x.Family, a)
		dup := false
		for _, s := range seen[:n] {
			dup = dup || bytes.Equal(s, q)
		}
		if dup {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, q...)
		seen[n] = q
		n++
	}
	if n > 0 {
		z.RawJSON("related", append(b, ']', '}'))
	}
	ecsProcess(z, &ev.Origin)
	ns := e.netnsOf(ev.NetNS)
	ecsContainer(z, ns)

	ct := zerolog.Dict().Str("event", expectEventName(ev.Type)).Str("run", e.run)
	if ns != nil {
		ct.RawJSON("netns", ns.json)
	}
	(*expectJSON)(x).MarshalZerologObject(ct)
	if !ev.Origin.IsZero() {
		o := zerolog.Dict()
		(*originJSON)(&ev.Origin).MarshalZerologObject(o)
		ct.Dict("origin", o)
	}
	z.Dict("conntrack", ct)
	z.Send()
}
