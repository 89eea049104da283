// Package health watches the connection-tracking table's pressure for
// `ctwatch watch`: every Config.Interval the watch loop calls
// [Monitor.Check], which takes a ctstat reading and emits records for the
// loop to write.
//
// Each check emits a "stats" record (info) with the table's count, limit and
// fill and how much each counter grew since the previous reading. When the
// fill rises through one of the configured thresholds (80, 90 and 95 % by
// default) it emits a "table_pressure" warning naming the sources and
// destination ports that hold the most entries, from a dump bounded by
// Config.MaxDump entries; when the fill falls back below a threshold by the
// hysteresis margin, a "table_pressure_cleared" record (info). Whenever
// drop, early_drop, insert_failed or invalid grew, it emits a "drops"
// warning with the growth and a one-line hint at the usual cause.
//
// A [Record] is plain data, tagged with its [Kind]; internal/record writes
// it, choosing its keys and level (the warnings above are warnings in the
// native schema).
//
// The package is pure: the readings and the dump come from functions the
// caller passes to NewMonitor, so tests drive it without a kernel.
package health
