package watch

import (
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// expect handles one expectation event (of a watch with --events expect,
// expect-new or expect-destroy). Expectations bypass the flow tracker,
// which holds connections, and the filter, whose flags select
// connections: every expectation received is written, unless it is of a
// namespace outside a watched set. The connection it announces is tracked
// when it arrives, as any.
func (w *Watch) expect(x *events.ExpectEvent) {
	c := &w.counters
	switch x.Type {
	case model.EventNew:
		c.ExpectNew.Add(1)
	case model.EventDestroy:
		c.ExpectDestroy.Add(1)
	}
	if w.ns != nil && w.ns.fixed && w.ns.slot(x.NetNS) == nil {
		c.OtherNetNS.Add(1)
		return
	}
	if x.Origin.PortID != 0 && x.Origin.Program == "" && !x.NetNS.Peer {
		x.Origin.PID, x.Origin.Program = w.cfg.Origins.Resolve(x.Origin.PortID, x.Time)
	}
	c.ExpectWritten.Add(1)
	w.nsRecord(x.NetNS)
	if w.cfg.Format == FormatText {
		w.textBuf = w.rec.AppendExpectText(w.textBuf[:0], &x.ExpectEvent, &w.cfg.Text)
		// The sink never fails a record: it drops and counts.
		_, _ = w.cfg.Out.Write(w.textBuf)
		return
	}
	w.rec.Expect(&x.ExpectEvent)
}
