package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// ErrNetnsGone is returned by Run when the watched network namespace is
// gone (no name and no process holds it) and Config.OnNetnsGone is
// NetnsGoneExit.
var ErrNetnsGone = errors.New("the watched network namespace is gone")

// NetnsGonePolicy says what a watch does once its namespace is gone.
type NetnsGonePolicy uint8

// The policies.
const (
	// NetnsGoneExit stops the watch: Run returns ErrNetnsGone.
	NetnsGoneExit NetnsGonePolicy = iota
	// NetnsGoneWait keeps it running, /healthz unhealthy, for an operator
	// who would rather see the state than lose the process.
	NetnsGoneWait
)

// ParseNetnsGonePolicy parses "exit" or "wait".
func ParseNetnsGonePolicy(s string) (NetnsGonePolicy, error) {
	switch s {
	case "exit":
		return NetnsGoneExit, nil
	case "wait":
		return NetnsGoneWait, nil
	}
	return 0, fmt.Errorf("unknown policy %q (want exit or wait)", s)
}

func (p NetnsGonePolicy) String() string {
	if p == NetnsGoneWait {
		return "wait"
	}
	return "exit"
}

// defaultNetnsCheck is how often the watched namespace is checked: the
// check reads every process's namespace link, too much for every turn of
// the loop, and a namespace's end is noticed within seconds.
const defaultNetnsCheck = 2 * time.Second

// faultState is what /healthz reports of the output and the namespace.
// The loop writes it; the metrics server's goroutine reads it.
type faultState struct {
	mu sync.Mutex
	// output holds, by output and operation ("write", "reopen",
	// "send"), the failure of those that fail now.
	output map[faultKey]string
	// netns is why the namespace is gone, "" while it is not.
	netns string
}

// unhealthy returns why the output or the namespace is unhealthy, or nil.
func (s *faultState) unhealthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.netns != "" {
		return errors.New(s.netns)
	}
	if len(s.output) == 0 {
		return nil
	}
	// Every failing output is named, in a stable order.
	keys := slices.SortedFunc(maps.Keys(s.output), func(a, b faultKey) int {
		return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.op, b.op))
	})
	whys := make([]string, len(keys))
	for i, k := range keys {
		whys[i] = s.output[k]
	}
	return errors.New(strings.Join(whys, "; "))
}

// faultKey is what can fail: an operation of one output.
type faultKey struct{ path, op string }

// outputFault writes the record of a change in the output's health and
// keeps the state /healthz reports. A write failure's record goes to the
// output that fails: it lands once writes succeed again (the sink has said
// it on the diagnostic stream already). With text output the records go to
// the diagnostic stream, which has the sink's line: they are not repeated.
func (w *Watch) outputFault(f sink.Fault) {
	st := &w.faults
	st.mu.Lock()
	if st.output == nil {
		st.output = make(map[faultKey]string)
	}
	switch k := (faultKey{f.Path, f.Op}); {
	case f.Err == nil:
		delete(st.output, k)
	case f.Op != "close": // a failed close is an event, not a state
		st.output[k] = f.String()
	}
	st.mu.Unlock()

	if f.Op == "write" && f.Err != nil {
		w.writeErrno = f.Errno
	}
	var lost uint64
	if f.Op == "write" && f.Err == nil {
		lost = f.Lost - w.lostRecovered
		w.lostRecovered = f.Lost
	}
	if w.cfg.Format == FormatText {
		return
	}
	if f.Err != nil {
		w.rec.OutputError(&record.OutputError{Op: f.Op, Path: f.Path, Err: f.Err, Errno: f.Errno,
			Hint: sink.Hint(f.Err), Torn: f.Torn, LostTotal: f.Lost})
		return
	}
	rec := record.OutputRecovered{Op: f.Op, Path: f.Path, LostTotal: f.Lost, Lost: lost}
	if f.Op == "write" {
		rec.Errno = w.writeErrno
	}
	w.rec.OutputRecovered(&rec)
}

// drainFaults handles the faults the outputs have reported, without
// waiting.
func (w *Watch) drainFaults() { w.cfg.Out.DrainFaults(w.outputFault) }

// checkNetns checks whether the watched namespace is gone. The first time
// it is, it writes a netns_gone record, ends every tracked flow as
// inferred (a reconcile record with reason netns_gone counts them: no
// DESTROY can come from a namespace nothing lives in), makes /healthz
// unhealthy and, under NetnsGoneExit, returns ErrNetnsGone. A failed check
// is not an answer: it is tried again at the next.
func (w *Watch) checkNetns(now time.Time) error {
	cfg := &w.cfg
	gone, err := cfg.Orphaned()
	if err != nil || !gone {
		return nil
	}
	w.netnsGone = true
	name, ino := cfg.NS.String(), cfg.NS.ID()
	why := fmt.Sprintf("network namespace %s (inode %d) is gone: no name and no process holds it", name, ino)
	w.faults.mu.Lock()
	w.faults.netns = why
	w.faults.mu.Unlock()

	tracked := uint64(w.tracker.Len())
	w.rec.NetnsGone(&record.NetnsGone{NetNS: name, Inode: ino, FlowsEnded: tracked, Wait: cfg.OnNetnsGone == NetnsGoneWait})
	// Every tracked flow ends (they are all of the one namespace, the
	// local one of the socket inside it), inferred with reason netns_gone.
	inferredBefore := w.tracker.Stats().Inferred
	w.tracker.EndNetNS(model.NetNS{}, now, w.inferred)
	w.rec.Reconcile(&record.Reconcile{Reason: "netns_gone", Inferred: w.tracker.Stats().Inferred - inferredBefore})
	w.counters.Tracked.Store(int64(w.tracker.Len()))
	if cfg.OnNetnsGone == NetnsGoneWait {
		return nil
	}
	return fmt.Errorf("%w: %s (inode %d): it was deleted and no process lives in it (--on-netns-gone wait keeps watching)",
		ErrNetnsGone, name, ino)
}

// netnsRemoval is the event-driven check of a watch of one namespace
// opened by a name or path: the namespace's file is watched, and checked
// only when it may have gone.
type netnsRemoval struct {
	// armed is set while the file is watched: no periodic check is due.
	// After the first notification it is cleared for good: the name no
	// longer holds the namespace, a process may, and only the periodic
	// check sees the last one leave. Owned by the loop.
	armed bool
	// due is set by the watching goroutine when the file may have gone:
	// the loop checks at its next turn.
	due atomic.Bool
}

// watchNetns arms the event-driven check of the watched namespace, when
// the real check is used and the namespace's file can be watched; until
// ctx ends a notification wakes src's wait. Otherwise the periodic check
// remains.
func (w *Watch) watchNetns(ctx context.Context, src Source) {
	cfg := &w.cfg
	if w.ns != nil || !cfg.watchNetNS || cfg.NetnsCheck <= 0 {
		return
	}
	ok, err := cfg.NS.WatchRemoval(ctx, func() {
		w.gone.due.Store(true)
		src.Wake()
	})
	if err != nil {
		cfg.Log.Debug().Err(err).Msg("namespace removal not watched: checking periodically")
	}
	w.gone.armed = ok
}

// watchedNetnsCheck multiplies Config.NetnsCheck while the removal of the
// namespace's name is watched: the periodic check is then only for what
// inotify does not see (the name unmounted and left in place, which takes
// a deliberate umount), so half a minute to notice it is enough, and an
// idle watch wakes for it fifteen times less.
const watchedNetnsCheck = 15

// netnsEvery is how often the periodic namespace check runs: NetnsCheck,
// or watchedNetnsCheck times that while the name's removal is watched.
func (w *Watch) netnsEvery() time.Duration {
	if w.ns == nil && w.gone.armed {
		return watchedNetnsCheck * w.cfg.NetnsCheck
	}
	return w.cfg.NetnsCheck
}

// netnsTimer runs checkNetns when it is due, until the namespace is gone:
// at once when its name's removal was seen, and every netnsEvery.
func (w *Watch) netnsTimer(now time.Time, t *loopTimers) error {
	if w.cfg.NetnsCheck <= 0 || w.netnsGone {
		return nil
	}
	if w.ns == nil && w.gone.armed && w.gone.due.Swap(false) {
		// The name is gone: it cannot be watched any more, so the check
		// is periodic from now on (netnsEvery).
		w.gone.armed = false
		t.netns = now
		return w.checkNetns(now)
	}
	// While the name's removal is watched the check still runs now and
	// then (one stat while the name is the namespace), for what inotify
	// does not see: the name unmounted and left in place.
	if now.Sub(t.netns) < w.netnsEvery() {
		return nil
	}
	t.netns = now
	switch {
	case w.ns == nil:
		return w.checkNetns(now)
	case w.ns.fixed:
		return w.checkNetNSSet()
	}
	// Discovery reports the namespaces of a watch of all that vanish.
	return nil
}

// outputGapHint is the WriteError of an output gap: the write failure's
// hint when records were lost to write errors since the last check, ""
// when they were only dropped because output was behind.
func outputGapHint(st output.Stats, lastFailed uint64) string {
	if st.Failed <= lastFailed {
		return ""
	}
	if st.LastErrno != 0 {
		return sink.Hint(st.LastErrno)
	}
	return "write error"
}
