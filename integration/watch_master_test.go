//go:build integration

package integration

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestWatchMasterTuple: an entry created over ctnetlink with
// CTA_TUPLE_MASTER naming another entry (the kernel makes it EXPECTED, as
// a helper's related flow) comes out of ctwatch with "master" equal to
// that entry's orig tuple, in its NEW record and in the snapshot of a
// later start; the master itself has none. The master is TCP and the
// related entry UDP, as SIP over TCP expects RTP over UDP, so that the
// master's keys follow its own protocol.
func TestWatchMasterTuple(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name)
	ct := ns.Conntrack()

	master := evFlow(unix.IPPROTO_TCP, "10.31.0.1", "10.31.0.2", 40000, 5060, 120, 0)
	evWithin(t, evTimeout, "create the master", func() error { return ct.Create(master) })
	child := evFlow(unix.IPPROTO_UDP, "10.31.0.2", "10.31.0.1", 16384, 16386, 120, 0)
	child.TupleMaster = master.TupleOrig
	evWithin(t, evTimeout, "create the related entry", func() error { return ct.Create(child) })

	want := model.Tuple{Src: netip.MustParseAddr("10.31.0.1"), Dst: netip.MustParseAddr("10.31.0.2"), SrcPort: 40000, DstPort: 5060}
	check := func(what string, ev model.Event) {
		t.Helper()
		e := &ev.Entry
		if !e.Fields.Has(model.FieldMaster) {
			t.Fatalf("%s: no master: %+v", what, e)
		}
		if diff := cmp.Diff(want, e.Master, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("%s: master (-want +got):\n%s", what, diff)
		}
		if e.MasterProto != model.ProtoTCP {
			t.Errorf("%s: master protocol %s, want tcp", what, e.MasterProto)
		}
		if e.Status&model.StatusExpected == 0 {
			t.Errorf("%s: status %v lacks EXPECTED", what, e.Status)
		}
	}

	m, _ := w.waitEvent("the master's NEW", evAnd(evTuple(model.ProtoTCP, "10.31.0.1", "10.31.0.2", 40000, 5060), evIs(model.EventNew)))
	if m.Entry.Fields.Has(model.FieldMaster) {
		t.Errorf("the master has a master: %+v", m.Entry.Master)
	}
	ev, _ := w.waitEvent("the related entry's NEW", evAnd(evTuple(model.ProtoUDP, "10.31.0.2", "10.31.0.1", 16384, 16386), evIs(model.EventNew)))
	check("NEW", ev)

	// The dump decodes the same attribute.
	s := wtStartNoWait(t, "watch", "--netns", ns.Name, "--snapshot")
	snap, _ := s.waitEvent("the related entry's snapshot", evAnd(evTuple(model.ProtoUDP, "10.31.0.2", "10.31.0.1", 16384, 16386), evIs(model.EventSnapshot)))
	check("snapshot", snap)
}
