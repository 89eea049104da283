package record

import (
	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// PLACEHOLDER: the ECS schema's record methods, to be replaced by its
// files (ecs_*.go). Each writes nothing yet.

func (e *Encoder) ecsEntry(ev *model.Event, res *flow.Result) {}
func (e *Encoder) ecsEvent(ev *model.Event)                   {}
func (e *Encoder) ecsHeartbeat(h *Heartbeat)                  {}
func (e *Encoder) ecsInferred(in *flow.Inferred)              {}
func (e *Encoder) ecsUnreplied(u *flow.Unreplied)             {}
func (e *Encoder) ecsStart(s *Start)                          {}
func (e *Encoder) ecsEventsDisabled()                         {}
func (e *Encoder) ecsEventsOnDemand()                         {}
func (e *Encoder) ecsStop(t *Totals)                          {}
func (e *Encoder) ecsDump(d *Dump)                            {}
func (e *Encoder) ecsReconcile(r *Reconcile)                  {}
func (e *Encoder) ecsGap(g *Gap)                              {}
func (e *Encoder) ecsDecodeError(err error, raw []byte)       {}
func (e *Encoder) ecsFlowsEvicted(f *FlowsEvicted)            {}
func (e *Encoder) ecsHealth(r *health.Record)                 {}
func (e *Encoder) ecsStatsError(err error)                    {}
func (e *Encoder) ecsReading(r *ctstat.Reading, perCPU bool)  {}
