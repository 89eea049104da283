//go:build integration

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// The lowrate part (issue 15): ctwatch against conntrack -E where hosts
// mostly are, at low rates and idle. About four minutes.
var (
	lowRates    = []float64{100, 1000, 20000}
	lowLoads    = []string{"tcp", "ctnetlink"}
	lowMonitors = []string{"ctwatch", "conntrack"}
	// lowCTEvents are the nf_conntrack_events values the idle CPU is
	// measured under: 1 (every event) and 2 (the kernel's default: only
	// while a listener is there, and ctwatch then reconciles by dumps).
	lowCTEvents = []int{1, 2}
)

const (
	// lowSeconds is how long each low-rate load runs.
	lowSeconds = 4
	// lowIdle is how long each idle measurement lasts; lowSettle the
	// wait before it, once the monitor has started.
	lowIdle   = 20 * time.Second
	lowSettle = 2 * time.Second
)

// runLowRate measures the lowrate part into b.rep.LowRate: for each
// nf_conntrack_events value (set in the part's own namespace, and put
// back after), each monitor's idle CPU in an empty namespace, and under
// events=1 its CPU per event at each of lowRates for each of lowLoads.
// The 1M-entry idle and reconcile measurements belong to another part,
// which adds its rows with Entries set.
func (b *bench) runLowRate(ctx context.Context) error {
	for _, m := range lowMonitors {
		if reason := b.checkMonitor(m); reason != "" {
			return fmt.Errorf("lowrate part: %s", reason)
		}
	}
	err := b.inNewNamespace(func(ns *namespace) error {
		saved, err := ns.sysctl("net/netfilter/nf_conntrack_events", "")
		if err != nil {
			return err
		}
		defer func() {
			if _, err := ns.sysctl("net/netfilter/nf_conntrack_events", saved); err != nil {
				fmt.Fprintln(b.stderr, "ctbench: restore nf_conntrack_events:", err)
			}
		}()
		for _, ev := range lowCTEvents {
			if _, err := ns.sysctl("net/netfilter/nf_conntrack_events", strconv.Itoa(ev)); err != nil {
				return err
			}
			for _, mon := range lowMonitors {
				if err := b.measureLow(ctx, ns, mon, ev); err != nil {
					return fmt.Errorf("%s: %w", mon, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("lowrate part: %w", err)
	}
	return nil
}

// measureLow starts one monitor, measures it idle and, under events=1,
// at each low rate of each load, and stops it.
func (b *bench) measureLow(ctx context.Context, ns *namespace, mon string, ctEvents int) error {
	dir, err := os.MkdirTemp(b.dir, "lowrate-"+mon+"-")
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if _, err := b.waitQuiet(ctx); err != nil {
		return err
	}
	m, err := b.startMonitor(ns, mon, dir, 0)
	if err != nil {
		return err
	}
	defer m.kill()
	if _, err := m.waitJoined(ctx, ns, 10*time.Second); err != nil {
		return err
	}
	if mon == "ctwatch" {
		if err := m.waitOutput(ctx, `"event":"dump"`, 30*time.Second); err != nil {
			return err
		}
	}
	if err := sleepCtx(ctx, lowSettle); err != nil {
		return err
	}
	before, err := readUsage(m.pid)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := sleepCtx(ctx, lowIdle); err != nil {
		return err
	}
	after, err := readUsage(m.pid)
	if err != nil {
		return err
	}
	idle := lowResult{Monitor: mon, CTEvents: ctEvents, Seconds: time.Since(start).Seconds(), CPUNanos: after.cpuNanos - before.cpuNanos}
	b.rep.LowRate = append(b.rep.LowRate, idle)
	fmt.Fprintf(b.stderr, "ctbench: lowrate: %s idle (events=%d): %.3f ms CPU/s\n", mon, ctEvents, idle.msPerSecond())
	if ctEvents != 1 {
		return nil
	}
	for _, load := range lowLoads {
		for _, rate := range lowRates {
			res := lowResult{Monitor: mon, CTEvents: ctEvents, Load: load, Rate: rate}
			before, err := readUsage(m.pid)
			if err != nil {
				return err
			}
			n := int(rate * lowSeconds)
			cmd := ns.command("taskset", "-c", strconv.Itoa(b.cfg.GenCPU), b.self, "gen",
				"-load", load, "-events", strconv.Itoa(n), "-rate", strconv.FormatFloat(rate, 'f', -1, 64))
			gen, _, err := runGenerator(ctx, cmd, time.Minute+3*lowSeconds*time.Second)
			if err != nil {
				return err
			}
			if gen.Errors > 0 {
				return fmt.Errorf("generator: %d operation(s) failed, the first: %s", gen.Errors, gen.FirstError)
			}
			if _, _, err := m.waitDrained(ctx, ns, b.cfg.DrainTimeout); err != nil {
				return err
			}
			after, err := readUsage(m.pid)
			if err != nil {
				return err
			}
			res.Events, res.Seconds = gen.Generated.Events(), gen.Seconds
			res.CPUNanos = after.cpuNanos - before.cpuNanos
			b.rep.LowRate = append(b.rep.LowRate, res)
			fmt.Fprintf(b.stderr, "ctbench: lowrate: %s %s %s: %.2f µs/event\n", mon, load, rateLabel(rate), res.usPerEvent())
		}
	}
	return nil
}

// sysctl reads the namespace's sysctl at path under /proc/sys and, when
// value is not "", writes it; it returns the value read before.
func (ns *namespace) sysctl(path, value string) (string, error) {
	var old string
	err := ns.h.Do(func() error {
		p := "/proc/sys/" + path
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		old = string(trimNewline(data))
		if value == "" {
			return nil
		}
		return os.WriteFile(p, []byte(value+"\n"), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", path, err)
	}
	return old, nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
