package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// withMaster gives the entry of ev the master an FTP data flow has: the
// control connection between the same hosts to port 21, of protocol
// proto (TCP for FTP; a SIP media flow's master may be UDP).
func withMaster(ev *model.Event, proto model.Proto) {
	e := &ev.Entry
	e.Fields |= model.FieldMaster
	e.MasterProto = proto
	e.Master = model.Tuple{Src: e.Orig.Src, Dst: e.Orig.Dst, SrcPort: 40000 + e.Orig.SrcPort%1000, DstPort: 21}
}

// masterView is what an inferred end says of a flow's tuples.
type masterView struct {
	HasMaster   bool
	Master      model.Tuple
	MasterProto model.Proto
	Reply       model.Tuple
}

func viewOf(e *model.Entry) masterView {
	r := e.Reply
	r.Packets, r.Bytes = 0, 0
	return masterView{HasMaster: e.Fields.Has(model.FieldMaster), Master: e.Master, MasterProto: e.MasterProto, Reply: r}
}

// TestInferredMaster: the end of a flow inferred by a reconciliation or by
// its namespace's end carries the flow's master tuple (and its NATed reply
// tuple, kept in the same side entry) when the flow had one, learnt from
// its first event or a later one; a flow without a master has none.
func TestInferredMaster(t *testing.T) {
	tests := []struct {
		name string
		// events are the flow's, built from synth's with flow index 7.
		nat         bool
		masterFirst model.Proto // the NEW's master protocol, 0: none
		masterLater model.Proto // the UPDATE's, 0: none
		wantProto   model.Proto // 0: no master
	}{
		{name: "ftp data flow", masterFirst: model.ProtoTCP, masterLater: model.ProtoTCP, wantProto: model.ProtoTCP},
		{name: "natted, with a master", nat: true, masterFirst: model.ProtoTCP, wantProto: model.ProtoTCP},
		{name: "udp master", masterFirst: model.ProtoUDP, wantProto: model.ProtoUDP},
		{name: "master learnt from the update", nat: true, masterLater: model.ProtoTCP, wantProto: model.ProtoTCP},
		{name: "master learnt, no nat", masterLater: model.ProtoTCP, wantProto: model.ProtoTCP},
		{name: "no master", nat: true},
		{name: "neither nat nor master"},
	}
	for _, tt := range tests {
		for _, how := range []string{"reconcile", "netns gone"} {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				tr := New(testConfig())
				var evs [2]model.Event
				synth(&evs[0], model.EventNew, 7, 0, model.TCPSynSent, tt.nat)
				synth(&evs[1], model.EventUpdate, 7, time.Millisecond, model.TCPEstablished, tt.nat)
				for i, p := range [2]model.Proto{tt.masterFirst, tt.masterLater} {
					if p != 0 {
						withMaster(&evs[i], p)
					}
					evs[i].NetNS = nsA
				}
				observe(t, tr, evs[:])
				var got []masterView
				emit := func(in Inferred) { got = append(got, viewOf(&in.Entry)) }
				switch how {
				case "reconcile":
					tr.ReconcileNetNS(nsA, func(func(*model.Entry) bool) {}, base.Add(time.Minute), emit)
				default:
					tr.EndNetNS(nsA, base.Add(time.Minute), emit)
				}
				if err := tr.check(); err != nil {
					t.Fatal(err)
				}
				want := masterView{Reply: evs[1].Entry.Reply}
				if tt.wantProto != 0 {
					var m model.Event
					synth(&m, model.EventNew, 7, 0, model.TCPSynSent, tt.nat)
					withMaster(&m, tt.wantProto)
					want.HasMaster, want.Master, want.MasterProto = true, m.Entry.Master, tt.wantProto
				}
				if diff := cmp.Diff([]masterView{want}, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
					t.Errorf("inferred ends (-want +got):\n%s", diff)
				}
				if n := int(tr.nat.n) - len(tr.nat.free) + int(tr.masters.n) - len(tr.masters.free); n != 0 {
					t.Errorf("%d side entries left after the flow ended, want 0", n)
				}
			})
		}
	}
}

// TestMasterKeptOnce: a flow's master is kept once, whatever later events
// say (the kernel never changes it), and goes with the flow's end.
func TestMasterKeptOnce(t *testing.T) {
	tr := New(testConfig())
	var ev model.Event
	synth(&ev, model.EventNew, 3, 0, model.TCPSynSent, false)
	withMaster(&ev, model.ProtoTCP)
	want := ev.Entry.Master
	tr.Observe(&ev)
	synth(&ev, model.EventUpdate, 3, time.Millisecond, model.TCPEstablished, false)
	withMaster(&ev, model.ProtoTCP)
	ev.Entry.Master.DstPort = 2121
	tr.Observe(&ev)
	if err := tr.check(); err != nil {
		t.Fatal(err)
	}
	var got []model.Tuple
	tr.Reconcile(func(func(*model.Entry) bool) {}, base.Add(time.Minute), func(in Inferred) { got = append(got, in.Entry.Master) })
	if diff := cmp.Diff([]model.Tuple{want}, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("inferred master (-want +got):\n%s", diff)
	}
	synth(&ev, model.EventNew, 4, 0, model.TCPSynSent, false)
	withMaster(&ev, model.ProtoTCP)
	tr.Observe(&ev)
	synth(&ev, model.EventDestroy, 4, time.Second, model.TCPClose, false)
	tr.Observe(&ev)
	if err := tr.check(); err != nil {
		t.Fatalf("after a DESTROY of a flow with a master: %v", err)
	}
}

// TestObserveAllocsMaster: following flows with masters, NATed or not,
// costs no allocation once the side tables have grown.
func TestObserveAllocsMaster(t *testing.T) {
	tr := New(testConfig())
	i := uint32(1000)
	var ev model.Event
	cycle := func() {
		nat := i%2 == 0
		synth(&ev, model.EventNew, i, 0, model.TCPSynSent, nat)
		withMaster(&ev, model.ProtoTCP)
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, time.Millisecond, model.TCPEstablished, nat)
		withMaster(&ev, model.ProtoTCP)
		tr.Observe(&ev)
		synth(&ev, model.EventDestroy, i, time.Second, model.TCPTimeWait, nat)
		withMaster(&ev, model.ProtoTCP)
		tr.Observe(&ev)
		i++
	}
	checkCycleAllocs(t, cycle)
	if err := tr.check(); err != nil {
		t.Fatal(err)
	}
}

// fillMaster tracks n flows as fill does, each with a master.
func fillMaster(tr *Tracker, n uint32) {
	var ev model.Event
	for i := uint32(0); i < n; i++ {
		synth(&ev, model.EventNew, i, 0, model.TCPSynSent, false)
		withMaster(&ev, model.ProtoTCP)
		tr.Observe(&ev)
		synth(&ev, model.EventUpdate, i, 300*time.Microsecond, model.TCPEstablished, false)
		tr.Observe(&ev)
	}
}
