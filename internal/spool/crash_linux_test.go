package spool

import (
	"bufio"
	"context"
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
)

var crashCfg = Config{MaxBytes: 64 << 20, SegmentBytes: 16 << 10}

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
	s, err := Open(dir, crashCfg)
	if err != nil {
		t.Fatal(err)
	}
	say := func(kind byte, seq uint64) {
		// One write per line: lines of both goroutines do not mix
		// (a pipe write below PIPE_BUF is atomic).
		b := strconv.AppendUint([]byte{kind, ' '}, seq, 10)
		os.Stdout.Write(append(b, '\n'))
	}
	go func() {
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
