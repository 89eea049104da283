//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// runFilter runs the filter part: per load a fresh namespace, its
// calibration, then in each run every filter monitor in turn on the same
// full-speed load.
func (b *bench) runFilter(ctx context.Context) error {
	for _, m := range []string{"ctwatch", "conntrack"} {
		if reason := b.checkMonitor(m); reason != "" {
			return fmt.Errorf("filter part: %s", reason)
		}
	}
	// The watch's help lists its flags whatever its exit status.
	help, _ := exec.Command(b.ctwatch, "watch", "--help").CombinedOutput()
	part := &filterPart{Port: filterPort, Every: b.cfg.FilterEvery, KernelFlag: hasKernelFilterFlag(help)}
	b.rep.Filter = part
	if !part.KernelFlag {
		fmt.Fprintf(b.stderr, "ctbench: filter part: %s; %s is not run\n", noKernelFilterFlag, filterMonUser)
	}
	var active []string
	for _, m := range filterMonitors {
		if m != filterMonUser || part.KernelFlag {
			active = append(active, m)
		}
	}
	total, k := len(b.cfg.FilterLoads)*b.cfg.Runs*len(active), 0
	for _, load := range b.cfg.FilterLoads {
		err := b.inNewNamespace(func(ns *namespace) error {
			if !b.cfg.NoCalibrate {
				part.Calibrations = append(part.Calibrations, b.calibrateFilter(ctx, ns, load))
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			for run := 1; run <= b.cfg.Runs; run++ {
				for _, mon := range active {
					k++
					res, err := b.measureFilterRetrying(ctx, ns, load, mon, run)
					if err != nil {
						return err
					}
					part.Results = append(part.Results, res)
					b.filterProgress(k, total, res)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("filter part: %w", err)
		}
	}
	return nil
}

// calibrateFilter counts one full-speed run of a filter load with the raw
// listener, all the events and the matching ones.
func (b *bench) calibrateFilter(ctx context.Context, ns *namespace, load string) filterCalibration {
	c := filterCalibration{Load: load}
	err := func() error {
		if err := b.ensureEmpty(ctx, ns); err != nil {
			return err
		}
		dir, err := os.MkdirTemp(b.dir, "filter-calibration-")
		if err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
		defer os.RemoveAll(dir)
		m := newMonitorProc("floor", dir, formatFloor)
		cmd := ns.command("taskset", "-c", strconv.Itoa(b.cfg.MonCPU), b.self, "floor",
			"-buffer", strconv.FormatInt(b.cfg.CalibrationBuffer, 10), "-match-dport", strconv.Itoa(filterPort), "-out", m.out)
		if err := m.launch(cmd, false); err != nil {
			return err
		}
		defer m.kill()
		sock, err := m.waitJoined(ctx, ns, 10*time.Second)
		if err != nil {
			return err
		}
		gen, _, err := b.generateFilter(ctx, ns, load)
		if err != nil {
			return err
		}
		c.Generated, c.Matching, c.GenSeconds = gen.Generated, gen.Matching, gen.Seconds
		if gen.Errors > 0 {
			return fmt.Errorf("generator: %d operation(s) failed, the first: %s", gen.Errors, gen.FirstError)
		}
		if sock, _, err = m.waitDrained(ctx, ns, b.cfg.DrainTimeout); err != nil {
			return err
		}
		c.Drops = sock.Drops
		if err := m.stop(10 * time.Second); err != nil {
			return err
		}
		data, err := os.ReadFile(m.out)
		if err != nil {
			return fmt.Errorf("calibration listener's counts: %w", err)
		}
		var fc floorCounts
		if err := json.Unmarshal(data, &fc); err != nil {
			return fmt.Errorf("calibration listener's counts: %w", err)
		}
		if fc.Matching == nil {
			return fmt.Errorf("calibration listener wrote no matching counts: %s", data)
		}
		c.Received, c.ReceivedMatching = fc.eventCounts, *fc.Matching
		return nil
	}()
	if err != nil {
		c.Err = err.Error()
	}
	fmt.Fprintf(b.stderr, "ctbench: filter calibration of %s: generated %s (matching %s), raw listener saw %s (matching %s), drops %d: %s\n",
		load, triple(c.Generated), triple(c.Matching), triple(c.Received), triple(c.ReceivedMatching), c.Drops, calibrationStatus(c.Err, c.OK()))
	return c
}

// generateFilter runs a filter load at full speed in the namespace on the
// generator's CPU.
func (b *bench) generateFilter(ctx context.Context, ns *namespace, load string) (genResult, int64, error) {
	cmd := ns.command("taskset", "-c", strconv.Itoa(b.cfg.GenCPU), b.self, "gen",
		"-load", load, "-events", strconv.Itoa(b.cfg.Events), "-rate", "0", "-match-every", strconv.Itoa(b.cfg.FilterEvery))
	return runGenerator(ctx, cmd, time.Minute)
}

// measureFilterRetrying measures one filter monitor on one run of a load,
// through retryInterfered.
func (b *bench) measureFilterRetrying(ctx context.Context, ns *namespace, load, mon string, run int) (filterResult, error) {
	var res filterResult
	err := b.retryInterfered(ctx, fmt.Sprintf("filter %s run %d %s", load, run, mon), func(attempt int) (bool, float64) {
		res = filterResult{Load: load, Monitor: mon, Run: run, Attempts: attempt}
		if err := b.measureFilter(ctx, ns, &res); err != nil {
			res.Err = err.Error()
		}
		return res.Err != "", res.OtherCPU
	})
	return res, err
}

// filterProgress reports a finished filter measurement on stderr.
func (b *bench) filterProgress(k, total int, r filterResult) {
	head := fmt.Sprintf("ctbench: [filter %d/%d] %s run %d %s:", k, total, r.Load, r.Run, r.Monitor)
	b.progressLine(head, r.Err, r.Drained, func() string {
		return fmt.Sprintf("generated %s at %s/s (matching %s), expected records %s, written %s, kernel drops %s, %.2f µs CPU/event of the load, %.1f MiB, others %.1f %%",
			formatCount(int64(r.Generated.Events())), kiloLabel(r.Achieved()), formatCount(int64(r.Matching.Events())),
			formatCount(int64(r.Want.Events())), formatCount(int64(r.Counts.Events())), formatCount(int64(r.KernelDrops)),
			r.CPUPerEvent(), float64(r.PeakRSS)/(1<<20), r.OtherCPU*100)
	})
}

// measureFilter measures one filter monitor on one full-speed run of the
// load, as measureInto does the matrix's.
func (b *bench) measureFilter(ctx context.Context, ns *namespace, res *filterResult) error {
	if err := b.ensureEmpty(ctx, ns); err != nil {
		return err
	}
	dir, busy, err := b.runDir(ctx, res.Monitor)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res.Busy = busy
	m, err := b.startFilterMonitor(ns, res.Load, res.Monitor, dir)
	if err != nil {
		return err
	}
	defer m.kill()
	if _, err := m.waitJoined(ctx, ns, 10*time.Second); err != nil {
		return err
	}
	if m.format == formatCtwatch {
		if err := m.waitOutput(ctx, `"event":"dump"`, 30*time.Second); err != nil {
			return err
		}
	}

	sp, err := b.measureSpan(ctx, ns, m, func() (genResult, int64, error) {
		return b.generateFilter(ctx, ns, res.Load)
	})
	gen := sp.gen
	res.Generated, res.Matching, res.GenSeconds, res.GenCPUNanos = gen.Generated, gen.Matching, gen.Seconds, sp.genCPU
	if err != nil {
		return err
	}
	res.PeakRSS = sp.peakRSS
	res.Drained, res.Groups, res.KernelDrops = sp.drained, sp.sock.Groups, sp.sock.Drops
	res.CPUNanos = sp.after.cpuNanos - sp.before.cpuNanos
	res.Subscribed = gen.Generated.subscribed(sp.sock.Groups).Events()
	res.Want = gen.Matching.subscribed(sp.sock.Groups)
	if res.Monitor == filterMonAll {
		res.Want = gen.Generated.subscribed(sp.sock.Groups)
	}
	res.OtherCPU = sp.otherCPU

	return m.stopAndRead(func(f *os.File) error {
		var err error
		res.Counts, err = countRecords(m.format, f)
		return err
	})
}

// startFilterMonitor starts filter monitor mon with load's filter on the
// monitor CPU, watching ns, writing into dir.
func (b *bench) startFilterMonitor(ns *namespace, load, mon, dir string) (*monitorProc, error) {
	pin := []string{"taskset", "-c", strconv.Itoa(b.cfg.MonCPU)}
	if mon == filterMonConntrack {
		m := newMonitorProc(mon, dir, formatConntrack)
		args := append(append(pin, "conntrack", "-E"), conntrackFilterArgs(load)...)
		return m, m.launch(ns.command(args...), true)
	}
	m := newMonitorProc(mon, dir, formatCtwatch)
	args := append(pin, b.ctwatch, "watch", "--netns", ns.Name, "--output", m.out)
	args = append(args, b.cfg.CtwatchFlags...)
	switch mon {
	case filterMonAll:
	case filterMonKernel:
		args = append(args, ctwatchFilterArgs(load)...)
		if b.rep.Filter.KernelFlag {
			args = append(args, "--kernel-filter")
		}
	case filterMonUser:
		args = append(append(args, ctwatchFilterArgs(load)...), "--kernel-filter=false")
	default:
		return nil, fmt.Errorf("unknown filter monitor %q", mon)
	}
	return m, m.launch(exec.Command(args[0], args[1:]...), false)
}
