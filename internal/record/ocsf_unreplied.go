package record

import (
	"strconv"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
)

// ocsfUnrepliedSummary writes a summary as Network Activity of the
// unreplied warnings' activity (Other, "Unreplied"): count is the flows
// summarised between start_time and end_time (a warning's count is its
// destination's repeats), dst_endpoint the busiest destination, and
// unmapped.conntrack.unreplied_warning what the native record has at its
// top (summary, flows, since, destinations, destinations_capped, top,
// top_ports).
func (e *Encoder) ocsfUnrepliedSummary(s *flow.UnrepliedSummary) {
	z, seq := e.ocsfRecord(zerolog.WarnLevel, ocsfClass{class: ocsfNetworkActivity, activity: ocsfActivityOther,
		activityName: "Unreplied", severity: ocsfLow}, s.Time)
	if z == nil {
		return
	}
	z.Int64("start_time", s.Since.UnixMilli())
	z.Int64("end_time", s.Time.UnixMilli())
	z.Int("count", ocsfInt(s.Flows))
	z.Str("message", unrepliedSummaryHint)
	var buf [4096]byte
	if len(s.Top) > 0 {
		// Network Activity wants an endpoint; a summary's is the
		// destination most of its flows went to.
		d := &s.Top[0]
		b := appendAddr(append(buf[:0], `{"ip":`...), familyOf(d.Addr), d.Addr)
		if d.Proto.HasPorts() {
			b = strconv.AppendUint(append(b, `,"port":`...), uint64(d.Port), 10)
		}
		z.RawJSON("dst_endpoint", append(b, '}'))
	}
	b := e.appendSummaryKeys(append(buf[:0], '{'), s)
	ocsfUnmapped(z, e.ocsfConntrack(seq, "unreplied").RawJSON("unreplied_warning", append(b, '}')))
}
