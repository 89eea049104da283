//go:build integration

package integration

import (
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// evCapture makes TestEventsCapture write the raw messages it records to
// pkg/events/testdata, where the decoder's unit, fuzz and benchmark tests
// read them:
//
//	go test -tags integration -run TestEventsCapture ./integration -events.capture
var evCapture = flag.Bool("events.capture", false, "write the captured ctnetlink event messages to pkg/events/testdata")

// evRecorder records the raw ctnetlink event messages of a namespace on a
// socket of its own, independent of the Subscriber under test, so that the
// bytes are exactly the kernel's.
type evRecorder struct {
	t    testing.TB
	fd   int
	mu   sync.Mutex
	msgs [][]byte
	// more is signalled (without blocking) whenever messages are added.
	more chan struct{}
	stop chan struct{}
	done chan struct{}
}

func evRecord(t testing.TB, ns *nstest.NS) *evRecorder {
	t.Helper()
	r := &evRecorder{t: t, fd: -1, more: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		r.fd = fd
		groups := uint32(1<<(unix.NFNLGRP_CONNTRACK_NEW-1) | 1<<(unix.NFNLGRP_CONNTRACK_UPDATE-1) | 1<<(unix.NFNLGRP_CONNTRACK_DESTROY-1))
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
			return err
		}
		// A short timeout lets the loop notice stop.
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	}); err != nil {
		if r.fd >= 0 {
			unix.Close(r.fd)
		}
		t.Fatalf("recorder socket: %v", err)
	}
	go r.loop()
	t.Cleanup(r.close)
	return r
}

func (r *evRecorder) loop() {
	defer close(r.done)
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(r.fd, buf, 0)
		if err != nil {
			continue // timeout (EAGAIN) or EINTR
		}
		b := buf[:n]
		r.mu.Lock()
		for len(b) >= 16 {
			l := int(binary.NativeEndian.Uint32(b))
			if l < 16 || l > len(b) {
				break
			}
			r.msgs = append(r.msgs, append([]byte(nil), b[:l]...))
			b = b[min((l+3)&^3, len(b)):]
		}
		r.mu.Unlock()
		select {
		case r.more <- struct{}{}:
		default:
		}
	}
}

func (r *evRecorder) close() {
	select {
	case <-r.stop:
		return
	default:
	}
	close(r.stop)
	<-r.done
	unix.Close(r.fd)
}

// waitFor waits until a recorded message decodes into an event matching
// match; every message must decode.
func (r *evRecorder) waitFor(what string, match func(*model.Event) bool) {
	r.t.Helper()
	deadline := time.After(evTimeout)
	checked := 0
	for {
		r.mu.Lock()
		msgs := r.msgs
		r.mu.Unlock()
		for _, raw := range msgs[checked:] {
			var ev model.Event
			if err := events.DecodeFast(raw, &ev); err != nil {
				r.t.Fatalf("decode %x: %v", raw, err)
			}
			if match(&ev) {
				return
			}
		}
		checked = len(msgs)
		select {
		case <-r.more:
		case <-deadline:
			r.t.Fatalf("no event %s recorded within %v", what, evTimeout)
		}
	}
}

// write saves the recorded messages as pkg/events/testdata/NAME.nlmsg, one
// netlink message after the other.
func (r *evRecorder) write(name string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == 0 {
		r.t.Fatalf("nothing recorded for %s", name)
	}
	r.t.Logf("%s: %d messages", name, len(r.msgs))
	if !*evCapture {
		return
	}
	var out []byte
	for _, m := range r.msgs {
		out = append(out, m...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	path := filepath.Join("..", "pkg", "events", "testdata", name+".nlmsg")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// evCaptureNS is a namespace with conntrack engaged, accounting and
// timestamps on, and a recorder attached.
func evCaptureNS(t *testing.T, ruleset string) (*nstest.NS, *evRecorder) {
	ns := nstest.New(t)
	ns.Sysctl("net.netfilter.nf_conntrack_acct", "1")
	ns.Sysctl("net.netfilter.nf_conntrack_timestamp", "1")
	ns.EnableTracking()
	if ruleset != "" {
		ns.NFT(ruleset)
	}
	return ns, evRecord(t, ns)
}

// TestEventsCapture drives traffic of every kind the decoder must know, and
// checks that each message the kernel sends decodes. With -events.capture
// it stores the messages as the decoder's test data.
func TestEventsCapture(t *testing.T) {
	nstest.RequireCommand(t, "ping")

	t.Run("tcp", func(t *testing.T) {
		ns, rec := evCaptureNS(t, "")
		l := evListenTCP(t, ns, "127.0.0.1:0")
		c := evDialTCP(t, ns, l.Addr().String())
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := s.Read(buf); err != nil {
			t.Fatal(err)
		}
		c.Close()
		s.Close()
		sport, dport := evPort(c.LocalAddr()), evPort(l.Addr())
		rec.waitFor("TIME_WAIT", evAnd(evTuple(model.ProtoTCP, "127.0.0.1", "127.0.0.1", sport, dport), evState(model.TCPTimeWait)))
		evDelete(t, ns.Conntrack(), evFlow(unix.IPPROTO_TCP, "127.0.0.1", "127.0.0.1", sport, dport, 0, 0))
		rec.waitFor("DESTROY", evAnd(evTuple(model.ProtoTCP, "127.0.0.1", "127.0.0.1", sport, dport), evIs(model.EventDestroy)))
		rec.write("tcp")
	})

	t.Run("udp", func(t *testing.T) {
		ns, rec := evCaptureNS(t, "")
		cl := evUDP(t, ns, "127.0.0.1:0")
		evSendUDP(t, cl, "127.0.0.1:694", "unanswered")
		srv := evUDP(t, ns, "127.0.0.1:0")
		evSendUDP(t, cl, srv.LocalAddr().String(), "ping")
		buf := make([]byte, 16)
		_, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		evSendUDP(t, srv, from.String(), "pong")
		sport, dport := evPort(cl.LocalAddr()), evPort(srv.LocalAddr())
		rec.waitFor("UDP reply", evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", sport, dport), evIs(model.EventUpdate)))
		evDelete(t, ns.Conntrack(), evFlow(unix.IPPROTO_UDP, "127.0.0.1", "127.0.0.1", sport, dport, 0, 0))
		rec.waitFor("DESTROY", evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", sport, dport), evIs(model.EventDestroy)))
		rec.write("udp")
	})

	t.Run("icmp", func(t *testing.T) {
		ns, rec := evCaptureNS(t, "")
		ns.Run("ping", "-c", "1", "-W", "2", "127.0.0.1")
		rec.waitFor("echo reply", evAnd(evTuple(model.ProtoICMP, "127.0.0.1", "127.0.0.1", 0, 0), evIs(model.EventUpdate)))
		rec.write("icmp")
	})

	t.Run("ipv6", func(t *testing.T) {
		ns, rec := evCaptureNS(t, "")
		ns.Run("ping", "-6", "-c", "1", "-W", "2", "::1")
		rec.waitFor("echo reply", evAnd(evTuple(model.ProtoICMPv6, "::1", "::1", 0, 0), evIs(model.EventUpdate)))
		l := evListenTCP(t, ns, "[::1]:0")
		c := evDialTCP(t, ns, l.Addr().String())
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		s.Close()
		rec.waitFor("TIME_WAIT", evAnd(evTuple(model.ProtoTCP, "::1", "::1", evPort(c.LocalAddr()), evPort(l.Addr())), evState(model.TCPTimeWait)))
		rec.write("ipv6")
	})

	t.Run("zone_mark_labels", func(t *testing.T) {
		ns, rec := evCaptureNS(t, `table inet ctw_capture {
	chain raw_out {
		type filter hook output priority raw; policy accept;
		udp dport 5555 ct zone set 7
		udp dport 5556 ct original zone set 9
	}
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 5557 ct mark set 42
		udp dport 5560 ct label set 3
		udp dport 5560 ct label set 100
	}
}
`)
		cl := evUDP(t, ns, "127.0.0.1:0")
		for _, port := range []uint16{5555, 5556, 5557, 5560} {
			evSendUDP(t, cl, "127.0.0.1:"+strconv.Itoa(int(port)), "x")
			rec.waitFor("NEW to "+strconv.Itoa(int(port)), evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", 0, port), evIs(model.EventNew)))
		}
		rec.write("zone_mark_labels")
	})

	t.Run("dnat", func(t *testing.T) {
		ns, rec := evCaptureNS(t, `table ip ctw_capture_nat {
	chain nat_out {
		type nat hook output priority -100; policy accept;
		udp dport 5558 dnat to 127.0.0.1:5559
	}
}
`)
		srv := evUDP(t, ns, "127.0.0.1:5559")
		cl := evUDP(t, ns, "127.0.0.1:0")
		evSendUDP(t, cl, "127.0.0.1:5558", "ping")
		buf := make([]byte, 16)
		_, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		evSendUDP(t, srv, from.String(), "pong")
		rec.waitFor("DNAT reply", evAnd(evTuple(model.ProtoUDP, "127.0.0.1", "127.0.0.1", 0, 5558), evIs(model.EventUpdate)))
		rec.write("dnat")
	})

	t.Run("helper", func(t *testing.T) {
		ns, rec := evCaptureNS(t, `table inet ctw_capture_helper {
	ct helper ftp-standard {
		type "ftp" protocol tcp
	}
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 2121 ct helper set "ftp-standard"
	}
}
`)
		l := evListenTCP(t, ns, "127.0.0.1:2121")
		c := evDialTCP(t, ns, l.Addr().String())
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		defer c.Close()
		rec.waitFor("ESTABLISHED", evAnd(evTuple(model.ProtoTCP, "127.0.0.1", "127.0.0.1", 0, 2121), evState(model.TCPEstablished)))
		rec.write("helper")
	})

	t.Run("ctnetlink", func(t *testing.T) {
		ns, rec := evCaptureNS(t, "")
		ct := ns.Conntrack()
		f := evFlow(unix.IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 4000, 53, 60, 0)
		f.Zone = 3
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
		u := f
		u.Mark, u.Timeout = 7, 90
		evWithin(t, evTimeout, "update", func() error { return ct.Update(u) })
		evDelete(t, ct, f)
		rec.waitFor("DESTROY", evAnd(evTuple(model.ProtoUDP, "10.0.0.1", "10.0.0.2", 4000, 53), evIs(model.EventDestroy)))
		rec.write("ctnetlink")
	})
}
