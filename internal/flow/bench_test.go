package flow

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// synth fills ev with an event of synthetic TCP flow i (10.x.y.z:port ->
// 192.0.2.1:443), at base + i ms plus offset, in state s. With nat the
// reply comes from another address, as through a DNAT.
func synth(ev *model.Event, typ model.EventType, i uint32, offset time.Duration, s model.State, nat bool) {
	*ev = model.Event{Type: typ, Time: base.Add(time.Duration(i)*time.Millisecond + offset)}
	e := &ev.Entry
	e.Family, e.Proto = model.FamilyIPv4, model.ProtoTCP
	e.Fields = model.FieldTimeout | model.FieldState | model.FieldID
	e.Timeout, e.State, e.ID = 120, s, i*2654435761
	e.Orig = model.Tuple{
		Src:     netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		Dst:     netip.AddrFrom4([4]byte{192, 0, 2, 1}),
		SrcPort: uint16(1024 + i%60000), DstPort: 443,
	}
	e.Reply = model.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, SrcPort: 443, DstPort: e.Orig.SrcPort}
	if nat {
		e.Reply.Src = netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
		e.Reply.SrcPort = 8443
	}
	switch s {
	case model.TCPSynSent:
		e.Status = model.StatusConfirmed
	case model.TCPSynRecv:
		e.Status = model.StatusConfirmed | model.StatusSeenReply
	default:
		e.Status = model.StatusConfirmed | model.StatusSeenReply | model.StatusAssured
	}
}

// fill tracks n flows, each opened by a NEW and answered.
func fill(tr *Tracker, n uint32, nat bool) {
	var ev model.Event
	for i := uint32(0); i < n; i++ {
		synth(&ev, model.EventNew, i, 0, model.TCPSynSent, nat)
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, 300*time.Microsecond, model.TCPEstablished, nat)
		tr.Observe(&ev)
	}
}

const million = 1 << 20

// BenchmarkObserve measures one event at a million tracked flows, in a
// steady mix: for every flow that ends (DESTROY) a new one begins (NEW),
// is answered (UPDATE SYN_RECV) and established (UPDATE ESTABLISHED), and
// four more UPDATEs (half of them changing nothing) go to live flows: any
// of the million at random (updates=random, the worst case: every one
// misses the CPU caches), or one of the 4096 newest (updates=recent,
// closer to real streams, where a flow's events come close together).
// ns/op is per event.
func BenchmarkObserve(b *testing.B) {
	for _, bc := range []struct {
		name   string
		recent uint32 // UPDATEs go to the newest flows; 0: to any
	}{{"updates=random", 0}, {"updates=recent", 4096}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxFlows = million
			tr := New(cfg)
			fill(tr, million, false)
			lo, hi := uint32(0), uint32(million) // the live flows
			rnd := uint32(2463534242)
			var ev model.Event
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				switch n % 8 {
				case 0:
					synth(&ev, model.EventDestroy, lo, time.Minute, model.TCPTimeWait, false)
					ev.Entry.Fields &^= model.FieldTimeout
					lo++
				case 1:
					synth(&ev, model.EventNew, hi, 0, model.TCPSynSent, false)
				case 2:
					synth(&ev, model.EventUpdate, hi, 100*time.Microsecond, model.TCPSynRecv, false)
				case 3:
					synth(&ev, model.EventUpdate, hi, 200*time.Microsecond, model.TCPEstablished, false)
					hi++
				default:
					rnd ^= rnd << 13
					rnd ^= rnd >> 17
					rnd ^= rnd << 5
					s := model.TCPEstablished
					if n%2 == 0 {
						s = model.TCPFinWait
					}
					i := lo + rnd%(hi-lo)
					if bc.recent != 0 {
						i = hi - 1 - rnd%bc.recent
					}
					synth(&ev, model.EventUpdate, i, time.Second, s, false)
				}
				tr.Observe(&ev)
			}
			b.StopTimer()
			if n := tr.Len(); n < million-1 || n > million { // b.N may stop inside a group
				b.Fatalf("Len() = %d, want %d", n, million)
			}
		})
	}
}

// BenchmarkMemory reports the heap bytes per tracked flow at a million
// flows, without NAT, with NAT on every flow (the reply tuple kept apart),
// and with a master on every flow (kept apart too).
func BenchmarkMemory(b *testing.B) {
	for _, bc := range []struct {
		name   string
		nat    bool
		master bool
	}{{"nat=none", false, false}, {"nat=all", true, false}, {"master=all", false, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var perFlow float64
			for n := 0; n < b.N; n++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cfg := DefaultConfig()
				cfg.MaxFlows = million
				tr := New(cfg)
				if bc.master {
					fillMaster(tr, million)
				} else {
					fill(tr, million, bc.nat)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perFlow = float64(after.HeapAlloc-before.HeapAlloc) / float64(tr.Len())
				runtime.KeepAlive(tr)
			}
			b.ReportMetric(perFlow, "B/flow")
		})
	}
}

func TestRecordSize(t *testing.T) {
	// The memory budget (doc.go, Config.MaxFlows) assumes this size.
	if got := unsafe.Sizeof(record{}); got != 152 {
		t.Errorf("record is %d bytes, want 152", got)
	}
}

// TestObserveAllocs checks that following events costs no allocation once
// the tracker's tables have grown: flows opened, answered, updated and
// ended, and the unreplied detector.
func TestObserveAllocs(t *testing.T) {
	tr := New(testConfig())
	fill(tr, 500, true)
	i := uint32(1000)
	var ev model.Event
	cycle := func() {
		synth(&ev, model.EventNew, i, 0, model.TCPSynSent, i%2 == 0)
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, time.Millisecond, model.TCPSynRecv, i%2 == 0)
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, 2*time.Millisecond, model.TCPEstablished, i%2 == 0)
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, 3*time.Millisecond, model.TCPEstablished, i%2 == 0)
		tr.Observe(&ev)
		synth(&ev, model.EventDestroy, i, time.Second, model.TCPTimeWait, i%2 == 0)
		tr.Observe(&ev)
		tr.Expire(ev.Time, func(Unreplied) {})
		i++
	}
	checkCycleAllocs(t, cycle)
}

// BenchmarkNetNS measures the per-namespace work at a million flows spread
// over 100 namespaces (their events interleaved, so that each namespace's
// flows are spread over the whole recency list): counts is one
// NetNSCounts call, as the watch makes once a second; end is one
// EndNetNS of a namespace holding 1% of the flows, which walks the list
// until it has found them all.
func BenchmarkNetNS(b *testing.B) {
	const spaces = 100
	cfg := DefaultConfig()
	cfg.MaxFlows = million
	tr := New(cfg)
	var ev model.Event
	open := func(i uint32) {
		ns := model.PeerNetNS(int32(i % spaces))
		synth(&ev, model.EventNew, i, 0, model.TCPSynSent, false)
		ev.NetNS = ns
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, 300*time.Microsecond, model.TCPEstablished, false)
		ev.NetNS = ns
		tr.Observe(&ev)
	}
	for i := uint32(0); i < million; i++ {
		open(i)
	}
	b.Run("counts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			tr.NetNSCounts(func(_ model.NetNS, tracked, _ int) { n += tracked })
			if n != million {
				b.Fatalf("NetNSCounts counts %d flows, want %d", n, million)
			}
		}
	})
	b.Run("end", func(b *testing.B) {
		gone := model.PeerNetNS(7)
		for b.Loop() {
			if n := tr.EndNetNS(gone, base.Add(time.Hour), func(Inferred) {}); n != million/spaces+1 {
				b.Fatalf("EndNetNS ended %d flows, want %d", n, million/spaces+1)
			}
			b.StopTimer()
			for i := uint32(7); i < million; i += spaces {
				open(i)
			}
			b.StartTimer()
		}
	})
}

// checkCycleAllocs fails t when cycle, one flow's life through a tracker,
// allocates once the tracker is warm: 200 cycles first grow its
// tombstones and free lists to their steady size.
func checkCycleAllocs(t *testing.T, cycle func()) {
	t.Helper()
	for range 200 {
		cycle()
	}
	if got := testing.AllocsPerRun(1000, cycle); got != 0 {
		t.Errorf("%v allocations per flow's life, want 0", got)
	}
}
