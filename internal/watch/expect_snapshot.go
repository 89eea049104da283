package watch

import (
	"context"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// DumpExpectFunc lists the expectation table of the namespace h (nil: the
// caller's own) as events.DumpExpect does: fn gets each expectation, an
// EventSnapshot it must copy to keep.
type DumpExpectFunc func(ctx context.Context, h *netns.Handle, fn func(*model.ExpectEvent) bool) error

// snapshotsExpects reports whether the startup dumps also list the
// expectation table: with Snapshot and an expectation event type
// selected, so that the stream of expectations begins with those that
// already wait.
func (w *Watch) snapshotsExpects() bool {
	return w.cfg.Snapshot && w.cfg.Types&events.ExpectTypes != 0
}

// snapshotExpects writes an "expect_snapshot" record for each expectation
// of namespace h (key ns in a watch of several), and returns how many
// were listed. The caller holds the output's wait (Config.Out.Wait), as
// for entry snapshots: the records wait for the output rather than drop,
// so the dump's context has no overall timeout; each read is bounded by
// events.DumpIdleTimeout and ctx.
func (w *Watch) snapshotExpects(ctx context.Context, h *netns.Handle, ns model.NetNS) (uint64, error) {
	dump := w.cfg.DumpExpect
	if dump == nil {
		dump = func(ctx context.Context, h *netns.Handle, fn func(*model.ExpectEvent) bool) error {
			return events.DumpExpect(ctx, h.FD(), fn)
		}
	}
	dctx, cancel := w.dumpContext(ctx, true)
	defer cancel()
	var n uint64
	var x events.ExpectEvent
	err := dump(dctx, h, func(ev *model.ExpectEvent) bool {
		n++
		x.ExpectEvent = *ev
		x.NetNS = ns
		w.expect(&x)
		return true
	})
	if err != nil {
		return n, fmt.Errorf("expectation snapshot: %w", err)
	}
	return n, nil
}
