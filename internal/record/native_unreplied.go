package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
)

// nativeUnrepliedSummary writes a summary as an "unreplied" record without
// entry keys: summary true, flows (the count), since (the interval's
// start; time is its end), destinations, destinations_capped, top and
// top_ports.
func (e *Encoder) nativeUnrepliedSummary(s *flow.UnrepliedSummary) {
	z := e.nativeRecord(zerolog.WarnLevel, "unreplied")
	if z == nil {
		return
	}
	var buf [4096]byte
	z.Bool("summary", true).
		Uint64("flows", s.Flows).
		RawJSON("since", AppendTime(buf[:0], s.Since)).
		Int("destinations", s.Destinations).
		Bool("destinations_capped", s.DestinationsCapped).
		RawJSON("top", e.appendSummaryTop(buf[:0], s.Top)).
		RawJSON("top_ports", appendSummaryPorts(buf[:0], s.TopPorts)).
		Str("hint", unrepliedSummaryHint).
		Send()
}
