//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The flows of TestWatchStartupMerge, told apart by their source network.
const (
	// wsPreCreated entries exist before ctwatch starts: enough that its
	// startup dump takes many reads, so that creations land during it.
	wsPreCreated = 4000
	// wsAfterDump more entries are created once the dump record is seen,
	// so that the concurrent creations straddle the dump.
	wsAfterDump = 200
	// wsMaxConcurrent bounds the concurrent creations (10.92.0.0/16 has
	// as many sources): reaching it means ctwatch never finished its dump.
	wsMaxConcurrent = 1 << 16
)

// wsTuple is a flow's original tuple, as the "orig" object of its records
// gives it.
type wsTuple struct {
	src, dst     netip.Addr
	sport, dport uint16
}

func (k wsTuple) String() string {
	return fmt.Sprintf("%s:%d -> %s:%d", k.src, k.sport, k.dst, k.dport)
}

// wsFlow is the i-th flow of the network 10.<net>.0.0/16.
func wsFlow(net byte, i int) wsTuple {
	return wsTuple{
		src:   netip.AddrFrom4([4]byte{10, net, byte(i >> 8), byte(i)}),
		dst:   netip.AddrFrom4([4]byte{10, 99, 0, 1}),
		sport: 40000, dport: 53,
	}
}

// TestWatchStartupMerge proves the startup merge of `ctwatch watch
// --snapshot`: ctwatch subscribes first, then dumps the table on a second
// socket, and merges the two, so that nothing created while the dump runs is
// lost or written twice.
//
// The namespace holds thousands of entries before ctwatch starts, and a
// goroutine keeps creating new ones through ctnetlink from before ctwatch
// starts until after its dump record: some before it subscribed (only the
// dump can show them), some while the dump runs (the dump may show them, and
// their NEW is queued on the event socket), some after (only their NEW
// shows them). The test checks that
//
//   - every pre-existing entry is written exactly once, as a snapshot record;
//   - every concurrently created entry is written exactly once, as a snapshot
//     or a new record, never both and never neither;
//   - no snapshot record follows a live entry record (docs: the pre-existing
//     entries "before the live stream");
//   - the stop record's snapshot, merged, received and written counters agree
//     with the records counted (a NEW the dump already showed is counted as
//     merged, not written), and some NEW was in fact merged: the creations
//     did straddle the dump.
//
// Were the dump taken before subscribing, entries created between the dump's
// pass over their hash bucket and the subscription would be in neither the
// dump nor the event stream ("written 0 times"), and merged would be 0;
// were queued NEWs not merged, entries the dump caught would be written
// twice (snapshot and new).
func TestWatchStartupMerge(t *testing.T) {
	ns := wtTrackedNS(t)

	// 1. The pre-existing entries, in bulk.
	pre := make([]bulkFlow, wsPreCreated)
	preTuples := make(map[wsTuple]bool, wsPreCreated)
	for i := range pre {
		k := wsFlow(91, i)
		pre[i] = bulkFlow(k)
		preTuples[k] = true
	}
	if created, full := createBulk(t, ns, pre); created != wsPreCreated || full {
		t.Fatalf("pre-created %d of %d entries (table full: %v)", created, wsPreCreated, full)
	}

	// Build ctwatch now, not while the creator runs.
	nstest.Binary(t)

	// 2. The concurrent creator, on its own ctnetlink connection. It
	// runs until it has created wsAfterDump entries after dumpSeen closes.
	creatorCT := ns.Conntrack()
	dumpSeen := make(chan struct{})
	quit := make(chan struct{})
	finished := make(chan struct{})
	var concurrent []wsTuple // the creator's, until finished closes
	var creatorErr error
	go func() {
		defer close(finished)
		seen, left := dumpSeen, -1
		for i := 0; left != 0; i++ {
			select {
			case <-quit:
				creatorErr = fmt.Errorf("stopped after %d entries", i)
				return
			case <-seen:
				seen, left = nil, wsAfterDump
			default:
			}
			if i >= wsMaxConcurrent {
				creatorErr = fmt.Errorf("created %d entries and ctwatch's dump record was still not seen", i)
				return
			}
			k := wsFlow(92, i)
			if err := creatorCT.Create(conntrack.NewFlow(17, 0, k.src, k.dst, k.sport, k.dport, bulkTimeout, 0)); err != nil {
				creatorErr = fmt.Errorf("create entry %d (%v): %w", i, k, err)
				return
			}
			concurrent = append(concurrent, k)
			if left > 0 {
				left--
			}
		}
	}()
	t.Cleanup(func() {
		close(quit)
		select {
		case <-finished:
		case <-time.After(evTimeout):
			t.Errorf("the creator goroutine did not stop within %v", evTimeout)
		}
	})

	// ctwatch starts while the creator runs: no waiting for its dump.
	w := wtStartNoWait(t, "watch", "--netns", ns.Name, "--snapshot")
	dump, recs := w.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	recs = append(recs, dump)
	close(dumpSeen)
	select {
	case <-finished:
	case <-time.After(wtTimeout):
		t.Fatalf("the creator did not finish %d creations after the dump within %v", wsAfterDump, wtTimeout)
	}
	if creatorErr != nil {
		t.Fatalf("concurrent creator: %v", creatorErr)
	}
	concTuples := make(map[wsTuple]bool, len(concurrent))
	for _, k := range concurrent {
		concTuples[k] = true
	}

	// The marker is created after every concurrent creation was
	// acknowledged, and the kernel queues a request's event before its
	// acknowledgement: once the marker's NEW is read, every NEW of the
	// concurrent creations has been handled.
	marker := wsFlow(94, 0)
	ct := ns.Conntrack()
	evWithin(t, evTimeout, "create the marker", func() error {
		return ct.Create(conntrack.NewFlow(17, 0, marker.src, marker.dst, marker.sport, marker.dport, bulkTimeout, 0))
	})
	mr, before := w.waitRecord("the marker's new record", recordFor(t, model.ProtoUDP, marker.src.String(), marker.dst.String(), marker.sport, marker.dport, "new"))
	recs = append(recs, before...)
	recs = append(recs, mr)
	rest, code, _ := w.stop()
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	for _, l := range rest {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line is not JSON: %v: %q", err, l)
		}
		recs = append(recs, r)
	}

	// 3. Count every entry record by tuple and kind, in stream order.
	snaps := map[wsTuple]int{}
	news := map[wsTuple]int{}
	var nSnap, nNew, nLive int
	var stop map[string]any
	firstLive := -1 // index in recs of the first new/update/destroy record
	var lateSnaps []string
	for i, r := range recs {
		switch r["event"] {
		case "stop":
			stop = r
			continue
		case "gap":
			t.Errorf("gap record: %v", r)
			continue
		}
		ev, ok := wtEntry(t, r)
		if !ok {
			continue
		}
		k := wsTuple{ev.Entry.Orig.Src, ev.Entry.Orig.Dst, ev.Entry.Orig.SrcPort, ev.Entry.Orig.DstPort}
		if ev.Type == model.EventSnapshot {
			nSnap++
			snaps[k]++
			if firstLive >= 0 {
				lateSnaps = append(lateSnaps, fmt.Sprintf("record %d, snapshot of %v", i, k))
			}
			continue
		}
		nLive++
		if firstLive < 0 {
			firstLive = i
		}
		if ev.Type == model.EventNew {
			nNew++
			news[k]++
		}
	}
	if stop == nil {
		t.Fatalf("no stop record; last lines:\n%s", tail(w.seen, 5))
	}
	num := func(r map[string]any, keys ...string) int {
		var v any = r
		for _, key := range keys {
			m, _ := v.(map[string]any)
			v = m[key]
		}
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("record %v has no number at %s", r, strings.Join(keys, "."))
		}
		return int(f)
	}
	for _, stage := range []string{"kernel", "output"} {
		if n := num(stop, "lost", stage); n != 0 {
			t.Fatalf("stop record: %d lost at stage %s (%v): with losses the counts below prove nothing", n, stage, stop["lost"])
		}
	}

	// Each flow exactly once.
	var bad []string
	for k := range preTuples {
		if snaps[k] != 1 || news[k] != 0 {
			bad = append(bad, fmt.Sprintf("pre-existing %v: %d snapshot, %d new records; want 1 snapshot", k, snaps[k], news[k]))
		}
	}
	concSnap, concNew := 0, 0
	for _, k := range concurrent {
		if snaps[k]+news[k] != 1 {
			bad = append(bad, fmt.Sprintf("concurrent %v: %d snapshot, %d new records; want exactly one of either", k, snaps[k], news[k]))
		}
		concSnap += snaps[k]
		concNew += news[k]
	}
	if snaps[marker] != 0 || news[marker] != 1 {
		bad = append(bad, fmt.Sprintf("marker %v: %d snapshot, %d new records; want 1 new", marker, snaps[marker], news[marker]))
	}
	for _, counts := range []map[wsTuple]int{snaps, news} {
		for k, n := range counts {
			if !preTuples[k] && !concTuples[k] && k != marker {
				bad = append(bad, fmt.Sprintf("%d records of %v, which the test never created", n, k))
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d flows not written exactly once (of %d pre-existing, %d concurrent); first ones:\n%s",
			len(bad), wsPreCreated, len(concurrent), strings.Join(bad[:min(len(bad), 20)], "\n"))
	}

	// Snapshot records before the live stream.
	if len(lateSnaps) > 0 {
		t.Errorf("%d snapshot records after the first live record (record %d, %v); first ones:\n%s",
			len(lateSnaps), firstLive, recs[firstLive]["event"], strings.Join(lateSnaps[:min(len(lateSnaps), 10)], "\n"))
	}

	// The counters agree with the records.
	if got := num(dump, "entries"); got != nSnap {
		t.Errorf("dump record: %d entries, but %d snapshot records were written", got, nSnap)
	}
	if got := num(stop, "snapshot"); got != nSnap {
		t.Errorf("stop record: snapshot %d, but %d snapshot records were written", got, nSnap)
	}
	merged, received := num(stop, "merged"), num(stop, "received", "new")
	if received != nNew+merged {
		t.Errorf("stop record: received.new %d, merged %d; but %d new records were written: %d NEWs neither written nor merged",
			received, merged, nNew, received-nNew-merged)
	}
	if got := num(stop, "entries"); got != nSnap+nLive {
		t.Errorf("stop record: entries %d, but %d entry records were read (%d snapshot, %d live)", got, nSnap+nLive, nSnap, nLive)
	}
	// A merged NEW is one of a concurrent flow the dump showed.
	if merged > concSnap {
		t.Errorf("stop record: merged %d, more than the %d concurrent flows written as snapshot", merged, concSnap)
	}
	// Some NEW must have been merged: else either the creations did not
	// straddle the dump (and the test proved nothing) or ctwatch did not
	// merge.
	if merged == 0 || concNew == 0 || concSnap == 0 {
		t.Errorf("merged %d; of %d concurrent flows %d written as snapshot, %d as new; want all three above 0: the creations did not straddle the dump, or no queued NEW was merged with its snapshot",
			merged, len(concurrent), concSnap, concNew)
	}
	if want := fmt.Sprintf("%d snapshot entries", nSnap); !strings.Contains(w.stderr.String(), want) {
		t.Errorf("stderr summary does not say %q:\n%s", want, w.stderr.String())
	}
	if want := fmt.Sprintf("%d merged into snapshot", merged); merged > 0 && !strings.Contains(w.stderr.String(), want) {
		t.Errorf("stderr summary does not say %q:\n%s", want, w.stderr.String())
	}
	t.Logf("%d pre-existing, %d concurrent (%d as snapshot, %d as new, %d NEWs merged), %d snapshot records, %d live records",
		wsPreCreated, len(concurrent), concSnap, concNew, merged, nSnap, nLive)
}
