package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// nativeExpect writes an expectation record: time (when known), event,
// the envelope, netns, the expectation's keys and origin.
func (e *Encoder) nativeExpect(level zerolog.Level, ev *model.ExpectEvent) {
	var z *zerolog.Event
	if level == zerolog.NoLevel {
		z = e.log.Log()
	} else {
		z = e.log.WithLevel(level)
	}
	if z == nil {
		return
	}
	if !ev.Time.IsZero() {
		var buf [40]byte
		z.RawJSON("time", AppendTime(buf[:0], ev.Time))
	}
	z.Str("event", expectEventName(ev.Type))
	e.nativeEnvelope(z)
	e.nativeNetNS(z, ev.NetNS)
	(*expectJSON)(&ev.Expect).MarshalZerologObject(z)
	if !ev.Origin.IsZero() {
		o := zerolog.Dict()
		(*originJSON)(&ev.Origin).MarshalZerologObject(o)
		z.Dict("origin", o)
	}
	z.Send()
}
