package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// WriteFlowObjects writes a transition and a lifecycle alone, as
// internal/flow's BenchmarkMarshal did before this package owned them, so
// that BenchmarkMarshal still compares like with like.
func WriteFlowObjects(log *zerolog.Logger, tr *flow.Transition, lc *flow.Lifecycle) {
	log.Info().Object("transition", (*transitionJSON)(tr)).Object("flow", (*lifecycleJSON)(lc)).Send()
}

// SetNetNS gives e the namespace hook Config.NetNS would have, so that the
// tests' shared cases write the records of a watch of several namespaces
// with the encoders their schema's harness makes.
func SetNetNS(e *Encoder, f func(model.NetNS) (nsdiscover.NS, bool)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.netns, e.netnsCache = f, new(netnsCache)
}
