//go:build integration

package integration

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// recordFor matches the entry records of one original tuple.
func recordFor(t *testing.T, proto model.Proto, src, dst string, sport, dport uint16, event string) func(map[string]any) bool {
	match := evTuple(proto, src, dst, sport, dport)
	return func(r map[string]any) bool {
		if r["event"] != event {
			return false
		}
		ev, ok := wtEntry(t, r)
		return ok && match(&ev)
	}
}

// strs turns a JSON array into strings.
func strs(v any) []string {
	a, _ := v.([]any)
	s := make([]string, 0, len(a))
	for _, x := range a {
		s = append(s, x.(string))
	}
	return s
}

// TestWatchFlowTCP follows a real TCP connection's transitions and its
// DESTROY's lifecycle.
func TestWatchFlowTCP(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name)
	sport, dport := wtTCPExchange(t, ns)
	update := recordFor(t, model.ProtoTCP, "127.0.0.1", "127.0.0.1", sport, dport, "update")

	type tr struct {
		From, To     string
		Gained, Lost []string
	}
	trOf := func(r map[string]any) tr {
		m, ok := r["transition"].(map[string]any)
		if !ok {
			t.Fatalf("update without a transition: %v", r)
		}
		if after, _ := m["after_s"].(float64); after <= 0 {
			t.Errorf("transition after_s %v, want > 0", m["after_s"])
		}
		from, _ := m["from"].(string)
		to, _ := m["to"].(string)
		return tr{from, to, strs(m["gained"]), strs(m["lost"])}
	}
	for _, want := range []tr{
		{"SYN_SENT", "SYN_RECV", []string{}, []string{"UNREPLIED"}},
		{"SYN_RECV", "ESTABLISHED", []string{"ASSURED"}, []string{}},
		{"ESTABLISHED", "FIN_WAIT", []string{}, []string{}},
	} {
		r, _ := w.waitRecord("update to "+want.To, update)
		if diff := cmp.Diff(want, trOf(r)); diff != "" {
			t.Errorf("transition (-want +got):\n%s", diff)
		}
	}

	ct := ns.Conntrack()
	evDelete(t, ct, conntrack.NewFlow(6, 0, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"), sport, dport, 0, 0))
	r, _ := w.waitRecord("the DESTROY", recordFor(t, model.ProtoTCP, "127.0.0.1", "127.0.0.1", sport, dport, "destroy"))
	fl, ok := r["flow"].(map[string]any)
	if !ok {
		t.Fatalf("DESTROY without a flow lifecycle: %v", r)
	}
	path := strs(fl["path"])
	if len(path) < 4 || path[0] != "SYN_SENT" || path[1] != "SYN_RECV" || path[2] != "ESTABLISHED" || path[len(path)-1] != "TIME_WAIT" {
		t.Errorf("path %v, want SYN_SENT, SYN_RECV, ESTABLISHED, ..., TIME_WAIT", path)
	}
	// The entry was deleted by this test after the connection closed:
	// the orderly close outranks the deletion.
	if fl["outcome"] != "closed" || fl["seen_from"] != "new" {
		t.Errorf("outcome %v, seen_from %v; want closed, new", fl["outcome"], fl["seen_from"])
	}
	for _, k := range []string{"duration_s", "reply_after_s", "assured_after_s", "orig_packets", "orig_bytes", "reply_packets", "reply_bytes"} {
		if v, ok := fl[k].(float64); !ok || v <= 0 {
			t.Errorf("flow.%s = %v, want a positive number", k, fl[k])
		}
	}
}

// TestWatchFlowUnreplied: a heartbeat to 694 that nobody answers is flagged,
// again with a growing repeat count for each new flow; an answered one is
// not.
func TestWatchFlowUnreplied(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name, "--unreplied-after", "300ms")

	peer := evUDP(t, ns, "127.0.0.1:0")
	answered := evUDP(t, ns, "127.0.0.1:0")
	evSendUDP(t, answered, peer.LocalAddr().String(), "ping")
	buf := make([]byte, 16)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	peer.WriteToUDPAddrPort(buf[:n], from)

	// Each heartbeat from a new socket is a new flow to the same
	// destination: nobody listens on 694.
	var hbPorts []uint16
	for range 3 {
		hb := evUDP(t, ns, "127.0.0.1:0")
		evSendUDP(t, hb, "127.0.0.1:694", "heartbeat")
		hbPorts = append(hbPorts, evPort(hb.LocalAddr()))
	}
	for i, p := range hbPorts {
		r, before := w.waitRecord("the unreplied warning", func(r map[string]any) bool { return r["event"] == "unreplied" })
		ev, _ := wtEntry(t, withEvent(r, "update"))
		if ev.Entry.Orig.SrcPort != p || ev.Entry.Orig.DstPort != 694 {
			t.Errorf("warning %d for %s, want the heartbeat from port %d", i, evText(&ev), p)
		}
		if r["level"] != "warn" || r["repeats"] != float64(i+1) {
			t.Errorf("warning %d: level %v, repeats %v; want warn, %d", i, r["level"], r["repeats"], i+1)
		}
		if age, _ := r["age_s"].(float64); age < 0.3 {
			t.Errorf("warning after %v s, want at least --unreplied-after", age)
		}
		// The answered flow began first, so its deadline came first:
		// had it been warned about, the warning would precede these.
		for _, b := range before {
			if b["event"] == "unreplied" {
				t.Errorf("unexpected warning: %v", b)
			}
		}
	}
}

// withEvent returns a copy of record r with its event key replaced, so that
// a warning's entry keys parse as an entry.
func withEvent(r map[string]any, event string) map[string]any {
	c := make(map[string]any, len(r))
	for k, v := range r {
		c[k] = v
	}
	c["event"] = event
	return c
}

// TestWatchFlowInferredDestroy: under nf_conntrack_events=2 (the default),
// a flow created while no conntrack event listener existed (anywhere on the
// host: the kernel's flag is global) never reports its end; the periodic
// reconciliation infers it.
func TestWatchFlowInferredDestroy(t *testing.T) {
	ns := wtTrackedNS(t)
	nstest.RequireNoConntrackListener(t)
	if got := ns.Run("cat", "/proc/sys/net/netfilter/nf_conntrack_events"); got != "2\n" {
		t.Fatalf("nf_conntrack_events is %q in a new namespace, want the default 2", got)
	}
	ct := ns.Conntrack()
	old := evFlow(17, "10.50.0.1", "10.50.0.2", 5000, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(old) })

	w := wtStart(t, "watch", "--netns", ns.Name, "--reconcile-interval", "200ms")
	recent := evFlow(17, "10.50.0.3", "10.50.0.4", 5001, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(recent) })
	w.waitRecord("the recent flow's NEW", recordFor(t, model.ProtoUDP, "10.50.0.3", "10.50.0.4", 5001, 53, "new"))
	evDelete(t, ct, old)
	evDelete(t, ct, recent)

	// The recent flow reports its own end; the old one's is inferred. They
	// come in either order.
	isRecent := recordFor(t, model.ProtoUDP, "10.50.0.3", "10.50.0.4", 5001, 53, "destroy")
	isOld := recordFor(t, model.ProtoUDP, "10.50.0.1", "10.50.0.2", 5000, 53, "destroy")
	var r, recentRec map[string]any
	for r == nil || recentRec == nil {
		w.waitRecord("both DESTROY records", func(rec map[string]any) bool {
			switch {
			case isRecent(rec):
				recentRec = rec
				return true
			case isOld(rec):
				r = rec
				return true
			}
			return false
		})
	}
	if recentRec["inferred"] != nil {
		t.Errorf("a reported DESTROY is marked inferred: %v", recentRec)
	}
	if r["inferred"] == nil {
		// The kernel decides "is anyone listening?" host-wide
		// (nf_ctnetlink_has_listener), not per namespace: a listener
		// that started after the precondition check is the likely
		// cause, so name the ones there are now, but ctwatch's own.
		var others []nstest.Listener
		ls, err := nstest.ConntrackListeners()
		for _, l := range ls {
			if l.PID != w.cmd.Process.Pid {
				others = append(others, l)
			}
		}
		t.Fatalf("the old flow reported its own end: a conntrack event listener was running on this host when it was created; run the tests with no other listener; listeners besides ctwatch now: %d %s (lookup error: %v)", len(others), nstest.DescribeListeners(others), err)
	}
	fl, _ := r["flow"].(map[string]any)
	if r["inferred"] != true || fl["inferred"] != true || fl["seen_from"] != "snapshot" {
		t.Errorf("old flow's DESTROY: inferred %v, flow %v; want inferred, seen from the snapshot", r["inferred"], fl)
	}
}
