package health

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// dumpTimeout bounds the dump behind a pressure warning, so that a table
// too big to read in time delays the watch loop by no more than this.
const dumpTimeout = 10 * time.Second

// ReadFunc takes one reading of the table, such as ctstat.Read bound to a
// namespace.
type ReadFunc func(ctx context.Context) (ctstat.Reading, error)

// DumpFunc calls fn for each entry of the table until fn returns false, and
// returns the dump's error, or nil when fn stopped it. The entry is only
// valid during the call.
type DumpFunc func(ctx context.Context, fn func(*model.Entry) bool) error

// Monitor turns periodic readings of the table into stats, pressure and drop
// records. Check is called by one goroutine; Last may be called from any.
type Monitor struct {
	cfg  Config
	read ReadFunc
	dump DumpFunc

	// level is how many thresholds are active: crossed going up and not
	// yet cleared. Only Check touches it.
	level int
	// idleWarned is when the last not_tracking warning was emitted, zero
	// while conntrack is in use. Only Check touches it.
	idleWarned time.Time

	mu     sync.Mutex
	prev   ctstat.Reading
	totals ctstat.CPUStats
	have   bool
}

// NewMonitor returns a Monitor that reads the table with read and finds the
// top holders of entries with dump (nil for none). cfg's zero Hysteresis
// and MaxDump mean their defaults (a negative Hysteresis means none); its
// thresholds are used sorted.
func NewMonitor(cfg Config, read ReadFunc, dump DumpFunc) *Monitor {
	if cfg.Hysteresis == 0 {
		cfg.Hysteresis = DefaultHysteresis
	}
	if cfg.NotTrackingRepeat <= 0 {
		cfg.NotTrackingRepeat = DefaultNotTrackingRepeat
	}
	cfg.Hysteresis = max(cfg.Hysteresis, 0)
	cfg.Thresholds = slices.Clone(cfg.Thresholds)
	slices.Sort(cfg.Thresholds)
	cfg.Thresholds = slices.Compact(cfg.Thresholds)
	if cfg.MaxDump <= 0 {
		cfg.MaxDump = DefaultMaxDump
	}
	if cfg.TopN < 0 {
		cfg.TopN = 0
	}
	return &Monitor{cfg: cfg, read: read, dump: dump}
}

// Check takes a reading and emits its records, in order: stats, then any
// table_pressure or table_pressure_cleared, then drops. The first reading
// has no previous one to compare with: its stats record carries no deltas
// and it emits no drops record (counters that grew before ctwatch started
// are doctor's business). A failed reading emits nothing and changes no
// state.
func (m *Monitor) Check(ctx context.Context, emit func(Record)) error {
	r, err := m.read(ctx)
	if err != nil {
		return fmt.Errorf("read conntrack statistics: %w", err)
	}
	m.mu.Lock()
	prev, have := m.prev, m.have
	m.mu.Unlock()

	fill := r.FillPercent()
	base := Record{Time: r.Time, Count: r.Count, Max: r.Max, Fill: fill}

	var delta ctstat.CPUStats
	stats := base
	stats.Kind, stats.Buckets = KindStats, r.Buckets
	if have {
		delta = r.Sum.Sub(prev.Sum)
		stats.Delta, stats.HasDelta, stats.Interval = delta, true, r.Time.Sub(prev.Time)
	}
	emit(stats)

	m.pressure(ctx, base, r, emit)
	m.notTracking(base, r, emit)

	if have {
		var d ctstat.CPUStats
		grew := false
		for _, c := range dropCounters {
			d[c] = delta[c]
			grew = grew || d[c] > 0
		}
		if grew {
			rec := base
			rec.Kind = KindDrops
			rec.Delta, rec.HasDelta, rec.Interval = d, true, r.Time.Sub(prev.Time)
			rec.Hint = dropHint(d)
			emit(rec)
		}
	}

	m.mu.Lock()
	if have {
		m.totals = m.totals.Add(delta)
	} else {
		m.totals = r.Sum
	}
	m.prev, m.have = r, true
	m.mu.Unlock()
	return nil
}

// pressure emits a table_pressure record for each threshold the fill rose
// through since the last check, or a table_pressure_cleared record for each
// it fell below by the hysteresis margin.
func (m *Monitor) pressure(ctx context.Context, base Record, r ctstat.Reading, emit func(Record)) {
	th := m.cfg.Thresholds
	if r.Max == 0 {
		// No limit, no pressure: clear what was active.
		base.Fill = 0
	}
	up := m.level
	for up < len(th) && base.Fill >= th[up] {
		up++
	}
	if up > m.level {
		top, err := m.top(ctx)
		for _, t := range th[m.level:up] {
			rec := base
			rec.Kind, rec.Threshold = KindTablePressure, t
			rec.Top, rec.TopErr = top, err
			emit(rec)
		}
		m.level = up
		return
	}
	for m.level > 0 && base.Fill < th[m.level-1]-m.cfg.Hysteresis {
		rec := base
		rec.Kind, rec.Threshold = KindTablePressureCleared, th[m.level-1]
		emit(rec)
		m.level--
	}
}

// top dumps at most MaxDump entries and counts them by source address and
// by destination port.
func (m *Monitor) top(ctx context.Context) (*Top, error) {
	if m.dump == nil || m.cfg.TopN == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, dumpTimeout)
	defer cancel()
	type portKey struct {
		proto model.Proto
		port  uint16
	}
	srcs := make(map[netip.Addr]int)
	ports := make(map[portKey]int)
	t := &Top{}
	err := m.dump(ctx, func(e *model.Entry) bool {
		if t.Scanned >= m.cfg.MaxDump {
			t.Sampled = true
			return false
		}
		t.Scanned++
		srcs[e.Orig.Src]++
		if e.Proto.HasPorts() {
			ports[portKey{e.Proto, e.Orig.DstPort}]++
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("dump the table: %w", err)
	}
	for a, n := range srcs {
		t.Src = append(t.Src, SrcCount{Addr: a, Entries: n})
	}
	slices.SortFunc(t.Src, func(a, b SrcCount) int {
		return cmp.Or(cmp.Compare(b.Entries, a.Entries), a.Addr.Compare(b.Addr))
	})
	for k, n := range ports {
		t.DPort = append(t.DPort, PortCount{Proto: k.proto, Port: k.port, Entries: n})
	}
	slices.SortFunc(t.DPort, func(a, b PortCount) int {
		return cmp.Or(cmp.Compare(b.Entries, a.Entries), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
	t.Src = t.Src[:min(len(t.Src), m.cfg.TopN)]
	t.DPort = t.DPort[:min(len(t.DPort), m.cfg.TopN)]
	return t, nil
}

// The hints of a drops record, by cause.
const (
	hintFull         = "the table was full: raise net.netfilter.nf_conntrack_max (and nf_conntrack_buckets) or lower the conntrack timeouts; traffic that must never be dropped (a heartbeat) can bypass conntrack with a notrack rule in the raw table"
	hintInsertFailed = "insertions failed: packets of one new flow raced on two CPUs (common with UDP such as DNS), or hash chains grew too long (see chaintoolong; raise nf_conntrack_buckets)"
	hintInvalid      = "invalid packets: out-of-window or asymmetric traffic (replies that bypass this host); check the routing, or relax TCP window checks with net.netfilter.nf_conntrack_tcp_be_liberal=1; a heartbeat whose packets conntrack rejects can bypass it with a notrack rule in the raw table"
)

// notTrackingHint says why a namespace's conntrack sees nothing and what to
// do, as doctor's "engaged" check does.
const notTrackingHint = "conntrack holds no entries and its counters are all zero: the kernel engages conntrack in a namespace only once a rule needs it (ct state, NAT, a helper); load such rules, or point --netns at the namespace that uses conntrack"

// notTracking emits a not_tracking warning when conntrack has never
// tracked a packet here: at the first such check, then every
// NotTrackingRepeat while it stays so. Any entry or counter movement ends
// it, and a later idle spell warns afresh.
func (m *Monitor) notTracking(base Record, r ctstat.Reading, emit func(Record)) {
	if r.Count > 0 || !r.Sum.IsZero() {
		m.idleWarned = time.Time{}
		return
	}
	if !m.idleWarned.IsZero() && r.Time.Sub(m.idleWarned) < m.cfg.NotTrackingRepeat {
		return
	}
	m.idleWarned = r.Time
	rec := base
	rec.Kind, rec.Hint = KindNotTracking, notTrackingHint
	emit(rec)
}

// dropHint explains the counters that grew, most serious first, in one
// line.
func dropHint(d ctstat.CPUStats) string {
	var hints []string
	if d[ctstat.Drop] > 0 || d[ctstat.EarlyDrop] > 0 {
		hints = append(hints, hintFull)
	}
	if d[ctstat.InsertFailed] > 0 {
		hints = append(hints, hintInsertFailed)
	}
	if d[ctstat.Invalid] > 0 {
		hints = append(hints, hintInvalid)
	}
	return strings.Join(hints, "; ")
}

// Last returns the latest reading and each counter's total since the first
// reading: the kernel's sum at the first reading plus every delta since,
// which, unlike the kernel's sum of 32-bit per-CPU counters, never goes
// backwards (for a Prometheus counter). ok is false before the first
// successful Check.
func (m *Monitor) Last() (r ctstat.Reading, totals ctstat.CPUStats, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prev, m.totals, m.have
}
