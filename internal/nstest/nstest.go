//go:build integration

package nstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// Skip skips the test, except under CI (the CI environment variable set),
// where an integration test that cannot run is a failure: a green run must
// mean the kernel was exercised.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("integration test cannot run under CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips (or, under CI, fails) a test run without root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces")
	}
}

// RequireCommand skips (or, under CI, fails) a test when a program it needs
// is missing; `make test` installs them.
func RequireCommand(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Skip(t, "needs %s (installed by `make deps`)", n)
		}
	}
}

// NS is a network namespace owned by one test.
type NS struct {
	// Name is the namespace's name under /run/netns.
	Name string
	// Path is /run/netns/<Name>.
	Path string
	// FD is an open descriptor of the namespace, for netlink.Config.NetNS.
	FD int

	h       *netns.Handle
	t       testing.TB
	deleted bool
}

// New creates a namespace for t with its loopback up and removes it when t
// ends.
func New(t testing.TB) *NS {
	t.Helper()
	RequireRoot(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "ctw-" + hex.EncodeToString(b[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		Skip(t, "cannot create network namespace: %v: %s", err, out)
	}
	ns := &NS{Name: name, Path: "/run/netns/" + name, FD: -1, t: t}
	t.Cleanup(func() {
		ns.h.Close() // nil-safe
		if ns.deleted {
			return
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("remove namespace %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.Open(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	ns.h, ns.FD = h, h.FD()
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

// Delete removes the namespace's name now, as "ip netns del" does: what
// still holds the namespace (a process in it, a descriptor) keeps it alive.
// The cleanup then has nothing left to remove.
func (ns *NS) Delete() {
	ns.t.Helper()
	ns.h.Close()
	ns.h, ns.FD = nil, -1
	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		ns.t.Fatalf("remove namespace %s: %v: %s", ns.Name, err, out)
	}
	ns.deleted = true
}

// Run runs a command inside the namespace and fails the test if it fails.
// It returns the command's standard output.
func (ns *NS) Run(argv ...string) string {
	ns.t.Helper()
	out, err := ns.Output(argv...)
	if err != nil {
		ns.t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return out
}

// Output runs a command inside the namespace and returns its standard
// output; the error includes its standard error.
func (ns *NS) Output(argv ...string) (string, error) {
	cmd := ns.Command(argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name}, argv...)...)
}

// NFT loads an nftables ruleset into the namespace.
func (ns *NS) NFT(ruleset string) {
	ns.t.Helper()
	RequireCommand(ns.t, "nft")
	cmd := ns.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		ns.t.Fatalf("nft: %v: %s\nruleset:\n%s", err, out, ruleset)
	}
}

// TrackingRuleset makes conntrack track the namespace's traffic: the kernel
// only engages conntrack in a namespace once a rule needs it.
const TrackingRuleset = `table inet ctwatch_test {
	chain input {
		type filter hook input priority 0; policy accept;
		ct state new,established,related,invalid accept
	}
	chain output {
		type filter hook output priority 0; policy accept;
		ct state new,established,related,invalid accept
	}
}
`

// EnableTracking loads TrackingRuleset.
func (ns *NS) EnableTracking() {
	ns.t.Helper()
	ns.NFT(TrackingRuleset)
}

// Sysctl sets a sysctl inside the namespace (e.g.
// "net.netfilter.nf_conntrack_acct", "1"). Only per-namespace sysctls may be
// set this way: the host's are never touched.
func (ns *NS) Sysctl(key, value string) {
	ns.t.Helper()
	ns.Run("sysctl", "-q", "-w", key+"="+value)
}

// Handle opens the namespace as a netns.Handle, closed when the test ends,
// for the packages that take one (sysctl, ctstat).
func (ns *NS) Handle() *netns.Handle {
	ns.t.Helper()
	h, err := netns.Open(ns.Path)
	if err != nil {
		ns.t.Fatalf("open namespace %s: %v", ns.Name, err)
	}
	ns.t.Cleanup(func() { h.Close() })
	return h
}

// Conntrack dials a ctnetlink connection inside the namespace, closed when
// the test ends.
func (ns *NS) Conntrack() *conntrack.Conn {
	ns.t.Helper()
	c, err := conntrack.Dial(&netlink.Config{NetNS: ns.FD})
	if err != nil {
		ns.t.Fatalf("dial conntrack in %s: %v", ns.Name, err)
	}
	ns.t.Cleanup(func() { c.Close() })
	return c
}

// Do runs f on a thread switched into the namespace, for creating sockets
// there (a socket stays in the namespace it was created in); see
// netns.Handle.Do.
func (ns *NS) Do(f func() error) error { return ns.h.Do(f) }

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of a ctwatch binary built from this checkout, built
// once per test process with the race detector when the tests run with it.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// Children inherit this: a race in the binary stops it at once
		// (and fails the test), and it exits without the race detector's
		// one-second pause, which would blur the stop-time tests.
		os.Setenv("GORACE", "atexit_sleep_ms=0 halt_on_error=1")
		dir, err := os.MkdirTemp("", "ctwatch-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "ctwatch")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/ctwatch/ctwatch/cmd/ctwatch")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build ctwatch: %v", buildErr)
	}
	return buildPath
}
