//go:build integration

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestNetnsOpen opens a test namespace by name and by path, checks its
// identity, reads a per-namespace sysctl inside it with Do, and dials
// netlink into it with FD.
func TestNetnsOpen(t *testing.T) {
	ns := nstest.New(t)
	var st unix.Stat_t
	if err := unix.Stat(ns.Path, &st); err != nil {
		t.Fatal(err)
	}
	own, err := netns.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	readAcct := func(h *netns.Handle) string {
		t.Helper()
		var v string
		if err := h.Do(func() error {
			b, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_acct")
			v = strings.TrimSpace(string(b))
			return err
		}); err != nil {
			t.Fatalf("Do in %s: %v", h, err)
		}
		return v
	}
	// The host's value is only read; the test namespace gets the other.
	inside := "1"
	if readAcct(own) == "1" {
		inside = "0"
	}
	ns.Sysctl("net.netfilter.nf_conntrack_acct", inside)

	for i, spec := range []string{ns.Name, ns.Path} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			h, err := netns.Open(spec)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if h.ID() != st.Ino {
				t.Errorf("ID() = %d, want the inode %d of %s", h.ID(), st.Ino, ns.Path)
			}
			if h.ID() == own.ID() {
				t.Errorf("ID() = %d, the same as this process's namespace", h.ID())
			}
			if h.String() != spec || h.FD() <= 0 {
				t.Errorf("String() = %q, FD() = %d; want %q and a descriptor", h.String(), h.FD(), spec)
			}
			if got := readAcct(h); got != inside {
				t.Errorf("nf_conntrack_acct inside = %q, want %q", got, inside)
			}
			if got, want := readAcct(own), map[string]string{"0": "1", "1": "0"}[inside]; got != want {
				t.Errorf("nf_conntrack_acct of this process's namespace = %q, want %q", got, want)
			}

			// The descriptor dials netlink into the namespace.
			sub, err := events.Subscribe(events.Config{NetNS: h.FD(), Types: events.TypeNew})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			w := evRun(t, sub)
			evWithin(t, evTimeout, "create", func() error {
				return ns.Conntrack().Create(evFlow(unix.IPPROTO_UDP, "10.7.0.1", "10.7.0.2", uint16(1+i), 2, 30, 0))
			})
			w.waitFor("NEW in the namespace", evAnd(evTuple(model.ProtoUDP, "10.7.0.1", "10.7.0.2", uint16(1+i), 2), evIs(model.EventNew)))
		})
	}
}

// TestNetnsOrphaned: a namespace is held while its name exists or a process
// lives in it, and orphaned once only ctwatch's own descriptor keeps it.
func TestNetnsOrphaned(t *testing.T) {
	ns := nstest.New(t)
	h, err := netns.Open(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	check := func(when string, want bool) {
		t.Helper()
		got, err := h.Orphaned()
		if err != nil || got != want {
			t.Errorf("%s: Orphaned() = %v, %v; want %v", when, got, err, want)
		}
	}
	check("named", false)

	// A process in the namespace, which outlives its name.
	holder := ns.Command("sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	// ip netns exec execs sleep inside the namespace: wait until the pid
	// lives there before the name goes.
	waitFor(t, "the holder to enter the namespace", func() bool {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid))
		return err == nil && link == fmt.Sprintf("net:[%d]", h.ID())
	})
	ns.Delete()
	check("unnamed, a process in it", false)

	holder.Process.Kill()
	holder.Wait()
	check("unnamed, empty", true)

	own, err := netns.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if got, err := own.Orphaned(); err != nil || got {
		t.Errorf("own namespace: Orphaned() = %v, %v; want false", got, err)
	}
}
