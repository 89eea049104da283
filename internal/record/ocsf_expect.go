package record

import (
	"strconv"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// ocsfExpect writes an expectation record: Network Activity (4001) of
// activity Other, named "Expect New" or "Expect Destroy", with the
// endpoints and connection_info of the expected tuple, actor for an
// origin, and the native keys under unmapped.conntrack.
func (e *Encoder) ocsfExpect(level zerolog.Level, ev *model.ExpectEvent) {
	x := &ev.Expect
	name := "Expect"
	switch ev.Type {
	case model.EventNew:
		name = "Expect New"
	case model.EventDestroy:
		name = "Expect Destroy"
	}
	ns := e.netnsOf(ev.NetNS)
	z, seq := e.ocsfRecordNS(level, ocsfClass{class: ocsfNetworkActivity, activity: ocsfActivityOther,
		activityName: name, severity: ocsfInformational}, ev.Time, ns)
	if z == nil {
		return
	}
	en := model.Entry{Family: x.Family, Proto: x.Proto}
	var buf [256]byte
	z.RawJSON("src_endpoint", ocsfAppendEndpoint(buf[:0], &en, x.Tuple.Src, x.Tuple.SrcPort))
	z.RawJSON("dst_endpoint", ocsfAppendEndpoint(buf[:0], &en, x.Tuple.Dst, x.Tuple.DstPort))
	b := append(buf[:0], `{"protocol_num":`...)
	b = strconv.AppendUint(b, uint64(x.Proto), 10)
	if n := ocsfIANAName(x.Proto); n != "" {
		b = append(b, `,"protocol_name":"`...)
		b = append(b, n...)
		b = append(b, '"')
	}
	switch x.Family {
	case model.FamilyIPv4:
		b = append(b, `,"protocol_ver_id":4`...)
	case model.FamilyIPv6:
		b = append(b, `,"protocol_ver_id":6`...)
	}
	z.RawJSON("connection_info", append(b, `,"direction_id":0}`...))
	ocsfActor(z, &ev.Origin)
	c := e.ocsfConntrack(seq, expectEventName(ev.Type))
	if ns != nil {
		c.RawJSON("netns", ns.json)
	}
	(*expectJSON)(x).MarshalZerologObject(c)
	if !ev.Origin.IsZero() {
		o := zerolog.Dict()
		(*originJSON)(&ev.Origin).MarshalZerologObject(o)
		c.Dict("origin", o)
	}
	ocsfUnmapped(z, c)
}
