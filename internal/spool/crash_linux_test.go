package spool

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The child process of TestSIGKILL: it appends records from seq
// $SPOOL_CRASH_START on, and reads and acks them, writing to stdout
// "a SEQ" once Append returned, "d SEQ" for every record Next gave and
// "k SEQ" once an Ack through SEQ returned, until it is killed.
const (
	crashDirEnv   = "SPOOL_CRASH_DIR"
	crashStartEnv = "SPOOL_CRASH_START"
	// crashOverflowEnv, when set, makes the child append only (its
	// output is down) into a small spool, writing "x FIRST LAST COUNT"
	// for every drop OnDrop reports.
	crashOverflowEnv = "SPOOL_CRASH_OVERFLOW"
)

var (
	crashCfg         = Config{MaxBytes: 64 << 20, SegmentBytes: 16 << 10}
	crashOverflowCfg = Config{MaxBytes: 128 << 10, SegmentBytes: 16 << 10}
)

// TestCrashChild is the child's body, run only by TestSIGKILL.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestSIGKILL")
	}
	start, err := strconv.ParseUint(os.Getenv(crashStartEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	say := func(kind byte, seq uint64) {
		// One write per line: lines of both goroutines do not mix
		// (a pipe write below PIPE_BUF is atomic).
		b := strconv.AppendUint([]byte{kind, ' '}, seq, 10)
		os.Stdout.Write(append(b, '\n'))
	}
	cfg := crashCfg
	overflow := os.Getenv(crashOverflowEnv) != ""
	if overflow {
		cfg = crashOverflowCfg
		cfg.OnDrop = func(d Drop) {
			os.Stdout.Write(fmt.Appendf(nil, "x %d %d %d\n", d.FirstSeq, d.LastSeq, d.Records))
		}
	}
	s, err := Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if overflow {
			return
		}
		for n := uint64(0); ; n++ {
			r, err := s.Next(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			say('d', r.Seq)
			if n%37 == 36 {
				if err := s.Ack(r.Pos); err != nil {
					t.Error(err)
					return
				}
				say('k', r.Seq)
			}
		}
	}()
	for seq := start; ; seq++ {
		if err := s.Append(rec(seq, 100+int(seq%300))); err != nil {
			t.Fatal(err)
		}
		say('a', seq)
	}
}

// TestSIGKILL: a process appending and delivering records is killed
// with SIGKILL at random points, ten times, each time restarted on the
// same spool. Every record an Append returned for is delivered, in order;
// none is delivered again once an Ack covering it returned; a record is
// delivered at most once per process; and at the end, once everything
// is acked, nothing is left.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	next := uint64(1)
	var ackedThrough, appendedThrough uint64
	delivered := map[uint64]int{} // by the children
	for round := range 10 {
		killAfter := 200 + rand.IntN(4000)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStartEnv+"="+strconv.FormatUint(next, 10))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		appends, killed := 0, false
		seenHere := map[uint64]bool{}
		for sc.Scan() {
			line := sc.Text()
			if len(line) < 3 {
				continue // the test binary's own output
			}
			seq, err := strconv.ParseUint(line[2:], 10, 64)
			if err != nil {
				continue
			}
			switch line[0] {
			case 'a':
				appendedThrough = max(appendedThrough, seq)
				if appends++; appends == killAfter && !killed {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				}
			case 'd':
				if seq <= ackedThrough {
					t.Fatalf("round %d: seq %d delivered after an ack through %d had returned", round, seq, ackedThrough)
				}
				if seenHere[seq] {
					t.Fatalf("round %d: seq %d delivered twice by one process", round, seq)
				}
				seenHere[seq] = true
				delivered[seq]++
			case 'k':
				ackedThrough = max(ackedThrough, seq)
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not by SIGKILL", round, err)
		}

		// The spool, reopened, holds every record from after the last
		// persisted ack (at or after the last reported one) through at
		// least the last reported append, in order; what lies between
		// the reported and the persisted ack was delivered.
		s, err := Open(dir, crashCfg)
		if err != nil {
			t.Fatal(err)
		}
		st := checkInvariant(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var prev uint64
		for i := range st.Queued {
			r, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("round %d: Next %d of %d: %v", round, i, st.Queued, err)
			}
			if i == 0 {
				if r.Seq <= ackedThrough {
					t.Fatalf("round %d: first record after restart is seq %d, acked through %d", round, r.Seq, ackedThrough)
				}
				for q := ackedThrough + 1; q < r.Seq; q++ {
					if delivered[q] == 0 {
						t.Fatalf("round %d: seq %d neither delivered nor in the spool (first there: %d)", round, q, r.Seq)
					}
				}
			} else if r.Seq != prev+1 {
				t.Fatalf("round %d: seq %d after %d", round, r.Seq, prev)
			}
			if want := rec(r.Seq, 100+int(r.Seq%300)); string(r.Data) != string(want.Data) {
				t.Fatalf("round %d: seq %d holds %q", round, r.Seq, r.Data)
			}
			prev = r.Seq
		}
		cancel()
		if st.Queued == 0 {
			for q := ackedThrough + 1; q <= appendedThrough; q++ {
				if delivered[q] == 0 {
					t.Fatalf("round %d: seq %d appended, but neither delivered nor in the spool", round, q)
				}
			}
			prev = appendedThrough
		}
		if prev < appendedThrough {
			t.Fatalf("round %d: the spool ends at seq %d, but Append returned for %d", round, prev, appendedThrough)
		}
		t.Logf("round %d: killed after %d appends; acked through %d, appended through %d, spool ends at %d; %d queued, torn %d (%d bytes)",
			round, appends, ackedThrough, appendedThrough, prev, st.Queued, st.Torn, st.TornBytes)
		s.Close()
		next = max(prev, appendedThrough) + 1
	}

	// Deliver and ack the rest: then a reopened spool is empty.
	s, err := Open(dir, crashCfg)
	if err != nil {
		t.Fatal(err)
	}
	rest, pos := drain(t, s)
	for _, r := range rest {
		delivered[r.Seq]++
	}
	if len(rest) > 0 {
		if err := s.Ack(pos); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for q := uint64(1); q < next; q++ {
		if delivered[q] == 0 {
			t.Errorf("seq %d never delivered", q)
		}
	}
	s, err = Open(dir, crashCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.Queued != 0 || st.Recovered != 0 {
		t.Errorf("after the final ack: %d queued, %d recovered; want none", st.Queued, st.Recovered)
	}
}

// TestSIGKILLOverflow: a process whose output is down appends into a
// small spool, overflowing it, and is killed at random points five
// times. After each kill the spool holds a contiguous run of seqs up to
// at least the last append that returned, and every seq before it was
// reported dropped: no loss goes unreported. A reported drop can still
// be in the spool only for the last drop before the kill (the process
// died between the report and the removal of the segment).
func TestSIGKILLOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	next := uint64(1)
	dropped := map[uint64]bool{}
	for round := range 5 {
		killAfter := 3000 + rand.IntN(5000)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStartEnv+"="+strconv.FormatUint(next, 10), crashOverflowEnv+"=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		appends, killed := 0, false
		var appendedThrough uint64
		var lastDrop [2]uint64
		for sc.Scan() {
			var a, b, c uint64
			if n, _ := fmt.Sscanf(sc.Text(), "x %d %d %d", &a, &b, &c); n == 3 {
				if b-a+1 != c {
					t.Fatalf("round %d: drop of %d records reported as seqs %d to %d", round, c, a, b)
				}
				for q := a; q <= b; q++ {
					if dropped[q] {
						t.Fatalf("round %d: seq %d reported dropped twice", round, q)
					}
					dropped[q] = true
				}
				lastDrop = [2]uint64{a, b}
				continue
			}
			if n, _ := fmt.Sscanf(sc.Text(), "a %d", &a); n == 1 {
				appendedThrough = a
				if appends++; appends == killAfter && !killed {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				}
			}
		}
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended with %v, not by SIGKILL", round, cmd.ProcessState)
		}

		s, err := Open(dir, crashOverflowCfg)
		if err != nil {
			t.Fatal(err)
		}
		st := checkInvariant(t, s)
		if st.Bytes > crashOverflowCfg.MaxBytes {
			t.Errorf("round %d: %d bytes, above MaxBytes", round, st.Bytes)
		}
		got, _ := drain(t, s)
		s.Close()
		if len(got) == 0 {
			t.Fatalf("round %d: spool empty", round)
		}
		first, last := got[0].Seq, got[len(got)-1].Seq
		for i, g := range got {
			if g.Seq != first+uint64(i) {
				t.Fatalf("round %d: seq %d at %d, want %d", round, g.Seq, i, first+uint64(i))
			}
			if dropped[g.Seq] && (g.Seq < lastDrop[0] || g.Seq > lastDrop[1]) {
				t.Fatalf("round %d: seq %d reported dropped (not in the last drop %v) but in the spool", round, g.Seq, lastDrop)
			}
		}
		if last < appendedThrough {
			t.Fatalf("round %d: spool ends at seq %d, Append returned for %d", round, last, appendedThrough)
		}
		for q := uint64(1); q < first; q++ {
			if !dropped[q] {
				t.Fatalf("round %d: seq %d is neither in the spool (from %d) nor reported dropped", round, q, first)
			}
		}
		// What was reported dropped but survived counts as not dropped:
		// the next round may drop it again.
		for _, g := range got {
			delete(dropped, g.Seq)
		}
		t.Logf("round %d: killed after %d appends, spool holds seqs %d to %d (%d bytes), %d seqs reported dropped so far",
			round, appends, first, last, st.Bytes, len(dropped))
		next = last + 1
	}
}
