//go:build integration

package integration

// Helpers of the events and netns integration tests. Their names start with
// ev so that they cannot collide with other tests of this package.

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// evTimeout bounds every wait for an event and every netlink request.
const evTimeout = 5 * time.Second

// evWithin runs f, a netlink request of a library without deadlines (ti-mo
// conntrack), and fails the test if it does not return within d.
func evWithin(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: no reply within %v", what, d)
	}
}

// evWatcher reads a Subscriber with Receive on the test's goroutine and
// hands out its events one at a time.
type evWatcher struct {
	t       testing.TB
	sub     *events.Subscriber
	b       *events.Batch
	pending []model.Event
	seen    []string // what was received, for failure messages
	nextSeq uint64
}

// evSubscribe subscribes in ns with cfg (NetNS is filled in) without
// starting to read.
func evSubscribe(t testing.TB, ns *nstest.NS, cfg events.Config) *events.Subscriber {
	t.Helper()
	cfg.NetNS = ns.FD
	sub, err := events.Subscribe(cfg)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	t.Cleanup(func() {
		if err := sub.Close(); err != nil {
			t.Errorf("close subscriber: %v", err)
		}
	})
	return sub
}

// evRun reads sub from now on, with Receive.
func evRun(t testing.TB, sub *events.Subscriber) *evWatcher {
	return &evWatcher{t: t, sub: sub, b: events.NewBatch()}
}

// evWatch subscribes in ns and starts reading.
func evWatch(t testing.TB, ns *nstest.NS, cfg events.Config) *evWatcher {
	t.Helper()
	return evRun(t, evSubscribe(t, ns, cfg))
}

// next returns the next event, waiting until deadline. Each Receive waits
// at most the subscriber's receive timeout, so the deadline is kept within
// that.
func (w *evWatcher) next(deadline time.Time) (model.Event, bool) {
	w.t.Helper()
	for len(w.pending) == 0 {
		if time.Now().After(deadline) {
			return model.Event{}, false
		}
		b := w.b
		if err := w.sub.Receive(b, true); err != nil {
			w.t.Fatalf("Receive: %v", err)
		}
		if len(b.Events) > 0 {
			if b.Seq != w.nextSeq {
				w.t.Errorf("batch sequence %d, want %d: events were lost between socket and caller", b.Seq, w.nextSeq)
			}
			w.nextSeq = b.Seq + uint64(len(b.Events))
		}
		for _, f := range b.Failures {
			w.t.Errorf("decode failure: %v (% x)", f.Err, f.Raw)
		}
		for _, ev := range b.Events {
			// The batch's slots are reused by the next Receive.
			ev.Entry.Labels = append([]string(nil), ev.Entry.Labels...)
			w.pending = append(w.pending, ev)
		}
	}
	ev := w.pending[0]
	w.pending = w.pending[1:]
	w.seen = append(w.seen, evText(&ev))
	return ev, true
}

// waitFor reads events until one satisfies match, and returns it with the
// events read before it. It fails the test after evTimeout.
func (w *evWatcher) waitFor(what string, match func(*model.Event) bool) (model.Event, []model.Event) {
	w.t.Helper()
	deadline := time.Now().Add(evTimeout)
	var before []model.Event
	for {
		ev, ok := w.next(deadline)
		if !ok {
			w.t.Fatalf("no event %s within %v; received:\n%s", what, evTimeout, strings.Join(w.seen, "\n"))
		}
		if match(&ev) {
			return ev, before
		}
		before = append(before, ev)
	}
}

// evText renders an event as conntrack -E -o extended,id,timestamp does.
func evText(ev *model.Event) string {
	return string(model.AppendText(nil, ev, &model.TextOptions{Layer3: true, ID: true, Timestamp: true}))
}

// evTuple matches an event's original direction.
func evTuple(proto model.Proto, src, dst string, sport, dport uint16) func(*model.Event) bool {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return func(ev *model.Event) bool {
		o := &ev.Entry.Orig
		return ev.Entry.Proto == proto && o.Src == s && o.Dst == d &&
			(sport == 0 || o.SrcPort == sport) && (dport == 0 || o.DstPort == dport)
	}
}

// evAnd combines matchers.
func evAnd(ms ...func(*model.Event) bool) func(*model.Event) bool {
	return func(ev *model.Event) bool {
		for _, m := range ms {
			if !m(ev) {
				return false
			}
		}
		return true
	}
}

func evIs(typ model.EventType) func(*model.Event) bool {
	return func(ev *model.Event) bool { return ev.Type == typ }
}

func evState(st model.State) func(*model.Event) bool {
	return func(ev *model.Event) bool { return ev.Entry.Fields.Has(model.FieldState) && ev.Entry.State == st }
}

// evListenTCP opens a TCP listener inside ns on addr ("127.0.0.1:0").
func evListenTCP(t testing.TB, ns *nstest.NS, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen in namespace: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// evDialTCP connects from inside ns.
func evDialTCP(t testing.TB, ns *nstest.NS, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, evTimeout)
		return err
	}); err != nil {
		t.Fatalf("dial in namespace: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// evUDP opens a UDP socket inside ns bound to addr.
func evUDP(t testing.TB, ns *nstest.NS, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() error {
		a, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp", a)
		return err
	}); err != nil {
		t.Fatalf("udp socket in namespace: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// evSendUDP sends payload from c to addr.
func evSendUDP(t testing.TB, c *net.UDPConn, addr string, payload string) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte(payload), netip.MustParseAddrPort(addr)); err != nil {
		t.Fatalf("send udp to %s: %v", addr, err)
	}
}

// evFlow is a ctnetlink flow for the tuple src:sport → dst:dport.
func evFlow(proto uint8, src, dst string, sport, dport uint16, timeout, mark uint32) conntrack.Flow {
	return conntrack.NewFlow(proto, 0, netip.MustParseAddr(src), netip.MustParseAddr(dst), sport, dport, timeout, mark)
}

// evDelete deletes a flow through ctnetlink.
func evDelete(t testing.TB, c *conntrack.Conn, f conntrack.Flow) {
	t.Helper()
	evWithin(t, evTimeout, "ctnetlink delete", func() error { return c.Delete(f) })
}

func evPort(a net.Addr) uint16 {
	switch a := a.(type) {
	case *net.TCPAddr:
		return uint16(a.Port)
	case *net.UDPAddr:
		return uint16(a.Port)
	}
	panic(fmt.Sprintf("no port in %v", a))
}
