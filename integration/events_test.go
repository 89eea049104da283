//go:build integration

package integration

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/internal/origins"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var evCmpOpts = cmpopts.EquateComparable(netip.Addr{})

// evExpireSlack accepts a timeout one second short of want: the kernel
// reports the whole seconds left, which drop by one when a clock tick falls
// between setting the timeout and reporting it.
func evExpireSlack(got *model.Entry, want uint32) {
	if got.Timeout+1 == want {
		got.Timeout = want
	}
}

// TestEventsCtnetlink creates, updates and deletes an entry through
// ctnetlink and checks each event field by field, the port id of the
// request, and that the origins resolver names this test process behind it.
func TestEventsCtnetlink(t *testing.T) {
	for _, stamps := range []bool{false, true} {
		name := "plain"
		if stamps {
			name = "acct_timestamp"
		}
		t.Run(name, func(t *testing.T) {
			ns := nstest.New(t)
			if stamps {
				ns.Sysctl("net.netfilter.nf_conntrack_acct", "1")
				ns.Sysctl("net.netfilter.nf_conntrack_timestamp", "1")
			}
			clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			w := evWatch(t, ns, events.Config{Clock: func() time.Time { return clock }})
			ct := ns.Conntrack()

			f := evFlow(unix.IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 4000, 53, 60, 0)
			f.Zone = 3
			before := time.Now()
			evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
			u := f
			u.Mark, u.Timeout = 7, 90
			evWithin(t, evTimeout, "update", func() error { return ct.Update(u) })
			evDelete(t, ct, f)
			after := time.Now()

			match := evTuple(model.ProtoUDP, "10.0.0.1", "10.0.0.2", 4000, 53)
			newEv, _ := w.waitFor("NEW", evAnd(match, evIs(model.EventNew)))
			updEv, _ := w.waitFor("UPDATE", evAnd(match, evIs(model.EventUpdate)))
			delEv, _ := w.waitFor("DESTROY", evAnd(match, evIs(model.EventDestroy)))

			portid := newEv.Origin.PortID
			if portid == 0 {
				t.Fatal("NEW caused by a ctnetlink request has no port id")
			}
			id := newEv.Entry.ID
			if id == 0 {
				t.Fatal("NEW has no conntrack id")
			}
			orig := model.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 4000, DstPort: 53}
			reply := model.Tuple{Src: orig.Dst, Dst: orig.Src, SrcPort: 53, DstPort: 4000}
			base := model.Entry{
				Family: model.FamilyIPv4, Proto: model.ProtoUDP,
				Fields: model.FieldTimeout | model.FieldMark | model.FieldZone | model.FieldID,
				Status: model.StatusConfirmed,
				Orig:   orig, Reply: reply, Zone: 3, ID: id,
			}
			wantNew := model.Event{Type: model.EventNew, Time: clock, Origin: model.Origin{PortID: portid}, Entry: base}
			wantNew.Entry.Timeout = 60
			wantUpd := model.Event{Type: model.EventUpdate, Time: clock, Origin: model.Origin{PortID: portid}, Entry: base}
			wantUpd.Entry.Timeout, wantUpd.Entry.Mark = 90, 7
			wantDel := model.Event{Type: model.EventDestroy, Time: clock, Origin: model.Origin{PortID: portid}, Entry: base}
			wantDel.Entry.Timeout, wantDel.Entry.Mark = 90, 7
			wantDel.Entry.Status |= model.StatusDying

			if stamps {
				// The kernel's event time replaces the receive time, and
				// the destroy event carries counters and the entry's
				// start and stop.
				for _, ev := range []*model.Event{&newEv, &updEv, &delEv} {
					if ev.Time.Before(before) || ev.Time.After(after) {
						t.Errorf("%v event time %v not within the requests' [%v, %v]", ev.Type, ev.Time, before, after)
					}
				}
				wantNew.Time, wantUpd.Time, wantDel.Time = newEv.Time, updEv.Time, delEv.Time
				wantDel.Entry.Fields |= model.FieldOrigCounters | model.FieldReplyCounters | model.FieldStart | model.FieldStop
				if s, e := delEv.Entry.Start, delEv.Entry.Stop; s.Before(before) || e.Before(s) || e.After(after) {
					t.Errorf("start %v, stop %v not within [%v, %v]", s, e, before, after)
				}
				wantDel.Entry.Start, wantDel.Entry.Stop = delEv.Entry.Start, delEv.Entry.Stop
			}
			evExpireSlack(&newEv.Entry, 60)
			evExpireSlack(&updEv.Entry, 90)
			evExpireSlack(&delEv.Entry, 90)
			for _, c := range []struct{ want, got model.Event }{{wantNew, newEv}, {wantUpd, updEv}, {wantDel, delEv}} {
				if diff := cmp.Diff(c.want, c.got, evCmpOpts); diff != "" {
					t.Errorf("%v event (-want +got):\n%s", c.want.Type, diff)
				}
			}

			h, err := netns.Open(ns.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			comm, err := os.ReadFile("/proc/self/comm")
			if err != nil {
				t.Fatal(err)
			}
			pid, prog := origins.New(h).Resolve(portid, time.Now())
			if want := strings.TrimSpace(string(comm)); pid != int32(os.Getpid()) || prog != want {
				t.Errorf("Resolver.Resolve(%d) = %d, %q; want this process, %d, %q", portid, pid, prog, os.Getpid(), want)
			}
		})
	}
}

// TestEventsTCP follows a real TCP connection on the namespace's loopback
// from SYN to TIME_WAIT, then its deletion.
func TestEventsTCP(t *testing.T) {
	ns := nstest.New(t)
	ns.EnableTracking()
	w := evWatch(t, ns, events.Config{})

	l := evListenTCP(t, ns, "127.0.0.1:0")
	c := evDialTCP(t, ns, l.Addr().String())
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The client closes first; the server closes once it has read the
	// end of the stream, so that FIN_WAIT comes before LAST_ACK.
	c.Close()
	if _, err := io.ReadAll(s); err != nil {
		t.Fatal(err)
	}
	s.Close()

	sport, dport := evPort(c.LocalAddr()), evPort(l.Addr())
	conn := evTuple(model.ProtoTCP, "127.0.0.1", "127.0.0.1", sport, dport)
	type step struct {
		typ       model.EventType
		state     model.State
		unreplied bool
		assured   bool
	}
	got := func(ev *model.Event) step {
		return step{ev.Type, ev.Entry.State, ev.Entry.Unreplied(), ev.Entry.Assured()}
	}
	var steps []step
	for {
		ev, _ := w.waitFor("of the connection", conn)
		if !ev.Entry.Fields.Has(model.FieldState) {
			t.Errorf("%s: no protocol state", evText(&ev))
		}
		if ev.Origin.PortID != 0 {
			t.Errorf("%s: traffic event with a port id", evText(&ev))
		}
		steps = append(steps, got(&ev))
		if ev.Entry.State == model.TCPTimeWait {
			break
		}
	}
	// A delayed ACK may or may not show CLOSE_WAIT between FIN_WAIT and
	// LAST_ACK; everything else is fixed.
	var seen []step
	for _, s := range steps {
		if s.state != model.TCPCloseWait {
			seen = append(seen, s)
		}
	}
	want := []step{
		{model.EventNew, model.TCPSynSent, true, false},
		{model.EventUpdate, model.TCPSynRecv, false, false},
		{model.EventUpdate, model.TCPEstablished, false, true},
		{model.EventUpdate, model.TCPFinWait, false, true},
		{model.EventUpdate, model.TCPLastAck, false, true},
		{model.EventUpdate, model.TCPTimeWait, false, true},
	}
	if diff := cmp.Diff(want, seen, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("connection's events (-want +got):\n%s", diff)
	}

	evDelete(t, ns.Conntrack(), evFlow(unix.IPPROTO_TCP, "127.0.0.1", "127.0.0.1", sport, dport, 0, 0))
	ev, _ := w.waitFor("DESTROY", evAnd(conn, evIs(model.EventDestroy)))
	if diff := cmp.Diff(step{model.EventDestroy, model.TCPTimeWait, false, true}, got(&ev), cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("DESTROY (-want +got):\n%s", diff)
	}
	if ev.Origin.PortID == 0 {
		t.Error("DESTROY by a ctnetlink request has no port id")
	}
}

// TestEventsUDP sees an unanswered datagram stay [UNREPLIED], and an
// answered heartbeat become replied and then, two seconds on, [ASSURED].
func TestEventsUDP(t *testing.T) {
	ns := nstest.New(t)
	ns.EnableTracking()
	w := evWatch(t, ns, events.Config{})

	lone := evUDP(t, ns, "127.0.0.1:0")
	evSendUDP(t, lone, "127.0.0.1:694", "anyone?")
	ev, _ := w.waitFor("NEW to 694", evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", evPort(lone.LocalAddr()), 694), evIs(model.EventNew)))
	if !ev.Entry.Unreplied() || ev.Entry.Assured() {
		t.Errorf("unanswered datagram: %s, want [UNREPLIED] and not [ASSURED]", evText(&ev))
	}

	srv := evUDP(t, ns, "127.0.0.1:694")
	cl := evUDP(t, ns, "127.0.0.1:0")
	go func() { // the echo side of the heartbeat
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := srv.WriteToUDPAddrPort(buf[:n], from); err != nil {
				return
			}
		}
	}()
	stop := make(chan struct{})
	beats := make(chan error, 1)
	go func() {
		// Traffic pacing, not synchronisation: UDP is assured only by a
		// packet at least 2 s after the first.
		tick := time.NewTicker(700 * time.Millisecond)
		defer tick.Stop()
		end := time.After(3 * time.Second)
		for {
			if _, err := cl.WriteToUDPAddrPort([]byte("beat"), netip.MustParseAddrPort("127.0.0.1:694")); err != nil {
				beats <- err
				return
			}
			select {
			case <-tick.C:
			case <-end:
				beats <- nil
				return
			case <-stop:
				beats <- nil
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-beats; err != nil {
			t.Errorf("heartbeat: %v", err)
		}
	}()

	hb := evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", evPort(cl.LocalAddr()), 694)
	ev, _ = w.waitFor("heartbeat NEW", evAnd(hb, evIs(model.EventNew)))
	if !ev.Entry.Unreplied() {
		t.Errorf("first heartbeat: %s, want [UNREPLIED]", evText(&ev))
	}
	ev, _ = w.waitFor("heartbeat replied", evAnd(hb, evIs(model.EventUpdate)))
	if ev.Entry.Unreplied() || ev.Entry.Assured() {
		t.Errorf("first answer: %s, want replied, not yet [ASSURED]", evText(&ev))
	}
	first := ev.Time
	ev, _ = w.waitFor("heartbeat assured", evAnd(hb, evIs(model.EventUpdate), func(ev *model.Event) bool { return ev.Entry.Assured() }))
	if d := ev.Time.Sub(first); d < 1500*time.Millisecond {
		t.Errorf("[ASSURED] %v after the first answer, want about 2 s", d)
	}
}

// TestEventsNotrack checks that traffic exempted from tracking in the raw
// table produces no event: a datagram to another port, sent after them,
// is the sentinel.
func TestEventsNotrack(t *testing.T) {
	ns := nstest.New(t)
	ns.EnableTracking()
	ns.NFT(`table inet ctwatch_notrack {
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		udp dport 694 notrack
	}
	chain output {
		type filter hook output priority raw; policy accept;
		udp dport 694 notrack
	}
}
`)
	w := evWatch(t, ns, events.Config{})
	cl := evUDP(t, ns, "127.0.0.1:0")
	for range 5 {
		evSendUDP(t, cl, "127.0.0.1:694", "untracked")
	}
	evSendUDP(t, cl, "127.0.0.1:695", "sentinel")
	_, before := w.waitFor("sentinel", evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", evPort(cl.LocalAddr()), 695))
	for _, ev := range before {
		t.Errorf("event before the sentinel: %s", evText(&ev))
	}
}

// TestEventsOverrun fills a small socket buffer while nobody reads, and
// checks that the socket's drop counter accounts for exactly the events
// that did not fit, and that events flow again afterwards.
func TestEventsOverrun(t *testing.T) {
	ns := nstest.New(t)
	sub := evSubscribe(t, ns, events.Config{BufferSize: 16 << 10})
	if got := sub.BufferSize(); got < 16<<10 {
		t.Fatalf("BufferSize() = %d, want at least the 16 KiB asked for", got)
	}
	ct := ns.Conntrack()
	const n = 3000
	// One ctnetlink create is one NEW event.
	evWithin(t, 60*time.Second, "burst of creates", func() error {
		for i := range n {
			f := evFlow(unix.IPPROTO_UDP, "10.9.0.1", "10.9.0.2", uint16(10000+i), 53, 60, 0)
			if err := ct.Create(f); err != nil {
				return err
			}
		}
		return nil
	})
	dropped := sub.Stats().KernelDrops
	if dropped == 0 {
		t.Fatalf("no kernel drops after %d events into a %d-byte buffer", n, sub.BufferSize())
	}

	w := evRun(t, sub)
	burst := evTuple(model.ProtoUDP, "10.9.0.1", "10.9.0.2", 0, 53)
	// The first batch drains everything the socket held.
	first, _ := w.waitFor("from the burst", burst)
	received := 1
	if first.Type != model.EventNew {
		t.Errorf("burst event %s, want NEW", evText(&first))
	}
	evWithin(t, evTimeout, "sentinel create", func() error {
		return ct.Create(evFlow(unix.IPPROTO_UDP, "10.9.0.3", "10.9.0.4", 1, 53, 60, 0))
	})
	_, before := w.waitFor("sentinel after the overrun", evTuple(model.ProtoUDP, "10.9.0.3", "10.9.0.4", 1, 53))
	for _, ev := range before {
		if !burst(&ev) {
			t.Errorf("unexpected event %s", evText(&ev))
		}
		received++
	}
	st := sub.Stats()
	if st.KernelDrops != dropped {
		t.Errorf("KernelDrops grew from %d to %d after the burst", dropped, st.KernelDrops)
	}
	if uint64(received)+st.KernelDrops != n {
		t.Errorf("received %d + dropped %d = %d, want the %d events sent", received, st.KernelDrops, uint64(received)+st.KernelDrops, n)
	}
	want := events.Stats{Received: uint64(received) + 1, KernelDrops: dropped}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	t.Logf("%d events: %d received, %d dropped by the kernel (buffer %d bytes)", n, received, dropped, sub.BufferSize())
}

// TestEventsDump lists entries created through ctnetlink, stops early, and
// gives up at the context's deadline.
func TestEventsDump(t *testing.T) {
	ns := nstest.New(t)
	ct := ns.Conntrack()
	const n = 500 // several datagrams' worth
	evWithin(t, 30*time.Second, "creates", func() error {
		for i := range n {
			f := evFlow(unix.IPPROTO_TCP, "10.8.0.1", "10.8.0.2", uint16(20000+i), 80, 300, uint32(i))
			f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: uint8(model.TCPEstablished)}
			if err := ct.Create(f); err != nil {
				return err
			}
		}
		return ct.Create(evFlow(unix.IPPROTO_UDP, "fd00::1", "fd00::2", 5353, 53, 300, 0))
	})

	ctx, cancel := context.WithTimeout(context.Background(), evTimeout)
	defer cancel()
	all, err := events.DumpAll(ctx, ns.FD)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n+1 {
		t.Fatalf("dump listed %d entries, want %d", len(all), n+1)
	}
	seen := make(map[uint16]bool)
	var v6 int
	for i := range all {
		ev := &all[i]
		if ev.Type != model.EventSnapshot || ev.Time.IsZero() || !ev.Origin.IsZero() {
			t.Errorf("%s: want a snapshot with a receive time and no origin", evText(ev))
		}
		if ev.Entry.Family == model.FamilyIPv6 {
			v6++
			continue
		}
		e := ev.Entry
		port := e.Orig.SrcPort
		seen[port] = true
		// A dump carries what an event of a change may leave out: the
		// use count and a zero mark.
		want := model.Entry{
			Family: model.FamilyIPv4, Proto: model.ProtoTCP,
			Fields: model.FieldTimeout | model.FieldState | model.FieldMark | model.FieldUse | model.FieldID,
			State:  model.TCPEstablished,
			Status: model.StatusConfirmed,
			Orig:   model.Tuple{Src: netip.MustParseAddr("10.8.0.1"), Dst: netip.MustParseAddr("10.8.0.2"), SrcPort: port, DstPort: 80},
			Reply:  model.Tuple{Src: netip.MustParseAddr("10.8.0.2"), Dst: netip.MustParseAddr("10.8.0.1"), SrcPort: 80, DstPort: port},
			Mark:   uint32(port - 20000), Use: e.Use, ID: e.ID, Timeout: e.Timeout,
		}
		if diff := cmp.Diff(want, e, evCmpOpts); diff != "" {
			t.Errorf("entry %d (-want +got):\n%s", port, diff)
		}
		if e.ID == 0 || e.Use == 0 || e.Timeout == 0 || e.Timeout > 300 {
			t.Errorf("entry %d: id %d, use %d, timeout %d", port, e.ID, e.Use, e.Timeout)
		}
	}
	if len(seen) != n || v6 != 1 {
		t.Errorf("dump listed %d distinct IPv4 entries and %d IPv6, want %d and 1", len(seen), v6, n)
	}

	t.Run("stop early", func(t *testing.T) {
		calls := 0
		err := events.Dump(ctx, ns.FD, func(*model.Event) bool {
			calls++
			return calls < 5
		})
		if err != nil || calls != 5 {
			t.Errorf("Dump stopped after %d calls with %v, want 5 and nil", calls, err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		err := events.Dump(ctx, ns.FD, func(*model.Event) bool {
			cancel()
			return true
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Dump = %v, want context.Canceled", err)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := events.Dump(ctx, ns.FD, func(*model.Event) bool {
			<-ctx.Done() // a consumer slower than the deadline
			return true
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Dump = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Dump returned %v after a 200 ms deadline", d)
		}
	})

	t.Run("expired", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if _, err := events.DumpAll(ctx, ns.FD); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("DumpAll = %v, want context.DeadlineExceeded", err)
		}
	})
}
