//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/internal/sysctl"
)

// statsJSON is `ctwatch stats --json`'s output.
type statsJSON struct {
	Count   *uint32             `json:"count"`
	Max     *uint32             `json:"max"`
	Fill    *float64            `json:"fill"`
	Buckets *uint32             `json:"buckets"`
	Stats   map[string]uint64   `json:"stats"`
	PerCPU  []map[string]uint64 `json:"per_cpu"`
}

// runCtwatch runs the built binary and returns its standard output and exit
// status; it fails the test if the binary cannot run or takes too long.
func runCtwatch(t *testing.T, args ...string) (stdout string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nstest.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("ctwatch %s: %v: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), ee.ExitCode()
	}
	return out.String(), 0
}

func statsOf(t *testing.T, args ...string) statsJSON {
	t.Helper()
	out, status := runCtwatch(t, append([]string{"stats", "--json"}, args...)...)
	if status != 0 {
		t.Fatalf("ctwatch stats exited %d: %s", status, out)
	}
	var s statsJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats output %q: %v", out, err)
	}
	if s.Count == nil || s.Max == nil || s.Fill == nil || s.Buckets == nil || len(s.Stats) != int(ctstat.NumCounters) {
		t.Fatalf("stats output lacks keys: %s", out)
	}
	return s
}

// TestStatsCountsCreatedFlows creates N entries through ctnetlink in one
// namespace and none in another, and checks that ctstat.Read and `ctwatch
// stats --netns` each see exactly their namespace's table, with the limit
// and hash size the namespace's sysctls report.
func TestStatsCountsCreatedFlows(t *testing.T) {
	ns := nstest.New(t)
	other := nstest.New(t)
	const n = 25
	ct := ns.Conntrack()
	for i := range n {
		f := conntrack.NewFlow(unix.IPPROTO_TCP, 0,
			netip.MustParseAddr("10.0.0.1"), netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 50000, 80, 600, 0)
		if err := ct.Create(f); err != nil {
			t.Fatalf("create flow %d: %v", i, err)
		}
	}
	wantMax, err := sysctl.ReadInt(ns.Handle(), "net.netfilter.nf_conntrack_max")
	if err != nil {
		t.Fatal(err)
	}
	wantBuckets, err := sysctl.ReadInt(ns.Handle(), "net.netfilter.nf_conntrack_buckets")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ctstat.Read(ctx, ns.Handle())
	if err != nil {
		t.Fatal(err)
	}
	if r.Count != n || int64(r.Max) != wantMax || int64(r.Buckets) != wantBuckets {
		t.Errorf("ctstat.Read: count %d max %d buckets %d; want %d %d %d", r.Count, r.Max, r.Buckets, n, wantMax, wantBuckets)
	}
	if len(r.PerCPU) == 0 {
		t.Error("no per-CPU counters")
	}
	var sum ctstat.CPUStats
	for _, c := range r.PerCPU {
		sum = sum.Add(c.Stats)
	}
	if sum != r.Sum {
		t.Errorf("sum %v is not the per-CPU counters' %v", r.Sum, sum)
	}
	if ro, err := ctstat.Read(ctx, other.Handle()); err != nil || ro.Count != 0 {
		t.Errorf("other namespace: count %d, %v; want 0", ro.Count, err)
	}

	// The binary, by name and by path, with and without the per-CPU
	// counters.
	for _, spec := range []string{ns.Name, ns.Path} {
		s := statsOf(t, "--netns", spec)
		if *s.Count != n || int64(*s.Max) != wantMax || int64(*s.Buckets) != wantBuckets {
			t.Errorf("stats --netns %s: count %d max %d buckets %d", spec, *s.Count, *s.Max, *s.Buckets)
		}
		if want := ctstat.RoundFill(ctstat.FillPercent(n, uint32(wantMax))); *s.Fill != want {
			t.Errorf("stats --netns %s: fill %v, want %v", spec, *s.Fill, want)
		}
		if s.PerCPU != nil {
			t.Errorf("per_cpu without --per-cpu")
		}
	}
	s := statsOf(t, "--netns", ns.Name, "--per-cpu")
	if len(s.PerCPU) != len(r.PerCPU) {
		t.Fatalf("%d per-CPU objects, want %d", len(s.PerCPU), len(r.PerCPU))
	}
	for name, total := range s.Stats {
		var sum uint64
		for _, c := range s.PerCPU {
			if _, ok := c["cpu"]; !ok {
				t.Fatalf("per-CPU object without cpu: %v", c)
			}
			sum += c[name]
		}
		if sum != total {
			t.Errorf("stats.%s = %d, per-CPU sum %d", name, total, sum)
		}
	}
	if s := statsOf(t, "--netns", other.Name); *s.Count != 0 {
		t.Errorf("other namespace: count %d, want 0", *s.Count)
	}

	out, status := runCtwatch(t, "stats", "--netns", ns.Name)
	if status != 0 || !strings.HasPrefix(out, "entries 25 of ") || !strings.Contains(out, "\ndrop ") {
		t.Errorf("human output (exit %d):\n%s", status, out)
	}
}
