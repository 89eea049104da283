//go:build integration

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nsSet is the netns part's namespaces, and the harness's own, in which
// ctwatch --all-netns has its socket.
type nsSet struct {
	list []*namespace
	// inodes maps each namespace's name to its inode.
	inodes map[string]uint64
	// host has only the netlink table of the harness's namespace.
	host *namespace
}

// createNSSet creates n namespaces, each with its loopback up and tracking
// on. On error, nothing is left behind.
func createNSSet(ctx context.Context, n int) (_ *nsSet, err error) {
	s := &nsSet{inodes: make(map[string]uint64, n)}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
		}
	}()
	f, err := os.Open("/proc/self/net/netlink")
	if err != nil {
		return nil, fmt.Errorf("open the host's /proc/net/netlink: %w", err)
	}
	s.host = &namespace{netlinkTable: f}
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ns, err := newNamespace()
		if err != nil {
			return nil, err
		}
		s.list = append(s.list, ns)
		s.inodes[ns.Name] = ns.h.ID()
	}
	return s, nil
}

// close deletes every namespace of the set, going on after an error.
func (s *nsSet) close() error {
	var errs []error
	for _, ns := range s.list {
		errs = append(errs, ns.close())
	}
	s.list = nil
	if s.host != nil {
		s.host.netlinkTable.Close()
	}
	return errors.Join(errs...)
}

// names returns the names of the first n namespaces and their inodes.
func (s *nsSet) names(n int) ([]string, map[string]uint64) {
	l := make([]string, 0, n)
	m := make(map[string]uint64, n)
	for _, ns := range s.list[:n] {
		l = append(l, ns.Name)
		m[ns.Name] = s.inodes[ns.Name]
	}
	return l, m
}

// runNetNS runs the netns part: in each run, every netns monitor in turn on
// the same namespaces.
func (b *bench) runNetNS(ctx context.Context) error {
	for _, m := range []string{"ctwatch", "conntrack"} {
		if reason := b.checkMonitor(m); reason != "" {
			return fmt.Errorf("netns part: %s", reason)
		}
	}
	n := b.cfg.NetNSCount
	fmt.Fprintf(b.stderr, "ctbench: netns part: creating %d namespaces\n", n)
	set, err := createNSSet(ctx, n)
	if err != nil {
		return fmt.Errorf("netns part: %w", err)
	}
	defer func() {
		if err := set.close(); err != nil {
			fmt.Fprintln(b.stderr, "ctbench:", err)
		}
	}()
	total, k := b.cfg.Runs*len(netnsMonitors), 0
	for run := 1; run <= b.cfg.Runs; run++ {
		for _, mon := range netnsMonitors {
			k++
			res, err := b.measureNSRetrying(ctx, set, mon, run)
			if err != nil {
				return err
			}
			b.rep.NetNS = append(b.rep.NetNS, res)
			b.nsProgress(k, total, res)
		}
	}
	return nil
}

// measureNSRetrying measures one monitor on one run of the netns part,
// through retryInterfered.
func (b *bench) measureNSRetrying(ctx context.Context, set *nsSet, mon string, run int) (nsResult, error) {
	var res nsResult
	err := b.retryInterfered(ctx, fmt.Sprintf("netns run %d %s", run, mon), func(attempt int) (bool, float64) {
		res = nsResult{Monitor: mon, Run: run, Attempts: attempt}
		if err := b.measureNS(ctx, set, &res); err != nil {
			res.Err = err.Error()
		}
		return res.Err != "", res.OtherCPU
	})
	return res, err
}

// nsProgress reports a finished netns measurement on stderr.
func (b *bench) nsProgress(k, total int, r nsResult) {
	head := fmt.Sprintf("ctbench: [netns %d/%d] run %d %s:", k, total, r.Run, r.Monitor)
	b.progressLine(head, r.Err, r.Drained, func() string {
		return fmt.Sprintf("%d namespace(s), %d process(es): generated %s at %s/s, expected %s, received %s (%d namespace(s) exact, %d unnamed), kernel drops %s, %.2f µs CPU/event, %.1f MiB, others %.1f %%",
			r.Namespaces, r.Processes, formatCount(int64(r.Generated.Events())), kiloLabel(r.Achieved()),
			formatCount(int64(r.Expected)), formatCount(int64(r.Received())), r.ExactNS, r.Unnamed,
			formatCount(int64(r.KernelDrops)), r.CPUPerEvent(), float64(r.PeakRSS)/(1<<20), r.OtherCPU*100)
	})
}

// measureNS measures one netns monitor on one run of the load.
func (b *bench) measureNS(ctx context.Context, set *nsSet, res *nsResult) error {
	spread := len(set.list)
	if res.Monitor == nsMonSingle {
		spread = 1
	}
	names, inodes := set.names(spread)
	res.Namespaces = spread
	for _, ns := range set.list {
		if err := b.ensureEmpty(ctx, ns); err != nil {
			return fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
	}
	dir, busy, err := b.runDir(ctx, res.Monitor)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res.Busy = busy

	// procs are the monitor's processes, socks the namespace in whose
	// netlink table each one's event socket is, covers how many of the
	// load's namespaces each sees.
	var procs []*monitorProc
	var socks []*namespace
	var covers []int
	defer func() {
		for _, m := range procs {
			m.kill()
		}
	}()
	switch res.Monitor {
	case nsMonAll:
		m, err := b.startAllNetNS(dir)
		if err != nil {
			return err
		}
		procs, socks, covers = append(procs, m), append(socks, set.host), append(covers, spread)
		if _, err := m.waitJoined(ctx, set.host, 10*time.Second); err != nil {
			return err
		}
		if err := waitNetNSAdded(ctx, m, inodes, 60*time.Second); err != nil {
			return err
		}
	case nsMonSingle:
		ns := set.list[0]
		m, err := b.startMonitor(ns, "ctwatch", dir, 0)
		if err != nil {
			return err
		}
		procs, socks, covers = append(procs, m), append(socks, ns), append(covers, 1)
		if _, err := m.waitJoined(ctx, ns, 10*time.Second); err != nil {
			return err
		}
		if err := m.waitOutput(ctx, `"event":"dump"`, 30*time.Second); err != nil {
			return err
		}
	case nsMonEach:
		// As for conntrack-8m: the sockets get their buffer from the
		// host's default, raised only while they are created.
		if err := b.raiseRmem(2 * b.cfg.ConntrackBuffer); err != nil {
			return err
		}
		err := func() error {
			defer b.restoreRmem()
			for i, ns := range set.list[:spread] {
				sub := filepath.Join(dir, strconv.Itoa(i))
				if err := os.Mkdir(sub, 0o755); err != nil {
					return fmt.Errorf("run directory: %w", err)
				}
				m, err := b.startMonitor(ns, "conntrack", sub, 0)
				if err != nil {
					return err
				}
				procs, socks, covers = append(procs, m), append(socks, ns), append(covers, 1)
			}
			for i, m := range procs {
				if _, err := m.waitJoined(ctx, socks[i], 10*time.Second); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown netns monitor %q", res.Monitor)
	}
	res.Processes = len(procs)

	before := make([]usage, len(procs))
	for i, m := range procs {
		if before[i], err = readUsage(m.pid); err != nil {
			return err
		}
	}
	cpusBefore, selfBefore, err := b.readCPUs()
	if err != nil {
		return err
	}
	limit := time.Minute + time.Duration(3*float64(b.cfg.NetNSEvents)/b.cfg.NetNSRate*float64(time.Second))
	cmd := exec.Command("taskset", "-c", strconv.Itoa(b.cfg.GenCPU), b.self, "gen", "-load", "ctnetlink",
		"-events", strconv.Itoa(b.cfg.NetNSEvents), "-rate", strconv.FormatFloat(b.cfg.NetNSRate, 'f', -1, 64),
		"-netns", strings.Join(names, ","))
	gen, genCPU, err := runGenerator(ctx, cmd, limit)
	if err != nil {
		return err
	}
	res.Generated, res.GenSeconds, res.GenCPUNanos = gen.Generated, gen.Seconds, genCPU
	if gen.Errors > 0 {
		return fmt.Errorf("generator: %d operation(s) failed, the first: %s", gen.Errors, gen.FirstError)
	}
	last, drained, err := waitDrainedAll(ctx, procs, socks, b.cfg.DrainTimeout)
	if err != nil {
		return err
	}
	res.Drained = drained
	var ours int64
	share := nsShare(gen.Generated, spread)
	for i, m := range procs {
		after, err := readUsage(m.pid)
		if err != nil {
			return err
		}
		rss, err := readPeakRSS(m.pid)
		if err != nil {
			return err
		}
		res.CPUNanos += after.cpuNanos - before[i].cpuNanos
		res.PeakRSS += rss
		res.KernelDrops += last[i].Drops
		res.Expected += covers[i] * share.subscribed(last[i].Groups).Events()
	}
	cpusAfter, selfAfter, err := b.readCPUs()
	if err != nil {
		return err
	}
	ours = res.CPUNanos + res.GenCPUNanos + (selfAfter - selfBefore)
	res.OtherCPU = otherShare(cpusAfter.sub(cpusBefore), ours)

	var stopErrs []error
	for _, m := range procs {
		stopErrs = append(stopErrs, m.stop(10*time.Second))
	}
	if err := errors.Join(stopErrs...); err != nil {
		return err
	}
	return countNS(res, procs, last, names, inodes, share)
}

// countNS counts the netns monitor's records into res: per namespace, and
// summed.
func countNS(res *nsResult, procs []*monitorProc, socks []netlinkSocket, names []string, inodes map[string]uint64, share eventCounts) error {
	for i, m := range procs {
		f, err := os.Open(m.out)
		if err != nil {
			return fmt.Errorf("%s's output: %w", m.name, err)
		}
		want := share.subscribed(socks[i].Groups)
		tally := func(got eventCounts) {
			res.Counts = res.Counts.plus(got)
			if sameEvents(want, got) {
				res.ExactNS++
			}
		}
		switch res.Monitor {
		case nsMonAll:
			c, err := countNetNSRecords(f, inodes)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s's output: %w", m.name, err)
			}
			for _, n := range names {
				tally(c.PerNS[n])
			}
			res.Unnamed = c.Unnamed
		default:
			format := formatConntrack
			if res.Monitor == nsMonSingle {
				format = formatCtwatch
			}
			got, err := countRecords(format, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s's output: %w", m.name, err)
			}
			tally(got)
		}
	}
	return nil
}

// startAllNetNS starts ctwatch watch --all-netns (or, with
// -allnetns-standin, ctbench allns) in the harness's namespace, on the
// monitor CPU.
func (b *bench) startAllNetNS(dir string) (*monitorProc, error) {
	m := &monitorProc{
		name:    "ctwatch --all-netns",
		out:     filepath.Join(dir, "all-netns.out"),
		errPath: filepath.Join(dir, "all-netns.stderr"),
		format:  formatCtwatch,
		done:    make(chan struct{}),
	}
	args := append([]string{"-c", strconv.Itoa(b.cfg.MonCPU), b.ctwatch, "watch", "--all-netns", "--output", m.out}, b.cfg.CtwatchFlags...)
	if b.cfg.AllNetNSStandIn {
		m.name = "ctbench allns (stand-in)"
		args = []string{"-c", strconv.Itoa(b.cfg.MonCPU), b.self, "allns", "-out", m.out}
	}
	cmd := exec.Command("taskset", args...)
	errFile, err := os.Create(m.errPath)
	if err != nil {
		return nil, fmt.Errorf("monitor stderr: %w", err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", m.name, err)
	}
	m.cmd, m.pid = cmd, cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		close(m.done)
	}()
	return m, nil
}

// waitNetNSAdded waits until ctwatch --all-netns has written a netns_added
// record for every namespace of the load: until then, the events of one it
// has not given an id yet would not reach its socket.
func waitNetNSAdded(ctx context.Context, m *monitorProc, inodes map[string]uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(m.out)
		added := netnsAdded(data, inodes)
		if len(added) == len(inodes) {
			return nil
		}
		if m.exited() {
			return fmt.Errorf("%s exited at start: %s", m.name, m.stderrTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s reported %d of the %d namespaces watched (netns_added) within %v", m.name, len(added), len(inodes), timeout)
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return err
		}
	}
}

// waitDrainedAll is waitDrained for a monitor of several processes: every
// socket empty and the outputs' total size unchanged for drainQuiet. socks
// are the namespaces whose netlink tables hold the processes' sockets. It
// returns each socket's last reading and false if timeout came first.
func waitDrainedAll(ctx context.Context, procs []*monitorProc, socks []*namespace, timeout time.Duration) ([]netlinkSocket, bool, error) {
	deadline := time.Now().Add(timeout)
	last := make([]netlinkSocket, len(procs))
	lastSize := int64(-1)
	quietSince := time.Now()
	for {
		var size int64
		busy := false
		for i, m := range procs {
			if m.exited() {
				return last, false, fmt.Errorf("%s exited during the run: %s", m.name, m.stderrTail())
			}
			s, ok, err := m.eventSocket(socks[i])
			if err != nil {
				return last, false, err
			}
			if !ok {
				return last, false, fmt.Errorf("%s's event socket is gone", m.name)
			}
			last[i] = s
			busy = busy || s.Rmem != 0
			if fi, err := os.Stat(m.out); err == nil {
				size += fi.Size()
			}
		}
		now := time.Now()
		if busy || size != lastSize {
			quietSince, lastSize = now, size
		}
		if now.Sub(quietSince) >= drainQuiet {
			return last, true, nil
		}
		if now.After(deadline) {
			return last, false, nil
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return last, false, err
		}
	}
}
