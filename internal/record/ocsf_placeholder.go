package record

import (
	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// PLACEHOLDER: the OCSF schema's record methods, to be replaced by its
// files (ocsf_*.go). Each writes nothing yet.

func (e *Encoder) ocsfEntry(ev *model.Event, res *flow.Result) {}
func (e *Encoder) ocsfEvent(ev *model.Event)                   {}
func (e *Encoder) ocsfHeartbeat(h *Heartbeat)                  {}
func (e *Encoder) ocsfInferred(in *flow.Inferred)              {}
func (e *Encoder) ocsfUnreplied(u *flow.Unreplied)             {}
func (e *Encoder) ocsfStart(s *Start)                          {}
func (e *Encoder) ocsfEventsDisabled()                         {}
func (e *Encoder) ocsfEventsOnDemand()                         {}
func (e *Encoder) ocsfStop(t *Totals)                          {}
func (e *Encoder) ocsfDump(d *Dump)                            {}
func (e *Encoder) ocsfReconcile(r *Reconcile)                  {}
func (e *Encoder) ocsfGap(g *Gap)                              {}
func (e *Encoder) ocsfDecodeError(err error, raw []byte)       {}
func (e *Encoder) ocsfFlowsEvicted(f *FlowsEvicted)            {}
func (e *Encoder) ocsfHealth(r *health.Record)                 {}
func (e *Encoder) ocsfStatsError(err error)                    {}
func (e *Encoder) ocsfReading(r *ctstat.Reading, perCPU bool)  {}
