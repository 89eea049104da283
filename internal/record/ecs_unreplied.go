package record

import (
	"slices"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
)

// ecsUnrepliedSummary writes a summary with the class of an unreplied
// warning (event.action conntrack-unreplied): event.start and event.end
// are the interval, related.ip the busiest destinations, and
// conntrack.unreplied_warning holds what the native record has at its top
// (summary, flows, since, destinations, destinations_capped, top,
// top_ports); flows is where a warning has its 1.
func (e *Encoder) ecsUnrepliedSummary(s *flow.UnrepliedSummary) {
	z := e.ecsOpen(zerolog.WarnLevel)
	if z == nil {
		return
	}
	e.ecsHead(z, s.Time, zerolog.WarnLevel, &ecsUnrepliedClass,
		&ecsEventExtra{start: s.Since, end: s.Time}, unrepliedSummaryHint)
	var buf [4096]byte
	if len(s.Top) > 0 {
		b := append(buf[:0], `{"ip":[`...)
		for i := range s.Top {
			// The same address may be busy on two ports: related.ip
			// names it once.
			if slices.ContainsFunc(s.Top[:i], func(d flow.DestinationCount) bool { return d.Addr == s.Top[i].Addr }) {
				continue
			}
			if b[len(b)-1] != '[' {
				b = append(b, ',')
			}
			b = appendIP(b, familyOf(s.Top[i].Addr), s.Top[i].Addr)
		}
		z.RawJSON("related", append(b, "]}"...))
	}
	b := e.appendSummaryKeys(append(buf[:0], '{'), s)
	z.Dict("conntrack", e.ecsConntrack("unreplied").RawJSON("unreplied_warning", append(b, '}')))
	z.Send()
}
