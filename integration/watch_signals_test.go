//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// summaryLine is the shape of the one-line summary on stderr.
var summaryLine = regexp.MustCompile(`(?m)^ctwatch: stopped: (\d+) events \(new (\d+), update (\d+), destroy (\d+)\).*; lost (\d+) \(kernel \d+, output \d+\); \d+ decode errors`)

// TestWatchSIGINT: SIGINT stops the watch within a second, with a stop
// record in the stream, a one-line summary on stderr and exit status 0.
func TestWatchSIGINT(t *testing.T) {
	ns := wtTrackedNS(t)
	w := wtStart(t, "watch", "--netns", ns.Name)
	ct := ns.Conntrack()
	for i := range 3 {
		f := evFlow(17, "10.3.0.1", "10.4.0.1", uint16(100+i), 53, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	w.waitEvent("the third NEW", evTuple(model.ProtoUDP, "10.3.0.1", "10.4.0.1", 102, 53))
	rest, code, took := w.stop()
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if took > time.Second {
		t.Errorf("stop took %v, want at most a second", took)
	}
	if len(rest) == 0 || !strings.Contains(rest[len(rest)-1], `"event":"stop"`) {
		t.Errorf("last record is not the stop record: %q", rest)
	}
	m := summaryLine.FindStringSubmatch(w.stderr.String())
	if m == nil {
		t.Fatalf("no summary line on stderr:\n%s", w.stderr.String())
	}
	if m[2] != "3" || m[5] != "0" {
		t.Errorf("summary says new %s, lost %s; want 3 and 0: %s", m[2], m[5], m[0])
	}
}

// TestWatchSecondSignal: while a stop waits for blocked output, a second
// signal ends the process at once.
func TestWatchSecondSignal(t *testing.T) {
	ns := wtTrackedNS(t)
	// Nobody reads this pipe: once its buffer is full, every write of
	// ctwatch's output blocks.
	p := wtStartPiped(t, ns, "watch", "--netns", ns.Name)
	cmd, done := p.cmd, p.done

	// Enough records to fill the pipe and the sink's buffers' write.
	ct := ns.Conntrack()
	for i := range 2000 {
		f := evFlow(17, "10.3.0.1", "10.4.0.1", uint16(1000+i), 53, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	cmd.Process.Signal(syscall.SIGINT)
	// Signals of one kind merge until the Go runtime hands them over:
	// send the second once ctwatch says it took the first.
	wtPoll(t, "ctwatch to take the first SIGINT", func() bool { return strings.Contains(p.stderr.String(), "a second signal quits at once") })
	// A signal within 200 ms of the first is taken for a copy of it (see
	// TestWatchSignalCopy): this is the user asking again.
	time.Sleep(signalGrace)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if took := time.Since(start); took > 300*time.Millisecond {
			t.Errorf("exit %v after the second signal, want at once", took)
		}
		if !errorsAs(err, &ee) || ee.ExitCode() != 130 {
			// A process that finished its stop before the second signal
			// exits 0; with output blocked it cannot have.
			t.Errorf("exit %v, want status 130 from the second signal", err)
		}
	case <-time.After(wtTimeout):
		t.Fatal("ctwatch did not exit after two signals")
	}
}

// signalGrace is cmd/ctwatch's: a repeat of the stop signal sooner than
// that after the first is a copy, not a second request.
const signalGrace = 200 * time.Millisecond

// TestWatchSignalCopy: GNU timeout signals its child and then the child's
// process group, so ctwatch gets the same SIGINT twice within microseconds.
// That is one request to stop: a clean stop, status 0 and the summary, not
// the second signal's status 130.
func TestWatchSignalCopy(t *testing.T) {
	ns := wtTrackedNS(t)
	// Output nobody reads keeps the stop busy for its bounded flush, so
	// the copy arrives while the process still runs.
	p := wtStartPiped(t, ns, "watch", "--netns", ns.Name)
	ct := ns.Conntrack()
	for i := range 2000 {
		f := evFlow(17, "10.3.0.1", "10.4.0.1", uint16(1000+i), 53, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	wtPoll(t, "ctwatch to take the first SIGINT", func() bool { return strings.Contains(p.stderr.String(), "a second signal quits at once") })
	seen := time.Now() // a little after ctwatch took the first
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("send the copy: %v (ctwatch already gone: the test cannot tell)", err)
	}
	sentAfter := time.Since(seen)
	select {
	case err := <-p.done:
		if sentAfter >= signalGrace {
			t.Fatalf("the copy went %v after the first signal was taken, beyond the grace: the test cannot tell", sentAfter)
		}
		if err != nil {
			t.Errorf("exit %v, want a clean stop (status 0) despite the copy", err)
		}
		if !summaryLine.MatchString(p.stderr.String()) {
			t.Errorf("no summary line on stderr:\n%s", p.stderr.String())
		}
	case <-time.After(wtTimeout):
		t.Fatal("ctwatch did not exit")
	}
}

// TestWatchSIGHUP simulates logrotate: the output file is renamed and
// SIGHUP makes ctwatch write to a new one, losing nothing.
func TestWatchSIGHUP(t *testing.T) {
	ns := wtTrackedNS(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "ctwatch.jsonl")
	w := wtStart(t, "watch", "--netns", ns.Name, "--output", out)
	ct := ns.Conntrack()
	has := func(path, sport string) bool {
		for _, l := range readLines(t, path) {
			if strings.Contains(l, `"event":"new"`) && strings.Contains(l, `"sport":`+sport+",") {
				return true
			}
		}
		return false
	}

	a := evFlow(17, "10.3.0.1", "10.4.0.1", 1111, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(a) })
	wtPoll(t, "the first record in the file", func() bool { return has(out, "1111") })
	if err := os.Rename(out, out+".1"); err != nil {
		t.Fatal(err)
	}
	w.signal(syscall.SIGHUP)
	// The signal is handled on a goroutine of its own: a record is the
	// new file's only once the file is there.
	wtPoll(t, "the new file after SIGHUP", func() bool {
		_, err := os.Stat(out)
		return err == nil
	})
	b := evFlow(17, "10.3.0.1", "10.4.0.1", 2222, 53, 100, 0)
	evWithin(t, evTimeout, "create", func() error { return ct.Create(b) })
	wtPoll(t, "the second record in a new file", func() bool { return has(out, "2222") })
	if has(out+".1", "2222") || !has(out+".1", "1111") || has(out, "1111") {
		t.Error("records in the wrong file: the rotated file must keep the first and only the first")
	}
	if _, code, _ := w.stop(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	for _, l := range append(readLines(t, out+".1"), readLines(t, out)...) {
		if !json.Valid([]byte(l)) {
			t.Errorf("not a whole JSON record: %q", l)
		}
	}
}

// TestWatchOutputGone: when the reader of ctwatch's output goes away
// (ctwatch | head), ctwatch stops cleanly, with its summary.
func TestWatchOutputGone(t *testing.T) {
	ns := wtTrackedNS(t)
	p := wtStartPiped(t, ns, "watch", "--netns", ns.Name)
	r, stderr, done := p.out, p.stderr, p.done
	// Read the start record, as head would, then go away.
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	r.Close()
	ct := ns.Conntrack()
	for i := 0; ; i++ {
		f := evFlow(17, "10.3.0.1", "10.4.0.1", uint16(3000+i), 53, 100, 0)
		evWithin(t, evTimeout, "create", func() error { return ct.Create(f) })
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exit: %v; want status 0, like head's reader of any Unix tool", err)
			}
			if !summaryLine.MatchString(stderr.String()) {
				t.Errorf("no summary on stderr:\n%s", stderr.String())
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i > 200 {
			t.Fatal("ctwatch did not notice its output was gone")
		}
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

// TestWatchSlowOutput: when output stalls, ctwatch keeps reading the
// kernel, drops whole records, counts every one, and says so in a gap
// record and in its summary.
func TestWatchSlowOutput(t *testing.T) {
	ns := wtTrackedNS(t)
	p := wtStartPiped(t, ns, "watch", "--netns", ns.Name, "--stats-interval", "0")
	cmd, r, stderr := p.cmd, p.out, p.stderr

	// More records than the sink's buffers (4 MiB) and the pipe hold,
	// while nobody reads the pipe.
	const n = 14000
	flows := make([]bulkFlow, n)
	for i := range flows {
		flows[i] = bulkFlow{src: netip.MustParseAddr("10.80.0.1"), dst: netip.AddrFrom4([4]byte{10, 81, byte(i >> 8), byte(i)}), sport: 1000, dport: 53}
	}
	if created, _ := createBulk(t, ns, flows); created != n {
		t.Fatalf("created %d of %d", created, n)
	}
	// Every event reached ctwatch: its socket is empty and nothing was
	// lost in the kernel.
	wtPoll(t, "ctwatch to read every event", func() bool {
		s := wtEventSockets(t, ns)
		return len(s) == 1 && s[0].Rmem == 0
	})
	if d := wtEventSockets(t, ns)[0].Drops; d != 0 {
		t.Fatalf("the kernel dropped %d events: this test is about output, not input", d)
	}

	// Now read everything, stop, and account for every record.
	lines := make(chan string, 1<<16)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var news int
	var gapOutput float64
	stopped := false
	for l := range lines {
		if strings.Contains(l, `"event":"new"`) {
			news++
		}
		if strings.Contains(l, `"event":"gap"`) && strings.Contains(l, `"stage":"output"`) {
			var rec map[string]any
			json.Unmarshal([]byte(l), &rec)
			gapOutput += rec["lost"].(float64)
			if !stopped {
				cmd.Process.Signal(syscall.SIGINT)
				stopped = true
			}
		}
	}
	if !stopped {
		t.Fatalf("no output gap record; %d of %d NEW records came through", news, n)
	}
	<-p.done
	m := regexp.MustCompile(`; lost (\d+) \(kernel 0, output (\d+)\)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("summary:\n%s", stderr.String())
	}
	lostOutput, _ := strconv.Atoi(m[2])
	if news == n || lostOutput == 0 {
		t.Errorf("%d of %d NEW records written, %d lost: no output loss", news, n, lostOutput)
	}
	// Every record is either written or counted lost; among them are the
	// NEW records (the rest are start, dump and gap records).
	if news+lostOutput < n {
		t.Errorf("%d NEW records written + %d records lost < %d events", news, lostOutput, n)
	}
	if gapOutput == 0 {
		t.Error("gap records report no output loss")
	}
}
