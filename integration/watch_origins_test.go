//go:build integration

package integration

import (
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
)

// ogEntries is how many entries the long requests go over.
const ogEntries = 217

// TestWatchOriginsNamed runs conntrack -I, -R (a load file of many -I),
// -U and -D as distinct processes while ctwatch and conntrack -E watch
// side by side. Each held run keeps its sockets open until ctwatch has
// written all of its events (see ogStartHeld): every one of those must be
// named conntrack, whether its process started just after another's
// request, runs alongside others, or causes hundreds of events from one
// socket. The free runs exit as soon as they are done, as they do in
// production: a long one must be named on all its events once on its first
// one, and what stays unnamed must be what the stop summary counts. Both
// programs' counts are logged.
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
	held := func(what string, want int, runs ...[]string) []ogOrigin {
		t.Helper()
		var hs []*ogHeld
		for _, args := range runs {
			hs = append(hs, ogStartHeld(t, ns, args...))
		}
		got := ogRead(t, w, what, want)
		for _, h := range hs {
			h.release(t)
		}
		return got
	}
	free := func(what string, want int, runs ...[]string) []ogOrigin {
		t.Helper()
		for _, args := range runs {
			if out, err := ns.Command(append([]string{"conntrack"}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("conntrack %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		return ogRead(t, w, what, want)
	}

	var heldOrigins []ogOrigin
	// Quick succession: groups of three processes at once, each opening
	// its socket while, or just after, the others make their requests.
	n := 0
	for range 4 {
		heldOrigins = append(heldOrigins, held("held -I", 3,
			insert(n), insert(n+1), insert(n+2))...)
		n += 3
	}
	// One process, many requests from one socket.
	load := filepath.Join(t.TempDir(), "load.txt")
	var lines []string
	for i := n; i < ogEntries; i++ {
		lines = append(lines, strings.Join(insert(i), " "))
	}
	// conntrack -R prints no closing line, only errors: a last line that
	// fails (no such entry) holds it.
	lines = append(lines, strings.Join(del(ogEntries), " "))
	if err := os.WriteFile(load, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	heldOrigins = append(heldOrigins, held("held -R", ogEntries-n, []string{"-R", load})...)
	// One process dumping the table on one socket and updating every entry
	// from another (whose port id is no pid).
	heldOrigins = append(heldOrigins, held("held -U", ogEntries, []string{"-U", "-s", "10.7.0.1", "-m", "1"})...)
	heldOrigins = append(heldOrigins, held("held -D", 3,
		del(0), del(1), del(2))...)
	for i, o := range heldOrigins {
		if o.program != "conntrack" {
			t.Errorf("held run, record %d: origin %+v, want program conntrack", i, o)
		}
	}

	// Free runs.
	longU := free("free -U", ogEntries-3, []string{"-U", "-s", "10.7.0.1", "-m", "2"})
	var singles [][]string
	for i := 3; i < 8; i++ {
		singles = append(singles, del(i))
	}
	quickD := free("free single -D", len(singles), singles...)
	longD := free("free -D", ogEntries-8, []string{"-D", "-s", "10.7.0.1"})
	for name, run := range map[string][]ogOrigin{"-U": longU, "-D": longD} {
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
	all := append(append(append(heldOrigins, longU...), quickD...), longD...)
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
	var ctNamed, ctUser int
	count := func() {
		ctNamed, ctUser = 0, 0
		for _, l := range readLines(t, ctOut) {
			if strings.Contains(l, "[USERSPACE]") {
				ctUser++
				if strings.Contains(l, "progname=conntrack") {
					ctNamed++
				}
			}
		}
	}
	// conntrack -E may lose events (ENOBUFS under the -R, -U and -D
	// bursts): its count is only reported, once it has printed everything
	// it will.
	if err := ct.Process.Signal(unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	ct.Wait()
	count()
	t.Logf("userspace events: ctwatch named %d of %d (held runs %d of %d, quick free -D %d of %d), conntrack -E named %d of %d",
		named, len(all), ogNamed(heldOrigins), len(heldOrigins), ogNamed(quickD), len(quickD), ctNamed, ctUser)
	t.Logf("conntrack -E stderr:\n%s", ctErr.String())
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

// release lets the run finish and checks that it succeeded (a load file's
// run ends on a failing line, see TestWatchOriginsNamed).
func (h *ogHeld) release(t *testing.T) {
	t.Helper()
	out, err := io.ReadAll(h.r)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Wait(); err != nil && !slices.Contains(h.cmd.Args, "-R") {
		t.Fatalf("%s: %v: %s", strings.Join(h.cmd.Args, " "), err, out[4096:])
	}
}
