//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

const (
	// ogEntries is how many entries the long requests go over.
	ogEntries = 217
	// ogSingles is how many free conntrack -D of one entry each run in
	// quick succession.
	ogSingles = 20
)

// TestWatchOriginsNamed runs conntrack -I, -R (a load file of many -I),
// -U and -D as distinct processes while ctwatch and conntrack -E watch
// side by side. Each held run keeps its sockets open until ctwatch has
// written all of its events (see ogStartHeld): every one of those must be
// named conntrack, whether its process started just after another's
// request, runs alongside others, or updates hundreds of entries from a
// socket whose port id is no pid. The free runs exit as soon as they are
// done, as they do in production: a long one (-R, -U, -D over many
// entries) must be named on all its events once on its first one, and
// what stays unnamed must be what the stop summary counts. Both programs'
// counts are logged, conntrack -E's only reported: it may lose events
// (ENOBUFS under the bursts).
func TestWatchOriginsNamed(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	ns := nstest.New(t)
	ctOut := filepath.Join(t.TempDir(), "conntrack.txt")
	f, err := os.Create(ctOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ct := ns.Command("conntrack", "-E", "--buffer-size", "16777216")
	ct.Stdout = f
	ctErr := &syncBuffer{}
	ct.Stderr = ctErr
	if err := ct.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ct.Process.Kill(); ct.Wait() })
	w := wtStart(t, "watch", "--netns", ns.Name, "--updates", "all")
	wtPoll(t, "both listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 2 })

	tuple := func(i int) []string {
		return []string{"-p", "udp", "-s", "10.7.0.1", "-d", "10.7.0.2",
			"--sport", strconv.Itoa(20000 + i), "--dport", "53"}
	}
	insert := func(i int) []string { return append(append([]string{"-I"}, tuple(i)...), "-t", "300") }
	del := func(i int) []string { return append([]string{"-D"}, tuple(i)...) }
	// Each run's events are counted from the table it leaves: a
	// conntrack -U or -D may fail part way (EPROTO from conntrack-tools'
	// dump-and-modify, now and then), and its events are those of the
	// requests it made.
	grown := func(before, after ogTable) int { return after.n - before.n }
	shrunk := func(before, after ogTable) int { return before.n - after.n }
	marked := func(mark uint32) func(before, after ogTable) int {
		return func(_, after ogTable) int { return after.marks[mark] }
	}
	held := func(what string, count func(before, after ogTable) int, runs ...[]string) []ogOrigin {
		t.Helper()
		before := ogDump(t, ns)
		var hs []*ogHeld
		for _, args := range runs {
			hs = append(hs, ogStartHeld(t, ns, args...))
		}
		for _, h := range hs {
			h.waitBlocked(t)
		}
		want := count(before, ogDump(t, ns))
		if want <= 0 {
			t.Fatalf("%s: %d events", what, want)
		}
		got := ogRead(t, w, what, want)
		for _, h := range hs {
			h.release(t)
		}
		return got
	}
	free := func(what string, count func(before, after ogTable) int, runs ...[]string) []ogOrigin {
		t.Helper()
		before := ogDump(t, ns)
		for _, args := range runs {
			if out, err := ns.Command(append([]string{"conntrack"}, args...)...).CombinedOutput(); err != nil {
				t.Logf("conntrack %s: %v: %s", strings.Join(args, " "), err, tail(strings.Split(string(out), "\n"), 2))
			}
		}
		want := count(before, ogDump(t, ns))
		if want <= 0 {
			t.Fatalf("%s: %d events", what, want)
		}
		return ogRead(t, w, what, want)
	}

	var heldOrigins []ogOrigin
	// Quick succession: groups of three processes at once, each opening
	// its socket while, or just after, the others make their requests.
	n := 0
	for range 4 {
		heldOrigins = append(heldOrigins, held("held -I", grown,
			insert(n), insert(n+1), insert(n+2))...)
		n += 3
	}
	// One process, many requests from one socket: conntrack -R writes
	// nothing at its end, so it cannot be held, and runs free.
	load := filepath.Join(t.TempDir(), "load.txt")
	var lines []string
	for i := n; i < ogEntries; i++ {
		lines = append(lines, strings.Join(insert(i), " "))
	}
	if err := os.WriteFile(load, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	longR := free("free -R", grown, []string{"-R", load})
	// One process dumping the table on one socket and updating every entry
	// from another (whose port id is no pid).
	heldOrigins = append(heldOrigins, held("held -U", marked(1), []string{"-U", "-s", "10.7.0.1", "-m", "1"})...)
	heldOrigins = append(heldOrigins, held("held -D", shrunk,
		del(0), del(1), del(2))...)
	for i, o := range heldOrigins {
		if o.program != "conntrack" {
			t.Errorf("held run, record %d: origin %+v, want program conntrack", i, o)
		}
	}

	// Free runs.
	longU := free("free -U", marked(2), []string{"-U", "-s", "10.7.0.1", "-m", "2"})
	var singles [][]string
	for i := 3; i < 3+ogSingles; i++ {
		singles = append(singles, del(i))
	}
	quickD := free("free single -D", shrunk, singles...)
	longD := free("free -D", shrunk, []string{"-D", "-s", "10.7.0.1"})
	for name, run := range map[string][]ogOrigin{"-R": longR, "-U": longU, "-D": longD} {
		first := -1
		for i, o := range run {
			if o.program == "conntrack" && first < 0 {
				first = i
			}
			if first >= 0 && o.program != "conntrack" {
				t.Errorf("free %s: record %d unnamed (%+v) after record %d was named", name, i, o, first)
			}
		}
	}

	// The stop summary counts exactly the records left without a program.
	all := slices.Concat(heldOrigins, longR, longU, quickD, longD)
	named, unnamed := 0, 0
	for _, o := range all {
		if o.program == "conntrack" {
			named++
		} else {
			unnamed++
		}
	}
	w.signal(unix.SIGINT)
	rest, code, _ := w.wait(time.Now())
	if code != 0 {
		t.Fatalf("ctwatch exited %d; rest of stdout:\n%s", code, strings.Join(rest, "\n"))
	}
	counted := 0
	if m := regexp.MustCompile(`; (\d+) records of userspace requests without their program`).FindStringSubmatch(w.stderr.String()); m != nil {
		counted, _ = strconv.Atoi(m[1])
	}
	if counted != unnamed {
		t.Errorf("stop summary counts %d unnamed records, the output has %d:\n%s", counted, unnamed, w.stderr.String())
	}

	// conntrack -E on the same events.
	var ctNamed, ctUser, ctQuickNamed, ctQuick int
	count := func() {
		for _, l := range readLines(t, ctOut) {
			if !strings.Contains(l, "[USERSPACE]") {
				continue
			}
			ctUser++
			named := strings.Contains(l, "progname=conntrack")
			if named {
				ctNamed++
			}
			if quick := strings.Contains(l, "[DESTROY]") && ogQuickSport(l); quick {
				ctQuick++
				if named {
					ctQuickNamed++
				}
			}
		}
	}
	// Once it has printed everything it will.
	if err := ct.Process.Signal(unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	ct.Wait()
	count()
	t.Logf("userspace events: ctwatch named %d of %d (held runs %d of %d, quick free -D %d of %d), conntrack -E named %d of %d (quick free -D %d of %d)",
		named, len(all), ogNamed(heldOrigins), len(heldOrigins), ogNamed(quickD), len(quickD), ctNamed, ctUser, ctQuickNamed, ctQuick)
	t.Logf("conntrack -E stderr:\n%s", ctErr.String())
}

// ogQuickSport reports whether a conntrack -E line is of one of the
// entries the quick free -D runs delete.
func ogQuickSport(line string) bool {
	for i := 3; i < 3+ogSingles; i++ {
		if strings.Contains(line, " sport="+strconv.Itoa(20000+i)+" ") {
			return true
		}
	}
	return false
}

// ogNamed returns how many origins name conntrack.
func ogNamed(origins []ogOrigin) int {
	n := 0
	for _, o := range origins {
		if o.program == "conntrack" {
			n++
		}
	}
	return n
}

// ogOrigin is the origin of one entry record.
type ogOrigin struct {
	portid  uint32
	pid     int32
	program string
}

// ogRead reads want entry records, each of which must have an origin, and
// returns their origins.
func ogRead(t *testing.T, w *wtProc, what string, want int) []ogOrigin {
	t.Helper()
	var got []ogOrigin
	for len(got) < want {
		r, _ := w.waitRecord(fmt.Sprintf("%s record %d of %d", what, len(got)+1, want), func(r map[string]any) bool {
			switch r["event"] {
			case "new", "update", "destroy":
				return true
			}
			return false
		})
		o, ok := r["origin"].(map[string]any)
		if !ok {
			t.Fatalf("%s: record without an origin: %v", what, r)
		}
		var og ogOrigin
		if v, ok := o["portid"].(float64); ok {
			og.portid = uint32(v)
		}
		if v, ok := o["pid"].(float64); ok {
			og.pid = int32(v)
		}
		og.program, _ = o["program"].(string)
		got = append(got, og)
	}
	return got
}

// ogHeld is a conntrack run whose standard error is a full pipe: conntrack
// writes its closing line ("1 flow entries have been created.") before it
// closes its netlink sockets, so it blocks there, its sockets open, until
// release drains the pipe.
type ogHeld struct {
	cmd *exec.Cmd
	r   *os.File
}

func ogStartHeld(t *testing.T, ns *nstest.NS, args ...string) *ogHeld {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	fill := make([]byte, 4096)
	for {
		if _, err := unix.Write(p[1], fill); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				break
			}
			t.Fatal(err)
		}
	}
	// The writing end must block in conntrack; O_NONBLOCK belongs to the
	// open file, which the child shares.
	if err := unix.SetNonblock(p[1], false); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(p[0], false); err != nil {
		t.Fatal(err)
	}
	r, wr := os.NewFile(uintptr(p[0]), "held-r"), os.NewFile(uintptr(p[1]), "held-w")
	cmd := ns.Command(append([]string{"conntrack"}, args...)...)
	cmd.Stderr = wr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	h := &ogHeld{cmd: cmd, r: r}
	t.Cleanup(func() {
		r.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return h
}

// waitBlocked waits until the run is blocked writing its standard error:
// done with its requests, its sockets still open.
func (h *ogHeld) waitBlocked(t *testing.T) {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/syscall", h.cmd.Process.Pid)
	prefix := fmt.Sprintf("%d 0x2 ", unix.SYS_WRITE)
	wtPoll(t, strings.Join(h.cmd.Args, " ")+" to block on its standard error", func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return strings.HasPrefix(string(b), prefix)
	})
}

// release lets the run finish. Its failure is logged only: its events
// are counted from the table.
func (h *ogHeld) release(t *testing.T) {
	t.Helper()
	out, err := io.ReadAll(h.r)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Wait(); err != nil {
		t.Logf("%s: %v: %s", strings.Join(h.cmd.Args, " "), err, out[4096:])
	}
}

// ogTable is what the test's entries look like in the table.
type ogTable struct {
	n     int
	marks map[uint32]int
}

// ogDump lists the namespace's table.
func ogDump(t *testing.T, ns *nstest.NS) ogTable {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wtTimeout)
	defer cancel()
	tbl := ogTable{marks: make(map[uint32]int)}
	err := events.Dump(ctx, ns.FD, func(ev *model.Event) bool {
		tbl.n++
		tbl.marks[ev.Entry.Mark]++
		return true
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return tbl
}
