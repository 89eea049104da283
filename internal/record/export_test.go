package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
)

// WriteFlowObjects writes a transition and a lifecycle alone, as
// internal/flow's BenchmarkMarshal did before this package owned them, so
// that BenchmarkMarshal still compares like with like.
func WriteFlowObjects(log *zerolog.Logger, tr *flow.Transition, lc *flow.Lifecycle) {
	log.Info().Object("transition", (*transitionJSON)(tr)).Object("flow", (*lifecycleJSON)(lc)).Send()
}
