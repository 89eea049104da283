//go:build integration

package integration

// The kernel filter (internal/filter's Filter.BPF on the event socket)
// against the real kernel: subscribers filtered in the kernel receive
// exactly the events of an unfiltered subscriber in the same namespace that
// the userspace filter selects, in order. Helpers start with kf.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/filter"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// kfBuffer holds every event of a test with room to spare: a kernel drop
// fails the test rather than hiding a difference.
const kfBuffer = 32 << 20

// kfReader reads one subscriber on its own goroutine (the one goroutine
// that owns the socket) into events, until stopped and drained.
type kfReader struct {
	f      *filter.Filter // nil: unfiltered
	prog   int            // program length
	sub    *events.Subscriber
	mu     sync.Mutex
	events []model.Event
	fails  []string
	stop   chan struct{}
	done   chan struct{}
}

func (r *kfReader) run() {
	defer close(r.done)
	b := events.NewBatch()
	stopping := false
	for {
		select {
		case <-r.stop:
			stopping = true
		default:
		}
		if err := r.sub.Receive(b, true); err != nil {
			r.mu.Lock()
			r.fails = append(r.fails, fmt.Sprintf("Receive: %v", err))
			r.mu.Unlock()
			return
		}
		r.mu.Lock()
		for _, f := range b.Failures {
			r.fails = append(r.fails, fmt.Sprintf("decode failure: %v", f.Err))
		}
		for _, ev := range b.Events {
			ev.Entry.Labels = append([]string(nil), ev.Entry.Labels...)
			r.events = append(r.events, ev)
		}
		r.mu.Unlock()
		// Stopped once every event is queued: an empty read (after the
		// receive timeout) found the socket drained.
		if stopping && len(b.Events) == 0 && len(b.Failures) == 0 {
			return
		}
	}
}

func (r *kfReader) snapshot() []model.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Event(nil), r.events...)
}

// kfSubscribe opens an unfiltered subscriber and one per filter, each with
// its kernel program, and starts reading them.
func kfSubscribe(t *testing.T, ns *nstest.NS, filters []*filter.Filter) (all *kfReader, filtered []*kfReader) {
	t.Helper()
	open := func(f *filter.Filter) *kfReader {
		cfg := events.Config{BufferSize: kfBuffer, ReceiveTimeout: 100 * time.Millisecond}
		r := &kfReader{f: f, stop: make(chan struct{}), done: make(chan struct{})}
		if f != nil {
			prog, err := f.BPF()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if prog == nil {
				t.Fatalf("%s: no program", f)
			}
			cfg.Filter, r.prog = prog, len(prog)
		}
		r.sub = evSubscribe(t, ns, cfg)
		go r.run()
		t.Cleanup(func() {
			select {
			case <-r.stop:
			default:
				close(r.stop)
			}
			<-r.done
		})
		return r
	}
	all = open(nil)
	for _, f := range filters {
		filtered = append(filtered, open(f))
	}
	return all, filtered
}

// kfSentinel is the last entry created: once the unfiltered subscriber has
// its NEW, every socket has every event of the test queued (the kernel
// delivers each event to every listener before it sends the next).
var kfSentinel = evFlow(unix.IPPROTO_UDP, "198.51.100.1", "198.51.100.2", 9, 9, 60, 0)

// kfCheck waits for the sentinel, drains every reader, and compares each
// filtered reader's events with the unfiltered events its filter selects.
func kfCheck(t *testing.T, ct *conntrack.Conn, all *kfReader, filtered []*kfReader) {
	t.Helper()
	evWithin(t, evTimeout, "create the sentinel", func() error { return ct.Create(kfSentinel) })
	deadline := time.Now().Add(2 * evTimeout)
	isSentinel := func(ev *model.Event) bool {
		return ev.Type == model.EventNew && ev.Entry.Orig.Src == netip.MustParseAddr("198.51.100.1")
	}
	for {
		evs := all.snapshot()
		if len(evs) > 0 && isSentinel(&evs[len(evs)-1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sentinel event within %v (%d events)", 2*evTimeout, len(evs))
		}
		<-time.After(10 * time.Millisecond) // polling the reader, not synchronising it
	}
	for _, r := range append([]*kfReader{all}, filtered...) {
		close(r.stop)
		<-r.done
		if len(r.fails) > 0 {
			t.Errorf("%s: %v", r.f, r.fails)
		}
		if st := r.sub.Stats(); st.KernelDrops != 0 || st.ENOBUFS != 0 {
			t.Fatalf("%s: %d kernel drops, %d ENOBUFS: the comparison would be void", r.f, st.KernelDrops, st.ENOBUFS)
		}
	}
	unfiltered := all.snapshot()
	for _, r := range filtered {
		var want []string
		k := r.f.Kernel()
		for i := range unfiltered {
			if k.Match(&unfiltered[i]) {
				want = append(want, kfText(&unfiltered[i]))
			}
		}
		var got []string
		for _, ev := range r.snapshot() {
			got = append(got, kfText(&ev))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (%d instructions): events (-userspace +kernel):\n%s", r.f, r.prog, diff)
		}
		t.Logf("%-60s %4d instructions: %5d of %d events", r.f, r.prog, len(got), len(unfiltered))
	}
}

// kfText is an event as conntrack -E prints it, with what the filters look
// at that it does not print.
func kfText(ev *model.Event) string {
	e := &ev.Entry
	return fmt.Sprintf("%s status=%#x fields=%#x", model.AppendText(nil, ev, &model.TextOptions{Layer3: true, ID: true}), uint32(e.Status), uint64(e.Fields))
}

func kfFilter(t *testing.T, s filter.Spec) *filter.Filter {
	t.Helper()
	f, err := filter.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestKernelFilterFlags: for each filter flag, a subscriber filtered in the
// kernel receives exactly the matching events of a known set of creates,
// updates and deletes, and the flag does select some of them and not all.
func TestKernelFilterFlags(t *testing.T) {
	ns := nstest.New(t)
	specs := []filter.Spec{
		{Family: "ipv6"},
		{Proto: "udp"},
		{Src: "10.7.0.0/24"},
		{Src: "2001:db8:7::/48"},
		{Dst: "10.7.1.2,2001:db8:7::2"},
		{Port: "53"},
		{SPort: "1000-1999"},
		{DPort: "80,443"},
		{State: "ESTABLISHED"},
		{Status: "assured"},
		{Status: "!assured"},
		{Status: "unreplied"},
		{Zone: "3"},
		{Zone: "0"},
		{Mark: "0x10/0xf0"},
		{Mark: "0"},
		{Proto: "tcp", DPort: "443", Status: "assured", Family: "ipv4"},
	}
	var filters []*filter.Filter
	for _, s := range specs {
		filters = append(filters, kfFilter(t, s))
	}
	all, filtered := kfSubscribe(t, ns, filters)
	ct := ns.Conntrack()

	tcp := func(src, dst string, sport, dport uint16, state uint8) conntrack.Flow {
		f := evFlow(unix.IPPROTO_TCP, src, dst, sport, dport, 120, 0)
		f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: state}
		return f
	}
	flows := []conntrack.Flow{
		tcp("10.7.0.1", "10.7.1.2", 1000, 443, 3), // ESTABLISHED
		tcp("10.7.0.2", "10.7.2.2", 2000, 80, 1),  // SYN_SENT
		tcp("2001:db8:7::1", "2001:db8:7::2", 1500, 443, 3),
		evFlow(unix.IPPROTO_UDP, "10.7.0.3", "10.8.0.53", 3000, 53, 60, 0x15),
		evFlow(unix.IPPROTO_UDP, "2001:db8:8::1", "2001:db8:7::2", 53, 4000, 60, 0x20),
		evFlow(unix.IPPROTO_UDP, "10.9.0.1", "10.7.1.2", 1999, 8080, 60, 0),
	}
	flows[1].Zone = 3
	flows[3].TupleOrig.Zone = 3 // the original direction only
	flows[4].TupleReply.Zone = 3
	flows[2].Status = conntrack.StatusSeenReply | conntrack.StatusAssured | conntrack.StatusConfirmed
	flows[0].Status = conntrack.StatusSeenReply | conntrack.StatusConfirmed
	for i, f := range flows {
		evWithin(t, evTimeout, "create "+strconv.Itoa(i), func() error { return ct.Create(f) })
	}
	// Updates: assured, a new mark, a new state.
	up := flows[0]
	up.Status = conntrack.StatusSeenReply | conntrack.StatusAssured | conntrack.StatusConfirmed
	evWithin(t, evTimeout, "update status", func() error { return ct.Update(up) })
	up = flows[5]
	up.Mark = 0x11
	evWithin(t, evTimeout, "update mark", func() error { return ct.Update(up) })
	up = flows[1]
	up.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: 3}
	evWithin(t, evTimeout, "update state", func() error { return ct.Update(up) })
	for _, f := range flows {
		evDelete(t, ct, f)
	}
	kfCheck(t, ct, all, filtered)
	// Each flag discriminates: some events pass it, not all.
	unfiltered := all.snapshot()
	for _, r := range filtered {
		n := len(r.snapshot())
		if n == 0 || n >= len(unfiltered)-1 { // the sentinel aside
			t.Errorf("%s: %d of %d events: the test set does not exercise it", r.f, n, len(unfiltered))
		}
	}
}

// kfPools are small, so that random filters and random entries meet.
var (
	kfPool4 = []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.1.0.1", "192.168.1.1", "192.168.1.200"}
	kfPool6 = []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:1::1", "fd00::1"}
	kfPorts = []uint16{22, 53, 80, 443, 694, 1000, 1500, 2000, 8080}
	kfZones = []uint16{1, 2, 3}
	kfMarks = []uint32{0, 1, 2, 0x10, 0x11, 0xff, 0x100}
)

// kfRandomFlow returns a random entry to create; i makes its tuple unique.
func kfRandomFlow(r *rand.Rand, i int) conntrack.Flow {
	pool := kfPool4
	icmp := uint8(unix.IPPROTO_ICMP)
	if r.IntN(2) == 0 {
		pool, icmp = kfPool6, unix.IPPROTO_ICMPV6
	}
	addr := func() netip.Addr { return netip.MustParseAddr(pool[r.IntN(len(pool))]) }
	src, dst := addr(), addr()
	port := func() uint16 {
		if r.IntN(2) == 0 {
			return kfPorts[r.IntN(len(kfPorts))]
		}
		return uint16(10000 + r.IntN(50000))
	}
	proto := []uint8{unix.IPPROTO_TCP, unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_UDP, icmp, unix.IPPROTO_SCTP}[r.IntN(6)]
	// The source port (the ICMP id) is unique, so that no create collides.
	f := conntrack.NewFlow(proto, 0, src, dst, uint16(20000+i), port(), 120, kfMarks[r.IntN(len(kfMarks))])
	if r.IntN(3) == 0 {
		f.TupleOrig.Proto.SourcePort = port()
		f.TupleReply.Proto.DestinationPort = f.TupleOrig.Proto.SourcePort
	}
	if proto == icmp {
		for _, t := range []*conntrack.Tuple{&f.TupleOrig, &f.TupleReply} {
			t.Proto.SourcePort, t.Proto.DestinationPort = 0, 0
			t.Proto.ICMPv4, t.Proto.ICMPv6 = icmp == unix.IPPROTO_ICMP, icmp == unix.IPPROTO_ICMPV6
			t.Proto.ICMPID = uint16(i)
		}
		f.TupleOrig.Proto.ICMPType, f.TupleReply.Proto.ICMPType = 8, 0
		if icmp == unix.IPPROTO_ICMPV6 {
			f.TupleOrig.Proto.ICMPType, f.TupleReply.Proto.ICMPType = 128, 129
		}
	}
	switch r.IntN(4) {
	case 1:
		f.Zone = kfZones[r.IntN(len(kfZones))]
	case 2:
		f.TupleOrig.Zone = kfZones[r.IntN(len(kfZones))]
	case 3:
		f.TupleReply.Zone = kfZones[r.IntN(len(kfZones))]
	}
	// CONFIRMED with any status: ctnetlink refuses to change it (EBUSY).
	f.Status = []conntrack.Status{0, conntrack.StatusSeenReply | conntrack.StatusConfirmed, conntrack.StatusSeenReply | conntrack.StatusAssured | conntrack.StatusConfirmed}[r.IntN(3)]
	switch proto {
	case unix.IPPROTO_TCP:
		f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: uint8(1 + r.IntN(9))}
	case unix.IPPROTO_SCTP:
		f.ProtoInfo.SCTP = &conntrack.ProtoInfoSCTP{State: uint8(1 + r.IntN(7))}
	}
	return f
}

// kfRandomSpec returns a random filter of the pools' values, constraining
// something.
func kfRandomSpec(r *rand.Rand) filter.Spec {
	pick := func(p int, n int, item func() string) string {
		if r.IntN(p) != 0 {
			return ""
		}
		items := make([]string, 1+r.IntN(n))
		for i := range items {
			items[i] = item()
		}
		return strings.Join(items, ",")
	}
	prefix := func() string {
		pool, max := kfPool4, 32
		if r.IntN(2) == 0 {
			pool, max = kfPool6, 128
		}
		a := pool[r.IntN(len(pool))]
		if r.IntN(3) == 0 {
			return a
		}
		return a + "/" + strconv.Itoa(r.IntN(max+1))
	}
	ports := func() string {
		a := kfPorts[r.IntN(len(kfPorts))]
		if r.IntN(2) == 0 {
			return strconv.Itoa(int(a))
		}
		return strconv.Itoa(int(a)) + "-" + strconv.Itoa(int(a)+r.IntN(30000))
	}
	for {
		s := filter.Spec{
			Family: pick(6, 1, func() string { return []string{"ipv4", "ipv6"}[r.IntN(2)] }),
			Proto:  pick(4, 2, func() string { return []string{"tcp", "udp", "icmp", "icmpv6", "sctp"}[r.IntN(5)] }),
			Src:    pick(4, 3, prefix),
			Dst:    pick(4, 3, prefix),
			Port:   pick(6, 2, ports),
			SPort:  pick(6, 2, ports),
			DPort:  pick(5, 3, ports),
			State: pick(5, 2, func() string {
				return []string{"ESTABLISHED", "SYN_SENT", "CLOSE", "TIME_WAIT", "COOKIE_WAIT", "4"}[r.IntN(6)]
			}),
			Status: pick(5, 2, func() string {
				return []string{"unreplied", "replied", "assured", "!assured", "!unreplied", "confirmed"}[r.IntN(6)]
			}),
			Zone: pick(5, 2, func() string { return strconv.Itoa(r.IntN(4)) }),
			Mark: pick(5, 2, func() string {
				m := kfMarks[r.IntN(len(kfMarks))]
				if r.IntN(2) == 0 {
					return "0x" + strconv.FormatUint(uint64(m), 16)
				}
				return "0x" + strconv.FormatUint(uint64(m&0xf0), 16) + "/0xf0"
			}),
		}
		if f, err := filter.New(s); err == nil && !f.Empty() {
			return s
		}
	}
}

// TestKernelFilterDifferential: thousands of random entries created,
// updated and deleted in a namespace; for dozens of random filters, the
// subscriber filtered in the kernel receives exactly the events of the
// unfiltered one that the userspace filter selects, in order, with no
// kernel drop.
func TestKernelFilterDifferential(t *testing.T) {
	ns := nstest.New(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 14))
	var filters []*filter.Filter
	for range 30 {
		filters = append(filters, kfFilter(t, kfRandomSpec(r)))
	}
	all, filtered := kfSubscribe(t, ns, filters)
	ct := ns.Conntrack()
	const n = 2000
	created := 0
	for i := range n {
		f := kfRandomFlow(r, i)
		var err error
		evWithin(t, evTimeout, "create", func() error {
			err = ct.Create(f)
			if errors.Is(err, unix.EEXIST) {
				return nil // a tuple the pools made twice
			}
			return err
		})
		if err != nil {
			continue
		}
		created++
		if r.IntN(2) == 0 {
			up := f
			switch r.IntN(3) {
			case 0:
				up.Mark = kfMarks[r.IntN(len(kfMarks))] + 1
			case 1:
				up.Status |= conntrack.StatusSeenReply | conntrack.StatusAssured | conntrack.StatusConfirmed | conntrack.StatusConfirmed
			default:
				if up.ProtoInfo.TCP != nil {
					up.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: uint8(1 + r.IntN(9))}
				} else {
					up.Timeout = 300
				}
			}
			evWithin(t, evTimeout, "update", func() error { return ct.Update(up) })
		}
		if r.IntN(3) > 0 {
			evDelete(t, ct, f)
		}
	}
	if created < n*9/10 {
		t.Fatalf("only %d of %d entries created", created, n)
	}
	kfCheck(t, ct, all, filtered)
	t.Logf("%d entries, %d events", created, len(all.snapshot()))
}

// TestWatchKernelFilter: with --kernel-filter (the default), events outside
// the filter never reach ctwatch (the stop record's received counts only
// the matching ones) and the dump's entries outside it are neither written
// nor counted as filtered; with --kernel-filter=false everything is
// received and the filter selects what is written. The start record says
// where the filter runs.
func TestWatchKernelFilter(t *testing.T) {
	for _, tt := range []struct {
		kernel                   bool
		news, destroys, filtered float64
		where                    string
	}{
		{true, 1, 2, 0, "--proto=udp --dport=694"},
		{false, 6, 8, 12, "any"},
	} {
		t.Run("kernel-filter="+strconv.FormatBool(tt.kernel), func(t *testing.T) {
			ns := nstest.New(t)
			ct := ns.Conntrack()
			// Under nf_conntrack_events=2 an entry made while no listener
			// exists (host-wide) never reports its end: hold one while the
			// entries that predate ctwatch are made.
			holder := evSubscribe(t, ns, events.Config{})
			preTCP := evFlow(unix.IPPROTO_TCP, "10.5.0.1", "10.5.0.2", 4000, 80, 120, 0)
			preUDP := evFlow(unix.IPPROTO_UDP, "10.5.0.1", "10.5.0.2", 5000, 694, 120, 0)
			for _, f := range []conntrack.Flow{preTCP, preUDP} {
				evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
			}
			if err := holder.Close(); err != nil {
				t.Fatal(err)
			}
			args := []string{"watch", "--proto", "udp", "--dport", "694", "--snapshot", "--kernel-filter=" + strconv.FormatBool(tt.kernel)}
			w := wtStartCmd(t, ns.Command(append([]string{nstest.Binary(t)}, args...)...), args)
			start, _ := w.waitRecord("the start record", func(r map[string]any) bool { return r["event"] == "start" })
			if start["filter_kernel"] != tt.where {
				t.Errorf("start record: filter_kernel %v, want %q", start["filter_kernel"], tt.where)
			}
			_, before := w.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
			var snap []string
			for _, r := range before {
				if ev, ok := wtEntry(t, r); ok {
					snap = append(snap, evText(&ev))
				}
			}
			if len(snap) != 1 || !strings.Contains(snap[0], "dport=694") {
				t.Errorf("snapshot records %q, want the UDP entry only", snap)
			}
			var live []conntrack.Flow
			for i := range 5 {
				live = append(live, evFlow(unix.IPPROTO_TCP, "10.5.1.1", "10.5.1.2", uint16(4100+i), 80, 120, 0))
			}
			live = append(live, evFlow(unix.IPPROTO_UDP, "10.5.1.1", "10.5.1.2", 5100, 694, 120, 0))
			for _, f := range live {
				evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
			}
			for _, f := range append([]conntrack.Flow{preTCP, preUDP}, live...) {
				evDelete(t, ct, f)
			}
			w.waitEvent("the last DESTROY", func(ev *model.Event) bool {
				return ev.Type == model.EventDestroy && ev.Entry.Orig.SrcPort == 5100
			})
			stop := kfStopRecord(t, w)
			recv, _ := stop["received"].(map[string]any)
			got := []any{recv["new"], recv["destroy"], stop["filtered"]}
			if diff := cmp.Diff([]any{tt.news, tt.destroys, tt.filtered}, got); diff != "" {
				t.Errorf("stop record's received new, destroy and filtered (-want +got):\n%s\n%v", diff, stop)
			}
		})
	}
}

// TestWatchKernelFilterChanging: by default --mark (like --state and
// --status) stays in userspace, so a flow whose mark changes keeps
// reaching the tracker, its DESTROY too, and userspace filters what is
// written; with --kernel-filter-changing the kernel cuts the flow off at
// its first event that no longer matches.
func TestWatchKernelFilterChanging(t *testing.T) {
	for _, tt := range []struct {
		changing                          bool
		news, updates, destroys, filtered float64
		kernel, user                      string
	}{
		{false, 2, 1, 2, 2, "--proto=udp --dport=694", "--mark=0x1"},
		{true, 2, 0, 1, 0, "--proto=udp --dport=694 --mark=0x1", "any"},
	} {
		t.Run("kernel-filter-changing="+strconv.FormatBool(tt.changing), func(t *testing.T) {
			ns := nstest.New(t)
			ct := ns.Conntrack()
			args := []string{"watch", "--proto", "udp", "--dport", "694", "--mark", "1", "--kernel-filter-changing=" + strconv.FormatBool(tt.changing)}
			w := wtStartCmd(t, ns.Command(append([]string{nstest.Binary(t)}, args...)...), args)
			start, _ := w.waitRecord("the start record", func(r map[string]any) bool { return r["event"] == "start" })
			if got := []any{start["filter_kernel"], start["filter_user"]}; !cmp.Equal([]any{tt.kernel, tt.user}, got) {
				t.Errorf("start record: filter_kernel, filter_user %v, want %q, %q", got, tt.kernel, tt.user)
			}
			marked := evFlow(unix.IPPROTO_UDP, "10.6.0.1", "10.6.0.2", 5000, 694, 120, 1)
			other := evFlow(unix.IPPROTO_UDP, "10.6.0.1", "10.6.0.2", 5001, 695, 120, 1)
			for _, f := range []conntrack.Flow{marked, other} {
				evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
			}
			remarked := marked
			remarked.Mark = 2
			evWithin(t, evTimeout, "update", func() error { return ct.Update(remarked) })
			evDelete(t, ct, marked)
			evDelete(t, ct, other)
			// The sentinel's DESTROY is written in both modes, after every
			// event above.
			sentinel := evFlow(unix.IPPROTO_UDP, "10.6.0.1", "10.6.0.2", 5002, 694, 120, 1)
			evWithin(t, evTimeout, "create", func() error { return ct.Create(sentinel) })
			evDelete(t, ct, sentinel)
			w.waitEvent("the sentinel's DESTROY", func(ev *model.Event) bool {
				return ev.Type == model.EventDestroy && ev.Entry.Orig.SrcPort == 5002
			})
			stop := kfStopRecord(t, w)
			recv, _ := stop["received"].(map[string]any)
			got := []any{recv["new"], recv["update"], recv["destroy"], stop["filtered"]}
			if diff := cmp.Diff([]any{tt.news, tt.updates, tt.destroys, tt.filtered}, got); diff != "" {
				t.Errorf("stop record's received new, update, destroy and filtered (-want +got):\n%s\n%v", diff, stop)
			}
		})
	}
}

// kfStopRecord stops the watch and returns its stop record.
func kfStopRecord(t *testing.T, w *wtProc) map[string]any {
	t.Helper()
	rest, code, _ := w.stop()
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for _, l := range rest {
		var r map[string]any
		if json.Unmarshal([]byte(l), &r) == nil && r["event"] == "stop" {
			return r
		}
	}
	t.Fatalf("no stop record in %q", rest)
	return nil
}
