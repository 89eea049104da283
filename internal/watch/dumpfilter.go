package watch

import (
	"context"
	"errors"

	"github.com/ctwatch/ctwatch/internal/filter"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// dumpFilters are what a watch's dumps ask the kernel to filter on, and
// which entries they seed the tracker with (Config.KernelFilter).
type dumpFilters struct {
	// full is Filter.DumpFilter: the startup dumps' and the health
	// monitor's.
	full events.DumpFilter
	// stable is full without the values a flow may change over its life
	// (mark, status): a reconciliation's, which must list every tracked
	// flow still in the table.
	stable events.DumpFilter
	// match selects the entries of full dumps the tracker is seeded
	// with; nil seeds every entry.
	match *filter.Filter
}

// newDumpFilters returns the dump filters of cfg: none without
// KernelFilter or without a Filter.
func newDumpFilters(cfg *Config) dumpFilters {
	if !cfg.KernelFilter || cfg.Filter.Empty() {
		return dumpFilters{}
	}
	d := dumpFilters{full: cfg.Filter.DumpFilter(), match: cfg.Filter}
	d.stable = d.full
	d.stable.Mark, d.stable.MarkMask = 0, 0
	d.stable.Status, d.stable.StatusMask = 0, 0
	return d
}

// selects reports whether an entry of a full dump is the watch's: one
// Filter selects, when the kernel filters.
func (d *dumpFilters) selects(ev *model.Event) bool {
	return d.match == nil || d.match.Match(ev)
}

// dumpFiltered is events.DumpFiltered, dumping again without the filter
// when the kernel refuses it (a kernel without connmark support, or
// without a part of the filter): the watch matches every entry itself, so
// an unfiltered dump only costs more.
func dumpFiltered(ctx context.Context, fd int, labels *model.LabelNames, f events.DumpFilter, fn func(*model.Event) bool) error {
	err := events.DumpFiltered(ctx, fd, labels, f, fn)
	if errors.Is(err, events.ErrFilterRefused) {
		return events.DumpNamed(ctx, fd, labels, fn)
	}
	return err
}
