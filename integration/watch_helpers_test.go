//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// wtTimeout bounds every wait for a record.
const wtTimeout = 10 * time.Second

// wtProc is a running ctwatch binary whose standard output is read line by
// line.
type wtProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // stdout lines; closed at EOF
	stderr *syncBuffer
	seen   []string // every stdout line taken, for failure messages
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

// syncBuffer is a bytes.Buffer safe for the exec package's copier and the
// test to use together.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wtStart runs ctwatch with args and waits until it is ready: subscribed and
// done with its startup dump (its "dump" record, on stdout with JSON, on
// stderr with --format text or --output).
func wtStart(t *testing.T, args ...string) *wtProc {
	t.Helper()
	p := wtStartNoWait(t, args...)
	output, text := "", false
	for i, a := range args {
		if a == "text" {
			text = true
		}
		if a == "--output" && i+1 < len(args) {
			output = args[i+1]
		}
	}
	switch {
	case output != "":
		wtPoll(t, "the dump record in "+output, func() bool {
			for _, l := range readLines(t, output) {
				if strings.Contains(l, `"event":"dump"`) {
					return true
				}
			}
			return false
		})
	case text:
		wtPoll(t, "the dump record on stderr", func() bool { return strings.Contains(p.stderr.String(), "event=dump") })
	default:
		p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	}
	return p
}

// wtStartIn runs ctwatch inside ns (ip netns exec execs it, so signals
// reach it), for a metrics server on the namespace's own loopback, and waits
// until it is ready.
func wtStartIn(t *testing.T, ns *nstest.NS, args ...string) *wtProc {
	t.Helper()
	p := wtStartCmd(t, ns.Command(append([]string{nstest.Binary(t)}, args...)...), args)
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	return p
}

// wtStartNoWait runs ctwatch without waiting for it to be ready.
func wtStartNoWait(t *testing.T, args ...string) *wtProc {
	t.Helper()
	return wtStartCmd(t, exec.Command(nstest.Binary(t), args...), args)
}

// wtStartCmd starts cmd, a ctwatch with args, reading its stdout by line.
func wtStartCmd(t *testing.T, cmd *exec.Cmd, args []string) *wtProc {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &wtProc{t: t, cmd: cmd, lines: make(chan string, 1<<16), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("ctwatch %s stderr:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

// next returns the next stdout line, or false at the deadline or EOF.
func (p *wtProc) next(deadline time.Time) (string, bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case l, ok := <-p.lines:
		if ok {
			p.seen = append(p.seen, l)
		}
		return l, ok
	case <-timer.C:
		return "", false
	}
}

// waitRecord reads records until one matches, and returns it and the
// records read before it.
func (p *wtProc) waitRecord(what string, match func(map[string]any) bool) (map[string]any, []map[string]any) {
	p.t.Helper()
	deadline := time.Now().Add(wtTimeout)
	var before []map[string]any
	for {
		l, ok := p.next(deadline)
		if !ok {
			p.t.Fatalf("no %s within %v; last lines:\n%s\nstderr:\n%s", what, wtTimeout, tail(p.seen, 15), p.stderr.String())
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			p.t.Fatalf("stdout line is not JSON: %v: %q", err, l)
		}
		if match(r) {
			return r, before
		}
		before = append(before, r)
	}
}

// waitEvent reads records until an entry record matches, and returns it
// (and the entry records read before it) as model events.
func (p *wtProc) waitEvent(what string, match func(*model.Event) bool) (model.Event, []model.Event) {
	p.t.Helper()
	var before []model.Event
	var got model.Event
	p.waitRecord(what, func(r map[string]any) bool {
		ev, ok := wtEntry(p.t, r)
		if !ok {
			return false
		}
		if match(&ev) {
			got = ev
			return true
		}
		before = append(before, ev)
		return false
	})
	return got, before
}

// wtEntry decodes an entry record; ok is false for other records.
func wtEntry(t testing.TB, r map[string]any) (model.Event, bool) {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := record.ParseJSON(data)
	if errors.Is(err, record.ErrNotEntryRecord) {
		return ev, false
	}
	if err != nil {
		t.Fatalf("entry record does not parse: %v: %s", err, data)
	}
	return ev, true
}

// signal sends sig to the process.
func (p *wtProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal ctwatch: %v", err)
	}
}

// stop sends SIGINT and waits for the process to exit; it returns the rest
// of stdout, the exit status and how long the stop took.
func (p *wtProc) stop() (rest []string, code int, took time.Duration) {
	p.t.Helper()
	start := time.Now()
	p.signal(syscall.SIGINT)
	return p.wait(start)
}

// wait waits for the process to exit (at most wtTimeout).
func (p *wtProc) wait(start time.Time) (rest []string, code int, took time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(wtTimeout)
	for {
		l, ok := p.next(deadline)
		if !ok {
			break
		}
		rest = append(rest, l)
	}
	select {
	case <-p.done:
	case <-time.After(time.Until(deadline)):
		p.t.Fatalf("ctwatch did not exit within %v", wtTimeout)
	}
	took = time.Since(start)
	code = 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if p.err != nil {
		p.t.Fatalf("wait: %v", p.err)
	}
	return rest, code, took
}

// linesUntil returns w's next lines, read until done holds of them;
// it fails t, naming end (the line awaited), when ctwatch prints no next
// line within wtTimeout.
func (p *wtProc) linesUntil(t testing.TB, end string, done func([]string) bool) []string {
	t.Helper()
	var got []string
	for !done(got) {
		l, ok := p.next(timeNow().Add(wtTimeout))
		if !ok {
			t.Fatalf("no end line (%s) from ctwatch; got:\n%s", end, strings.Join(got, "\n"))
		}
		got = append(got, l)
	}
	return got
}

// ctLinesUntil polls the lines conntrack -E writes to path until done
// holds of them, and returns them.
func ctLinesUntil(t testing.TB, path string, done func([]string) bool) []string {
	t.Helper()
	var lines []string
	wtPoll(t, "conntrack -E to print the end line", func() bool {
		lines = readLines(t, path)
		return done(lines)
	})
	return lines
}

// lastContains is the done of linesUntil and ctLinesUntil that waits for
// a line that contains end.
func lastContains(end string) func([]string) bool {
	return func(lines []string) bool { return len(lines) > 0 && strings.Contains(lines[len(lines)-1], end) }
}

// wtPoll waits until cond holds, polling, or fails after wtTimeout.
func wtPoll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wtTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// netlinkSocket is a row of /proc/net/netlink.
type netlinkSocket struct {
	Protocol int
	PortID   uint32
	Groups   uint64
	Rmem     uint64
	Drops    uint64
	Inode    uint64
}

// wtNetlinkSockets reads the namespace's /proc/net/netlink: the kernel's own
// view of every netlink socket, drop counters included.
func wtNetlinkSockets(t testing.TB, ns *nstest.NS) []netlinkSocket {
	t.Helper()
	out := ns.Run("cat", "/proc/net/netlink")
	var socks []netlinkSocket
	for i, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 10 {
			continue
		}
		var s netlinkSocket
		var err error
		num := func(str string, base int) uint64 {
			v, perr := strconv.ParseUint(str, base, 64)
			if perr != nil {
				err = perr
			}
			return v
		}
		s.Protocol = int(num(f[1], 10))
		s.PortID = uint32(num(f[2], 10))
		s.Groups = num(f[3], 16)
		s.Rmem = num(f[4], 10)
		s.Drops = num(f[8], 10)
		s.Inode = num(f[9], 10)
		if err != nil {
			t.Fatalf("/proc/net/netlink line %q: %v", line, err)
		}
		socks = append(socks, s)
	}
	return socks
}

// wtEventSockets returns the namespace's NETLINK_NETFILTER sockets that
// joined conntrack event groups: the listeners.
func wtEventSockets(t testing.TB, ns *nstest.NS) []netlinkSocket {
	var l []netlinkSocket
	for _, s := range wtNetlinkSockets(t, ns) {
		if s.Protocol == 12 && s.Groups != 0 {
			l = append(l, s)
		}
	}
	return l
}

// readLines returns the lines of a file ("" when it does not exist yet).
func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimRight(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// timeNow is time.Now, named for the deadlines of next.
var timeNow = time.Now

// wtTCPExchange opens a TCP connection on the namespace's loopback, sends
// five bytes, reads them on the other side and closes both ends: a whole
// connection's life. It returns the connection's ports.
func wtTCPExchange(t *testing.T, ns *nstest.NS) (sport, dport uint16) {
	t.Helper()
	l := evListenTCP(t, ns, "127.0.0.1:0")
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c := evDialTCP(t, ns, l.Addr().String())
	sport, dport = evPort(c.LocalAddr()), evPort(l.Addr())
	srv := <-accepted
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(srv, buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.Close()
	return sport, dport
}

// wtPiped is a ctwatch whose standard output is a pipe the test reads (or
// does not read) itself.
type wtPiped struct {
	cmd    *exec.Cmd
	out    *os.File // the pipe's read end
	stderr *syncBuffer
	done   chan error // Wait's result
}

// wtStartPiped runs ctwatch with args, its stdout on a pipe, and waits until
// it has subscribed in ns.
func wtStartPiped(t *testing.T, ns *nstest.NS, args ...string) *wtPiped {
	t.Helper()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &wtPiped{cmd: exec.Command(nstest.Binary(t), args...), out: r, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout = wr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		r.Close()
	})
	wtPoll(t, "ctwatch to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 1 })
	return p
}
