//go:build integration

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// genResult is what "ctbench gen" reports on its standard output.
type genResult struct {
	Load string `json:"load"`
	// Ops is the operations done: connects, datagrams or entries.
	Ops int `json:"ops"`
	// Generated is the events the operations produce, by type.
	Generated eventCounts `json:"generated"`
	// Matching is the part of Generated that the filter part's filter
	// selects (-match-every): the events of the operations sent to
	// filterPort.
	Matching eventCounts `json:"matching,omitzero"`
	// Seconds is the time from the start to the end of the last operation.
	Seconds float64 `json:"seconds"`
	// Errors counts operations that did not go as expected (a connect not
	// refused, a request the kernel refused); FirstError says how the
	// first went.
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

// loadEvents is the events one operation of a load produces.
var loadEvents = map[string]eventCounts{
	"tcp":       {New: 1, Destroy: 1},
	"udp":       {New: 1, Destroy: 1},
	"ctnetlink": {New: 1, Update: 1, Destroy: 1},
}

// opsFor is the number of operations that produce at least events events.
func opsFor(load string, events int) int {
	per := loadEvents[load].Events()
	return (events + per - 1) / per
}

// generator performs a load's operations.
type generator interface {
	// do performs operations first to first+n-1 and returns the errors of
	// those that failed.
	do(first, n int) []error
	close()
}

// maxGenErrors stops a generator that fails over and over: its run is
// reported as failed anyway.
const maxGenErrors = 1000

// runGen is "ctbench gen": it generates a load in the namespace it runs in
// and prints a genResult as JSON.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctbench gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := fs.String("load", "tcp", "tcp, udp or ctnetlink")
	events := fs.Int("events", defaultEvents, "events to produce (rounded up to whole operations)")
	rate := fs.Float64("rate", 0, "events per second; 0 is full speed")
	nsList := fs.String("netns", "", "ctnetlink load only: spread the operations evenly over these named namespaces (comma-separated), each tick's to the next in turn")
	every := fs.Int("match-every", 0, "tcp and ctnetlink loads: send every Nth operation to destination port 7 instead, the filter part's match (operations rounded up to a multiple of N); 0: none")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	per, ok := loadEvents[*load]
	if !ok || *events < 1 || *rate < 0 {
		return fmt.Errorf("%w: gen needs a known -load, -events ≥ 1 and -rate ≥ 0", errUsage)
	}
	names := strings.FieldsFunc(*nsList, func(r rune) bool { return r == ',' })
	if len(names) > 0 && *load != "ctnetlink" {
		return fmt.Errorf("%w: gen -netns needs -load ctnetlink", errUsage)
	}
	if *every < 0 || (*every > 0 && (len(names) > 0 || !slices.Contains(filterLoads, *load))) {
		return fmt.Errorf("%w: gen -match-every needs a positive N and -load %s, without -netns", errUsage, strings.Join(filterLoads, " or "))
	}
	ops := filterOps(opsFor(*load, *events), *every)
	var g generator
	var err error
	switch {
	case len(names) > 0:
		ops = spreadOps(ops, len(names))
		g, err = newSpreadGen(names, ops)
	case *load == "tcp":
		g = &tcpGen{every: *every}
	case *load == "udp":
		g, err = newUDPGen()
	case *load == "ctnetlink":
		g, err = newCTNetlinkGen(*every)
	}
	if err != nil {
		return err
	}
	defer g.close()

	p := pacer{PerSecond: *rate / float64(per.Events()), Total: ops, Tick: time.Millisecond, MaxBatch: maxBatch}
	res := genResult{Load: *load}
	start := time.Now()
	done := 0
	for done < ops && res.Errors < maxGenErrors {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, wait := p.next(done, time.Since(start))
		if n == 0 {
			time.Sleep(wait)
			continue
		}
		for _, err := range g.do(done, n) {
			if res.Errors == 0 {
				res.FirstError = err.Error()
			}
			res.Errors++
		}
		done += n
	}
	res.Seconds = time.Since(start).Seconds()
	res.Ops = done
	res.Generated = per.times(done)
	res.Matching = per.times(matchingOps(done, *every))
	return json.NewEncoder(stdout).Encode(res)
}

// closedPort is where the TCP load connects: the discard port, on which
// nothing listens in a fresh namespace.
const closedPort = 9

// tcpGen connects to a closed port: the SYN creates an entry (NEW), the RST
// that answers it, seen before any reply, makes the kernel delete the entry
// at once (DESTROY). No UPDATE is sent for the state change: the entry is
// dying by the time its cached events would be delivered. With every set,
// every every-th connect goes to filterPort, as closed as closedPort.
type tcpGen struct{ every int }

func (g tcpGen) do(first, n int) []error {
	var errs []error
	other := &unix.SockaddrInet4{Port: closedPort, Addr: [4]byte{127, 0, 0, 1}}
	match := &unix.SockaddrInet4{Port: filterPort, Addr: [4]byte{127, 0, 0, 1}}
	for i := first; i < first+n; i++ {
		sa := other
		if matchOp(i, g.every) {
			sa = match
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("socket: %w", err))
			continue
		}
		err = unix.Connect(fd, sa)
		unix.Close(fd)
		if !errors.Is(err, unix.ECONNREFUSED) {
			errs = append(errs, fmt.Errorf("connect to 127.0.0.1:%d: want ECONNREFUSED, got %v", sa.Port, err))
		}
	}
	return errs
}

func (tcpGen) close() {}

// requester sends batches of ctnetlink requests and collects the kernel's
// answers to those that failed.
type requester struct {
	fd   int
	seq  uint32
	buf  []byte
	rbuf []byte
}

func newRequester() (*requester, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open ctnetlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind ctnetlink socket: %w", err)
	}
	// Room for an error answer to every request of a batch.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set receive buffer: %w", err)
	}
	// A batch is one sendmsg; its size must stay below the send buffer.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<20); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set send buffer: %w", err)
	}
	return &requester{fd: fd, rbuf: make([]byte, 64<<10)}, nil
}

func (r *requester) nextSeq() uint32 {
	r.seq++
	return r.seq
}

// send sends r.buf as one sendmsg and returns the errors the kernel
// answered with. The kernel handles the requests before sendmsg returns,
// so every answer is queued by then.
func (r *requester) send() []error {
	if len(r.buf) == 0 {
		return nil
	}
	if err := unix.Sendto(r.fd, r.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return []error{fmt.Errorf("send ctnetlink requests: %w", err)}
	}
	var errs []error
	for {
		n, _, err := unix.Recvfrom(r.fd, r.rbuf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return errs
		}
		if err != nil {
			return append(errs, fmt.Errorf("read ctnetlink answers: %w", err))
		}
		codes, ok := ackErrors(r.rbuf[:n])
		if !ok {
			errs = append(errs, errors.New("malformed ctnetlink answer"))
		}
		for _, c := range codes {
			errs = append(errs, fmt.Errorf("ctnetlink request refused: %w", unix.Errno(-c)))
		}
	}
}

func (r *requester) close() { unix.Close(r.fd) }

// udpGen sends datagrams to successive ports from one socket (one NEW
// each) and deletes their entries over ctnetlink in the same batch (one
// DESTROY each), so that every entry's end is the generator's, not a
// timeout's.
type udpGen struct {
	fd    int
	sport uint16
	req   *requester
}

// udpPorts is the range of destination ports the UDP load cycles through;
// an entry is deleted before its port comes round again.
const udpFirstPort, udpPorts = 1024, 65535 - 1024 + 1

func newUDPGen() (*udpGen, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open UDP socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind UDP socket: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("UDP socket's port: %w", err)
	}
	req, err := newRequester()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &udpGen{fd: fd, sport: uint16(sa.(*unix.SockaddrInet4).Port), req: req}, nil
}

func (g *udpGen) do(first, n int) []error {
	var errs []error
	g.req.buf = g.req.buf[:0]
	payload := []byte{0}
	for i := first; i < first+n; i++ {
		dport := uint16(udpFirstPort + i%udpPorts)
		if err := unix.Sendto(g.fd, payload, 0, &unix.SockaddrInet4{Port: int(dport), Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			errs = append(errs, fmt.Errorf("send datagram to port %d: %w", dport, err))
			continue
		}
		t := ctTuple{Src: [4]byte{127, 0, 0, 1}, Dst: [4]byte{127, 0, 0, 1}, Proto: unix.IPPROTO_UDP, SPort: g.sport, DPort: dport}
		g.req.buf = appendDelete(g.req.buf, g.req.nextSeq(), t)
	}
	return append(errs, g.req.send()...)
}

func (g *udpGen) close() {
	unix.Close(g.fd)
	g.req.close()
}

// ctnetlinkGen creates, updates and deletes entries in batches, as
// kube-proxy's and conntrack -D's flushes do: per batch one sendmsg with the
// creates (NEW), the updates (UPDATE) and the deletes (DESTROY). With
// every set, every every-th entry has filterPort as its destination port.
type ctnetlinkGen struct {
	req   *requester
	every int
}

func newCTNetlinkGen(every int) (*ctnetlinkGen, error) {
	req, err := newRequester()
	if err != nil {
		return nil, err
	}
	return &ctnetlinkGen{req: req, every: every}, nil
}

// tuple is entry i's tuple.
func (g *ctnetlinkGen) tuple(i int) ctTuple {
	t := entryTuple(i)
	if matchOp(i, g.every) {
		t.DPort = filterPort
	}
	return t
}

func (g *ctnetlinkGen) do(first, n int) []error {
	b := g.req.buf[:0]
	for i := first; i < first+n; i++ {
		b = appendCreate(b, g.req.nextSeq(), g.tuple(i))
	}
	for i := first; i < first+n; i++ {
		b = appendUpdate(b, g.req.nextSeq(), g.tuple(i), 1)
	}
	for i := first; i < first+n; i++ {
		b = appendDelete(b, g.req.nextSeq(), g.tuple(i))
	}
	g.req.buf = b
	return g.req.send()
}

func (g *ctnetlinkGen) close() { g.req.close() }

// spreadGen is the ctnetlink load spread over several namespaces from one
// process: one requester per namespace, its socket opened inside it (a
// socket stays in the namespace it was created in). Each tick's batch goes
// whole to the next namespace in turn, as one sendmsg, so that the events
// come in the same bursts as with one namespace and the comparison with it
// is of the namespaces, not of the batching; a namespace that has had its
// share is passed over, so every namespace gets exactly the same.
type spreadGen struct {
	reqs []*requester
	gens []ctnetlinkGen
	rot  rotation
}

// rotation deals a run's operations to namespaces in turn, at most share
// to each.
type rotation struct {
	share int
	got   []int
	next  int
}

func newRotation(namespaces, share int) rotation {
	return rotation{share: share, got: make([]int, namespaces)}
}

// take deals n operations: f is called with the namespace and count of
// each run of them, in order; all n go to one namespace unless it reaches
// its share. The caller deals at most namespaces × share in all.
func (r *rotation) take(n int, f func(ns, k int)) {
	for n > 0 {
		for r.got[r.next] >= r.share {
			r.next = (r.next + 1) % len(r.got)
		}
		k := min(n, r.share-r.got[r.next])
		f(r.next, k)
		r.got[r.next] += k
		n -= k
		r.next = (r.next + 1) % len(r.got)
	}
}

// spreadOps rounds ops up to a multiple of n: every namespace the same.
func spreadOps(ops, n int) int { return (ops + n - 1) / n * n }

func newSpreadGen(names []string, ops int) (_ *spreadGen, err error) {
	g := &spreadGen{rot: newRotation(len(names), ops/len(names))}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	for _, name := range names {
		h, err := netns.Open(name)
		if err != nil {
			return nil, err
		}
		var req *requester
		err = h.Do(func() error {
			var err error
			req, err = newRequester()
			return err
		})
		h.Close()
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", name, err)
		}
		g.reqs = append(g.reqs, req)
		g.gens = append(g.gens, ctnetlinkGen{req: req})
	}
	return g, nil
}

func (g *spreadGen) do(first, n int) []error {
	var errs []error
	g.rot.take(n, func(ns, k int) {
		errs = append(errs, g.gens[ns].do(first, k)...)
		first += k
	})
	return errs
}

func (g *spreadGen) close() {
	for _, r := range g.reqs {
		r.close()
	}
}
