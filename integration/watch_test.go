//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// wtTrackedNS returns a namespace with conntrack engaged, accounting and
// kernel timestamps on.
func wtTrackedNS(t *testing.T) *nstest.NS {
	ns := nstest.New(t)
	ns.EnableTracking()
	ns.Sysctl("net.netfilter.nf_conntrack_acct", "1")
	ns.Sysctl("net.netfilter.nf_conntrack_timestamp", "1")
	return ns
}

// TestWatchTCPLifecycle follows a real TCP connection through the binary:
// the records of its handshake, data, close and deletion.
func TestWatchTCPLifecycle(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name, "--updates", "all")

	before := time.Now()
	sport, dport := wtTCPExchange(t, ns)

	flow := evTuple(model.ProtoTCP, "127.0.0.1", "127.0.0.1", sport, dport)
	newEv, _ := w.waitEvent("NEW SYN_SENT", evAnd(flow, evIs(model.EventNew)))
	if newEv.Entry.State != model.TCPSynSent || !newEv.Entry.Unreplied() {
		t.Errorf("NEW: state %s, unreplied %v; want SYN_SENT [UNREPLIED]", newEv.Entry.State.Name(model.ProtoTCP), newEv.Entry.Unreplied())
	}
	if newEv.Time.Before(before.Add(-time.Second)) || newEv.Time.After(time.Now()) {
		t.Errorf("NEW time %v is not the kernel's event time (test began %v)", newEv.Time, before)
	}
	// The handshake's state changes, then the close's, in order.
	for _, st := range []model.State{model.TCPSynRecv, model.TCPEstablished, model.TCPFinWait} {
		ev, _ := w.waitEvent("UPDATE "+st.Name(model.ProtoTCP), evAnd(flow, evIs(model.EventUpdate), evState(st)))
		if st == model.TCPSynRecv && ev.Entry.Unreplied() {
			t.Error("SYN_RECV update still [UNREPLIED]")
		}
		if st == model.TCPEstablished && !ev.Entry.Assured() {
			t.Error("ESTABLISHED update not [ASSURED]")
		}
	}
	w.waitEvent("UPDATE TIME_WAIT", evAnd(flow, evIs(model.EventUpdate), evState(model.TCPTimeWait)))

	ct := ns.Conntrack()
	evDelete(t, ct, conntrack.NewFlow(6, 0, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"), sport, dport, 0, 0))
	del, _ := w.waitEvent("DESTROY", evAnd(flow, evIs(model.EventDestroy)))
	if del.Origin.PortID == 0 || del.Origin.PID != int32(os.Getpid()) {
		t.Errorf("DESTROY origin %+v, want this test process (pid %d)", del.Origin, os.Getpid())
	}
	if !del.Entry.Fields.Has(model.FieldOrigCounters) || del.Entry.Orig.Packets == 0 {
		t.Errorf("DESTROY without counters: %+v", del.Entry.Orig)
	}
	_, code, _ := w.stop()
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestWatchUDPHeartbeat: an unanswered datagram to 694 stays [UNREPLIED];
// an answered heartbeat loses [UNREPLIED] and, after two seconds of
// two-way traffic, gains [ASSURED].
func TestWatchUDPHeartbeat(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name, "--proto", "udp")

	lonely := evUDP(t, ns, "127.0.0.1:0")
	evSendUDP(t, lonely, "127.0.0.1:694", "heartbeat")
	ev, _ := w.waitEvent("NEW to 694", evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", evPort(lonely.LocalAddr()), 694), evIs(model.EventNew)))
	if !ev.Entry.Unreplied() {
		t.Error("NEW to 694 is not [UNREPLIED]")
	}

	peer := evUDP(t, ns, "127.0.0.1:0")
	hb := evUDP(t, ns, "127.0.0.1:0")
	flow := evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", evPort(hb.LocalAddr()), evPort(peer.LocalAddr()))
	// Answer every heartbeat, every 0.7 s for 3 s: the timing is the
	// kernel's rule being tested (UDP is assured only on a packet at
	// least 2 s after the first), not synchronisation.
	stop := time.Now().Add(3 * time.Second)
	buf := make([]byte, 64)
	for time.Now().Before(stop) {
		evSendUDP(t, hb, peer.LocalAddr().String(), "ping")
		peer.SetReadDeadline(time.Now().Add(wtTimeout))
		n, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := peer.WriteToUDPAddrPort(buf[:n], from); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
	}
	replied, _ := w.waitEvent("the reply", evAnd(flow, evIs(model.EventUpdate), func(ev *model.Event) bool { return !ev.Entry.Unreplied() }))
	if replied.Entry.Assured() {
		t.Error("the first reply already [ASSURED]")
	}
	w.waitEvent("[ASSURED]", evAnd(flow, evIs(model.EventUpdate), func(ev *model.Event) bool { return ev.Entry.Assured() }))
}

// TestWatchNotrack: the iptables tutorial's fix for heartbeats dropped as
// INVALID, NOTRACK in the raw table, leaves no conntrack event at all.
func TestWatchNotrack(t *testing.T) {
	ns := wtTrackedNS(t)
	ns.NFT(`table inet raw_notrack {
	chain prerouting { type filter hook prerouting priority raw; udp dport 694 notrack; }
	chain output { type filter hook output priority raw; udp dport 694 notrack; }
}
`)
	w := wtStart(t, "watch", "--netns", ns.Name)
	c := evUDP(t, ns, "127.0.0.1:0")
	for range 3 {
		evSendUDP(t, c, "127.0.0.1:694", "heartbeat")
	}
	// The sentinel, sent after the heartbeats, is tracked: once its event
	// is here, any event of the heartbeats would be too.
	evSendUDP(t, c, "127.0.0.1:695", "sentinel")
	_, before := w.waitEvent("the sentinel", evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", evPort(c.LocalAddr()), 695))
	for _, ev := range before {
		if ev.Entry.Orig.DstPort == 694 {
			t.Errorf("event for NOTRACK traffic: %s", evText(&ev))
		}
	}
}

// TestWatchCtnetlink: entries created, updated and deleted through
// ctnetlink give exact records, with the program behind them named.
func TestWatchCtnetlink(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name, "--updates", "all")
	ct := ns.Conntrack()
	f := evFlow(17, "10.1.1.1", "10.2.2.2", 4000, 53, 100, 7)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	match := evTuple(model.ProtoUDP, "10.1.1.1", "10.2.2.2", 4000, 53)
	ev, _ := w.waitEvent("NEW", evAnd(match, evIs(model.EventNew)))
	// The kernel reports the whole seconds left: 99 once a jiffy passed
	// between the create and the event.
	if ev.Entry.Mark != 7 || !ev.Entry.Fields.Has(model.FieldMark) || ev.Entry.Timeout < 99 || ev.Entry.Timeout > 100 {
		t.Errorf("NEW: mark %d (present %v), timeout %d; want mark 7, timeout 100 (or 99)", ev.Entry.Mark, ev.Entry.Fields.Has(model.FieldMark), ev.Entry.Timeout)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(comm)); ev.Origin.Program != want || ev.Origin.PID != int32(os.Getpid()) {
		t.Errorf("origin %+v, want pid %d program %q", ev.Origin, os.Getpid(), want)
	}
	f.Mark = 9
	evWithin(t, evTimeout, "update", func() error { return ct.Update(f) })
	ev, _ = w.waitEvent("UPDATE", evAnd(match, evIs(model.EventUpdate)))
	if ev.Entry.Mark != 9 {
		t.Errorf("UPDATE mark %d, want 9", ev.Entry.Mark)
	}
	evDelete(t, ct, f)
	w.waitEvent("DESTROY", evAnd(match, evIs(model.EventDestroy)))
}

// TestWatchOverrun stops ctwatch while thousands of events arrive at a small
// buffer: the kernel drops events, a gap record counts exactly as many as
// the kernel's own drop counter of the socket, every event is either
// received or counted lost, and the stream goes on.
func TestWatchOverrun(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name, "--buffer-size", "16K")
	ct := ns.Conntrack()

	// A flow whose DESTROY will be lost in the overrun: its end is then
	// inferred from the dump ctwatch takes after the gap.
	victim := evFlow(17, "10.5.0.9", "10.6.0.9", 9, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(victim) })
	w.waitEvent("the victim's NEW", evTuple(model.ProtoUDP, "10.5.0.9", "10.6.0.9", 9, 53))

	const burst = 3000
	w.signal(syscall.SIGSTOP)
	for i := range burst {
		f := evFlow(17, "10.5.0.1", "10.6.0.1", uint16(10000+i), 53, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	// The buffer is full: the victim's DESTROY is dropped.
	evDelete(t, ct, victim)
	w.signal(syscall.SIGCONT)
	// Let the reader empty the full buffer first, or the sentinel would be
	// dropped too.
	var socks []netlinkSocket
	wtPoll(t, "ctwatch to empty its socket", func() bool {
		socks = wtEventSockets(t, ns)
		return len(socks) == 1 && socks[0].Rmem == 0
	})

	sentinel := evFlow(17, "10.5.0.2", "10.6.0.2", 1, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(sentinel) })
	if len(socks) != 1 {
		t.Fatalf("%d event sockets in the namespace, want ctwatch's one: %+v", len(socks), socks)
	}
	kernelDrops := socks[0].Drops

	// Count the burst's events received and the losses reported, in
	// whatever order the gap records come: at the loss check after the
	// process resumed, before or after the sentinel.
	received := 0
	var lost uint64
	sawSentinel := false
	isSentinel := evTuple(model.ProtoUDP, "10.5.0.2", "10.6.0.2", 1, 53)
	for !sawSentinel || lost < kernelDrops {
		w.waitRecord("the sentinel and gap records for every drop", func(r map[string]any) bool {
			if r["event"] == "gap" && r["stage"] == "kernel" {
				if r["level"] != "warn" {
					t.Errorf("gap record level %v, want warn", r["level"])
				}
				lost += uint64(r["lost"].(float64))
				return true
			}
			ev, ok := wtEntry(t, r)
			switch {
			case !ok:
				return false
			case isSentinel(&ev):
				sawSentinel = true
				return true
			case ev.Type == model.EventNew && ev.Entry.Orig.Src == netip.MustParseAddr("10.5.0.1"):
				received++
			}
			return false
		})
	}
	if kernelDrops == 0 || received == burst {
		t.Fatalf("no overrun: %d of %d received, kernel drops %d", received, burst, kernelDrops)
	}
	if lost != kernelDrops {
		t.Errorf("gap records count %d lost, the kernel dropped %d", lost, kernelDrops)
	}
	if uint64(received)+lost != burst+1 {
		t.Errorf("%d received + %d lost != %d sent (the burst and the victim's DESTROY)", received, lost, burst+1)
	}
	r, _ := w.waitRecord("the victim's inferred DESTROY, from the dump after the gap",
		recordFor(t, model.ProtoUDP, "10.5.0.9", "10.6.0.9", 9, 53, "destroy"))
	if r["inferred"] != true {
		t.Errorf("the victim's DESTROY is not inferred: %v", r)
	}
	// After the overrun the stream goes on.
	after := evFlow(17, "10.5.0.3", "10.6.0.3", 1, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(after) })
	w.waitEvent("an event after the gap", evTuple(model.ProtoUDP, "10.5.0.3", "10.6.0.3", 1, 53))
	_, code, _ := w.stop()
	if code != 0 {
		t.Errorf("exit status %d after an overrun, want 0: loss is never fatal", code)
	}
	if want := fmt.Sprintf("lost %d (kernel %d,", lost, lost); !strings.Contains(w.stderr.String(), want) {
		t.Errorf("summary does not report the loss %q:\n%s", want, w.stderr.String())
	}
}

// TestWatchNetnsSpecs watches a namespace named by name, by path and by the
// PID of a process inside it.
func TestWatchNetnsSpecs(t *testing.T) {
	ns := wtTrackedNS(t)
	sleeper := ns.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	ct := ns.Conntrack()
	for i, spec := range []string{ns.Name, ns.Path, strconv.Itoa(sleeper.Process.Pid)} {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			w := wtStart(t, "watch", "--netns", spec)
			f := evFlow(6, "10.7.0.1", "10.8.0.1", uint16(100+i), 80, 100, 0)
			evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
			w.waitEvent("the namespace's event", evTuple(model.ProtoTCP, "10.7.0.1", "10.8.0.1", uint16(100+i), 80))
			if r, _, _ := w.stop(); len(r) == 0 {
				t.Error("no stop record")
			}
		})
	}
}

// TestWatchFilters runs the binary with each filter over the same set of
// entries and checks which come out.
func TestWatchFilters(t *testing.T) {
	type fl struct {
		proto        uint8
		src, dst     string
		sport, dport uint16
		mark         uint32
		zone         uint16
		status       conntrack.Status
	}
	assured := conntrack.StatusSeenReply | conntrack.StatusAssured | conntrack.StatusConfirmed
	flows := []fl{
		{6, "10.0.0.1", "10.9.0.1", 1001, 22, 0, 0, 0},
		{17, "10.0.0.2", "10.9.0.2", 1002, 53, 5, 0, 0},
		{6, "192.168.0.3", "10.9.0.3", 1003, 443, 0x10, 3, assured},
		{17, "2001:db8::4", "2001:db8::9", 1004, 694, 0, 0, 0},
	}
	tests := []struct {
		args []string
		want []uint16 // sports of the selected flows, in order
		// userFiltered is what userspace filters with --kernel-filter:
		// --mark, --status and --state stay there (filter.Stable).
		userFiltered int
	}{
		{nil, []uint16{1001, 1002, 1003, 1004}, 0},
		{[]string{"--proto", "tcp"}, []uint16{1001, 1003}, 0},
		{[]string{"--family", "ipv6"}, []uint16{1004}, 0},
		{[]string{"--src", "10.0.0.0/24,2001:db8::/32"}, []uint16{1001, 1002, 1004}, 0},
		{[]string{"--dst", "10.9.0.2"}, []uint16{1002}, 0},
		{[]string{"--dport", "22,690-700"}, []uint16{1001, 1004}, 0},
		{[]string{"--sport", "1003"}, []uint16{1003}, 0},
		{[]string{"--port", "53"}, []uint16{1002}, 0},
		{[]string{"--mark", "0x10/0xf0"}, []uint16{1003}, 3},
		{[]string{"--zone", "3"}, []uint16{1003}, 0},
		{[]string{"--status", "assured"}, []uint16{1003}, 3},
		{[]string{"--status", "unreplied", "--proto", "udp"}, []uint16{1002, 1004}, 0},
		{[]string{"--state", "ESTABLISHED"}, []uint16{1001, 1003}, 2},
		{[]string{"--events", "destroy"}, nil, 0},
	}
	// Each filter in the kernel (the default) and in userspace only: the
	// same records; only userspace counts what it filtered (the kernel
	// drops the rest uncounted).
	for _, tt := range tests {
		for _, kernel := range []bool{true, false} {
			t.Run(strings.Join(tt.args, " ")+" kernel="+strconv.FormatBool(kernel), func(t *testing.T) {
				ns := wtTrackedNS(t)
				w := wtStart(t, append([]string{"watch", "--netns", ns.Name, "--kernel-filter=" + strconv.FormatBool(kernel)}, tt.args...)...)
				ct := ns.Conntrack()
				for _, f := range flows {
					cf := conntrack.NewFlow(f.proto, f.status, netip.MustParseAddr(f.src), netip.MustParseAddr(f.dst), f.sport, f.dport, 100, f.mark)
					cf.Zone = f.zone
					if f.proto == 6 {
						cf.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: uint8(model.TCPEstablished)}
					}
					evWithin(t, evTimeout, "create", func() error { return ct.Create(cf) })
				}
				// The kernel queues a ctnetlink request's event before it
				// answers the request; once ctwatch's socket is empty, its
				// reader has every event, and a stop drains the rest.
				wtPoll(t, "ctwatch to read every event", func() bool {
					socks := wtEventSockets(t, ns)
					return len(socks) == 1 && socks[0].Rmem == 0
				})
				rest, code, _ := w.stop()
				if code != 0 {
					t.Errorf("exit status %d", code)
				}
				var got []uint16
				for _, l := range rest {
					var r map[string]any
					if err := json.Unmarshal([]byte(l), &r); err != nil {
						t.Fatalf("%v: %q", err, l)
					}
					if ev, ok := wtEntry(t, r); ok {
						got = append(got, ev.Entry.Orig.SrcPort)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("selected sports (-want +got):\n%s", diff)
				}
				filtered := len(flows) - len(tt.want)
				switch {
				case tt.args != nil && tt.args[0] == "--events":
					filtered = 0 // not subscribed: the kernel never queues them
				case kernel:
					// The rest is not received: the program drops it.
					filtered = tt.userFiltered
				}
				if want := fmt.Sprintf("%d filtered", filtered); !strings.Contains(w.stderr.String(), want) {
					t.Errorf("summary does not say %q:\n%s", want, w.stderr.String())
				}
			})
		}
	}
}

// TestWatchSnapshot: with --snapshot the entries that existed before
// ctwatch started come first, as snapshot records, then the live stream.
func TestWatchSnapshot(t *testing.T) {
	ns := wtTrackedNS(t)
	ct := ns.Conntrack()
	for i := range 3 {
		f := evFlow(17, "10.70.0.1", "10.70.0.2", uint16(700+i), 53, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	w := wtStart(t, "watch", "--netns", ns.Name, "--snapshot")
	var snap []uint16
	for _, l := range w.seen {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if ev, ok := wtEntry(t, r); ok {
			if ev.Type != model.EventSnapshot {
				t.Errorf("before the dump record: a %v record", ev.Type)
			}
			snap = append(snap, ev.Entry.Orig.SrcPort)
		}
	}
	slices.Sort(snap)
	if diff := cmp.Diff([]uint16{700, 701, 702}, snap); diff != "" {
		t.Errorf("snapshot records (-want +got):\n%s", diff)
	}
	f := evFlow(17, "10.70.0.1", "10.70.0.2", 800, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	w.waitEvent("the live NEW", evAnd(evTuple(model.ProtoUDP, "10.70.0.1", "10.70.0.2", 800, 53), evIs(model.EventNew)))
}
