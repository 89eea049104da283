package flow

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// fuzzEvent builds an event from three fuzz bytes: which of 16 flows (8
// tuples, 2 ids), protocol, state, status bits, timeout and origin.
func fuzzEvent(typ model.EventType, a, b, c byte, at time.Time) model.Event {
	ev := model.Event{Type: typ, Time: at}
	if b&0x80 != 0 {
		ev.Time = time.Time{} // a source without times
	}
	e := &ev.Entry
	e.Family = model.FamilyIPv4
	e.Proto = [...]model.Proto{model.ProtoTCP, model.ProtoUDP, model.ProtoICMP, model.ProtoSCTP}[a>>4&3]
	e.Orig = model.Tuple{
		Src: netip.AddrFrom4([4]byte{10, 0, 0, 1}),
		Dst: netip.AddrFrom4([4]byte{10, 0, 1, a & 1}),
	}
	switch {
	case e.Proto.HasPorts():
		e.Orig.SrcPort, e.Orig.DstPort = uint16(a>>1&3), 80
	case e.Proto.IsICMP():
		e.Orig.ICMPType, e.Orig.ICMPID = 8, uint16(a>>1&3)
	}
	e.Reply = inverse(e)
	if a&0x40 != 0 { // NAT
		e.Reply.Src = netip.AddrFrom4([4]byte{192, 168, 0, a & 7})
	}
	e.Fields = model.FieldID
	e.ID = uint32(a >> 7)
	if e.Proto.HasState() {
		e.Fields |= model.FieldState
		e.State = model.State(b % 11)
	}
	e.Status = model.Status(c&0x0f) << 1 // SEEN_REPLY, ASSURED, CONFIRMED, SRC_NAT
	if c&0x10 != 0 {
		e.Status |= model.StatusDying
	}
	if c&0x20 != 0 {
		e.Fields |= model.FieldTimeout
		e.Timeout = uint32(b & 0x0f)
	}
	if c&0x40 != 0 {
		e.Fields |= model.FieldOrigCounters | model.FieldReplyCounters
		e.Orig.Packets, e.Reply.Packets = uint64(b&3), uint64(c&3)
	}
	if c&0x80 != 0 {
		ev.Origin.PortID = 42
	}
	if b&0x40 != 0 {
		e.Fields |= model.FieldMark
		e.Mark = uint32(b & 1)
	}
	if b&0x20 != 0 && typ != model.EventNew {
		e.Fields |= model.FieldStart
		e.Start = at.Add(-time.Duration(b&0x1f) * time.Second)
	}
	return ev
}

// FuzzTracker feeds random sequences of events, seeds, reconciliations,
// namespace ends and detector runs, in three namespaces, to a small tracker
// and checks its invariants after each: it stays within its bounds, its
// lists, index and per-namespace counts agree, every DESTROY of a tracked
// flow ends it with a lifecycle, and an inferred end or a warning names
// the namespace of the flow it is about, and never another's.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 0, 1, 1, 4, 0, 7, 1})
	f.Add([]byte{0, 1, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 4, 0, 1, 0, 5, 0, 1, 7, 0xff, 0, 100})
	f.Add([]byte{6, 0x41, 3, 1, 0, 0x41, 1, 1, 7, 0x02, 0, 200, 5, 0x41, 8, 0xa1})
	// The same flows in two namespaces, one reconciled, one ended.
	f.Add([]byte{0, 1, 0, 1, 8, 1, 0, 1, 16, 3, 0, 1, 15, 1, 0, 10, 7, 3, 1, 10, 8, 1, 0, 1})
	f.Fuzz(fuzzTracker)
}

// TestRandomSequences runs FuzzTracker's checks on pseudo-random inputs,
// so that every test run covers more than the seed corpus.
func TestRandomSequences(t *testing.T) {
	rnd := uint64(0x9e3779b97f4a7c15)
	for n := 0; n < 3000; n++ {
		data := make([]byte, 4*(1+n%40))
		for i := range data {
			rnd ^= rnd << 13
			rnd ^= rnd >> 7
			rnd ^= rnd << 17
			data[i] = byte(rnd)
		}
		fuzzTracker(t, data)
	}
}

func fuzzTracker(t *testing.T, data []byte) {
	cfg := Config{MaxFlows: 4, UnrepliedAfter: 2 * time.Second, RepeatWindow: 10 * time.Second,
		MaxDestinations: 2, Tombstones: 3}
	tr := New(cfg)
	now := base
	enc := NewEncoder(io.Discard, func() time.Time { return now })
	for len(data) >= 4 {
		op, a, b, c := data[0], data[1], data[2], data[3]
		data = data[4:]
		now = now.Add(time.Duration(c) * 50 * time.Millisecond)
		// op's bits 3 and 4 choose the namespace: the local one, nsid 0
		// or nsid 5000 (beyond nsDense).
		ns := [...]model.NetNS{{}, model.PeerNetNS(0), model.PeerNetNS(5000), {}}[op>>3&3]
		switch op % 8 {
		case 0, 1, 2, 3, 4, 5:
			typ := [...]model.EventType{model.EventNew, model.EventNew, model.EventUpdate,
				model.EventUpdate, model.EventDestroy, model.EventDestroy}[op%8]
			ev := fuzzEvent(typ, a, b, c, now)
			ev.NetNS = ns
			before := tr.Len()
			res := tr.Observe(&ev)
			enc.Entry(&ev, &res)
			if res.Ended != nil {
				enc.Inferred(res.Ended)
				if !res.Ended.Flow.Inferred || res.Ended.Reason != InferReused || res.Ended.NetNS != ns {
					t.Fatalf("the end a NEW of %+v revealed: %+v", ns, res.Ended)
				}
			}
			if res.HasTransition && (!res.Known || res.Transition.IsZero()) {
				t.Fatalf("transition %+v on a result %+v", res.Transition, res)
			}
			if typ == model.EventDestroy {
				if res.Flow.Outcome >= numOutcomes || res.Flow.SeenFrom > SeenFromSnapshot {
					t.Fatalf("lifecycle %+v", res.Flow)
				}
				want := before
				if res.Known {
					want--
				}
				if tr.Len() != want {
					t.Fatalf("Len() = %d after a DESTROY (known %v), was %d", tr.Len(), res.Known, before)
				}
			}
		case 6:
			ev := fuzzEvent(model.EventSnapshot, a, b, c, now)
			ev.NetNS = ns
			tr.Seed(&ev)
		case 7:
			if a&1 == 0 {
				tr.Expire(now, func(u Unreplied) {
					enc.Unreplied(&u)
					known := u.NetNS == model.NetNS{} || u.NetNS == model.PeerNetNS(0) || u.NetNS == model.PeerNetNS(5000)
					if u.Repeats < 1 || u.Age < 0 || !known {
						t.Fatalf("unreplied %+v", u)
					}
				})
				break
			}
			if a&2 != 0 {
				counts := map[model.NetNS]int{}
				tr.NetNSCounts(func(n model.NetNS, tracked, seeded int) {
					if seeded > tracked || tracked <= 0 || seeded < 0 {
						t.Fatalf("NetNSCounts: %+v: %d tracked, %d seeded", n, tracked, seeded)
					}
					counts[n] = tracked
				})
				before := tr.Len()
				n := tr.EndNetNS(ns, now, func(in Inferred) {
					enc.Inferred(&in)
					if !in.Flow.Inferred || in.Reason != InferNetNSGone || in.NetNS != ns || !in.Time.Equal(now) {
						t.Fatalf("the end of %+v: %+v", ns, in)
					}
				})
				if n != counts[ns] || tr.Len() != before-n {
					t.Fatalf("EndNetNS(%+v) = %d with %d tracked there; Len() %d -> %d", ns, n, counts[ns], before, tr.Len())
				}
				tr.NetNSCounts(func(n model.NetNS, _, _ int) {
					if n == ns {
						t.Fatalf("NetNSCounts lists %+v after its end", ns)
					}
				})
				break
			}
			var dump []model.Event
			for i := 0; i < 8; i++ {
				if b&(1<<i) != 0 {
					dump = append(dump, fuzzEvent(model.EventSnapshot, byte(i)|a&0xf0, c, c, now))
				}
			}
			tr.ReconcileNetNS(ns, func(yield func(*model.Entry) bool) {
				for i := range dump {
					if !yield(&dump[i].Entry) {
						return
					}
				}
			}, now.Add(-time.Duration(a>>2)*100*time.Millisecond), func(in Inferred) {
				if !in.Flow.Inferred || in.Reason != InferReconcile || in.NetNS != ns {
					t.Fatalf("an end the dump of %+v inferred: %+v", ns, in)
				}
			})
		}
		if err := tr.check(); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
	}
}

// FuzzReplayText parses arbitrary conntrack text lines, as a recorded
// sequence, and replays what parses: the tracker must hold its invariants
// whatever the parser lets through.
func FuzzReplayText(f *testing.F) {
	// The seeds are the recorded sequences, three events at a time: small
	// inputs keep the fuzzer's minimisation short.
	paths, _ := filepath.Glob("testdata/sequences/*.txt")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if !model.IsSkippable(l) {
				lines = append(lines, l)
			}
		}
		for i := 0; i < len(lines); i += 3 {
			f.Add(strings.Join(lines[i:min(i+3, len(lines))], "\n"))
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg := testConfig()
		cfg.MaxFlows, cfg.Tombstones = 8, 4
		tr := New(cfg)
		rec := newRecorder(io.Discard)
		for _, line := range strings.Split(text, "\n") {
			if model.IsSkippable(line) {
				continue
			}
			ev, _, err := model.ParseText(line, time.UTC)
			if err != nil {
				continue
			}
			if !ev.Time.IsZero() {
				tr.Expire(ev.Time, rec.unreplied)
			}
			res := tr.Observe(&ev)
			rec.event(&ev, &res)
			if err := tr.check(); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
	})
}
