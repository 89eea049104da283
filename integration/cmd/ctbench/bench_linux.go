//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rmemDefault is the host-wide sysctl conntrack-8m needs: its socket's
// buffer is set at creation from it.
const rmemDefault = "/proc/sys/net/core/rmem_default"

// bench is one benchmark run.
type bench struct {
	cfg    benchConfig
	stderr io.Writer
	// self is this binary, re-executed as the generator and the floor.
	self string
	// ctwatch is the absolute path of the binary measured.
	ctwatch      string
	ulogdPlugins string
	dir          string // temporary files, removed at the end
	rep          report
	// rmemSaved holds the host's rmem_default while it is raised; ""
	// when it is not.
	rmemSaved string
	// quietWaited is the total time spent waiting for a quiet machine.
	quietWaited time.Duration
}

// runBench runs the benchmark, prints the tables on stdout and writes the
// document. Whatever happens, it leaves no namespace, process or changed
// sysctl behind.
func runBench(ctx context.Context, cfg benchConfig, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("ctbench needs root: it creates network namespaces and reads other processes' counters")
	}
	b := &bench{cfg: cfg, stderr: stderr, rep: report{Config: cfg, Skipped: map[string]string{}, Started: time.Now()}}
	if cfg.GoBench != "" {
		gb, err := readGoBench(cfg.GoBench)
		if err != nil {
			return err
		}
		b.rep.GoBench = gb
	}
	defer b.restoreRmem()
	if err := b.prepare(); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)

	var runErr error
	if cfg.has("matrix") {
		runErr = b.runAll(ctx)
	}
	if runErr == nil && cfg.has("netns") {
		runErr = b.runNetNS(ctx)
	}
	if runErr == nil && cfg.has("bigtable") {
		runErr = b.runBigTable(ctx)
	}
	if runErr == nil && cfg.has("lowrate") {
		runErr = b.runLowRate(ctx)
	}
	if runErr == nil && cfg.has("filter") {
		runErr = b.runFilter(ctx)
	}
	b.rep.Finished = time.Now()
	if len(b.rep.Results) == 0 && len(b.rep.Calibrations) == 0 && len(b.rep.NetNS) == 0 && b.rep.BigTable == nil && len(b.rep.LowRate) == 0 && b.rep.Filter == nil {
		return runErr
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "ctbench: stopped early (%v); results so far:\n", runErr)
	}
	writeStdout(stdout, &b.rep)
	if cfg.JSON != "" {
		if err := writeReport(cfg.JSON, &b.rep); err != nil {
			return errors.Join(runErr, err)
		}
	}
	if cfg.Write != "" && runErr == nil {
		if err := writeDocumentFile(cfg.Write, &b.rep); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "ctbench: wrote %s\n", cfg.Write)
	}
	return runErr
}

// prepare checks the tools, pins the harness and gathers the machine's
// description.
func (b *bench) prepare() error {
	var err error
	if b.self, err = os.Executable(); err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	for _, tool := range []string{"ip", "nft", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("need %s (make deps installs iproute2 and nftables; taskset is util-linux's): %w", tool, err)
		}
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("read CPU affinity: %w", err)
	}
	if !set.IsSet(b.cfg.GenCPU) || !set.IsSet(b.cfg.MonCPU) {
		return fmt.Errorf("CPUs %d (generator) and %d (monitors) must both be usable; -gen-cpu and -mon-cpu choose them", b.cfg.GenCPU, b.cfg.MonCPU)
	}
	if b.cfg.GenCPU == b.cfg.MonCPU {
		fmt.Fprintln(b.stderr, "ctbench: warning: generator and monitors share a CPU; the numbers measure contention too")
	}
	if err := pinProcess(b.cfg.GenCPU); err != nil {
		return err
	}
	for _, m := range b.cfg.Monitors {
		if !b.cfg.has("matrix") {
			break
		}
		if reason := b.checkMonitor(m); reason != "" {
			b.rep.Skipped[m] = reason
			fmt.Fprintf(b.stderr, "ctbench: skipping %s: %s\n", m, reason)
		}
	}
	if b.dir, err = os.MkdirTemp("", "ctbench-"); err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	b.rep.Machine = b.machine()
	return nil
}

// checkMonitor returns why monitor m cannot run, or "".
func (b *bench) checkMonitor(m string) string {
	switch m {
	case "ctwatch":
		abs, err := filepath.Abs(b.cfg.Ctwatch)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return fmt.Sprintf("no ctwatch binary at %s (make build): %v", b.cfg.Ctwatch, err)
		}
		b.ctwatch = abs
	case "conntrack", "conntrack-8m":
		if _, err := exec.LookPath("conntrack"); err != nil {
			return "conntrack-tools not installed (make deps)"
		}
	case "ulogd":
		_, lookErr := exec.LookPath("ulogd")
		dir, err := findUlogdPlugins()
		if lookErr != nil || err != nil {
			if ierr := installUlogd(b.stderr); ierr != nil {
				return "ulogd2 could not be installed: " + ierr.Error()
			}
			if _, lookErr = exec.LookPath("ulogd"); lookErr != nil {
				return "ulogd2 installed but no ulogd binary in PATH"
			}
			if dir, err = findUlogdPlugins(); err != nil {
				return err.Error()
			}
		}
		b.ulogdPlugins = dir
	}
	return ""
}

// installUlogd installs ulogd2 and its JSON plugin with the project's
// install script, found above the working directory.
func installUlogd(stderr io.Writer) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		script := filepath.Join(dir, "scripts", "install-deps.sh")
		if _, err := os.Stat(script); err == nil {
			fmt.Fprintln(stderr, "ctbench: installing ulogd2 and ulogd2-json with", script)
			cmd := exec.Command(script, "ulogd2", "ulogd2-json")
			cmd.Stdout, cmd.Stderr = stderr, stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", script, err)
			}
			return nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return errors.New("scripts/install-deps.sh not found above the working directory")
		}
		dir = parent
	}
}

// pinProcess pins every thread of the harness to cpu. Threads the runtime
// starts later are cloned from pinned ones and inherit the mask; a second
// pass catches any started during the first.
func pinProcess(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	for range 2 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("list own threads: %w", err)
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pin thread %d to CPU %d: %w", tid, cpu, err)
			}
		}
	}
	return nil
}

// machine describes the machine and the software measured.
func (b *bench) machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(l, ":")
			switch k = strings.TrimSpace(k); {
			case !ok:
			case k == "model name" && m.CPUModel == "":
				m.CPUModel = strings.TrimSpace(v)
			case k == "flags":
				m.Virtual = m.Virtual || slices.Contains(strings.Fields(v), "hypervisor")
			}
		}
	}
	// The count of online CPUs, not of those this process may use: the
	// harness pins itself.
	if data, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if n := countCPUList(strings.TrimSpace(string(data))); n > 0 {
			m.CPUs = n
		}
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemBytes = int64(si.Totalram) * int64(si.Unit)
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		m.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	m.Conntrack = "not installed"
	if _, err := exec.LookPath("conntrack"); err == nil {
		m.Conntrack = commandVersion("conntrack", "--version")
	}
	m.Ulogd = "not installed"
	if _, err := exec.LookPath("ulogd"); err == nil {
		m.Ulogd = commandVersion("ulogd", "-V")
	}
	m.Ctwatch = "not measured"
	if b.ctwatch != "" {
		m.Ctwatch = commandVersion(b.ctwatch, "version")
	}
	m.Commit = commandVersion("git", "describe", "--always", "--dirty")
	if data, err := os.ReadFile(rmemDefault); err == nil {
		m.RmemDefault, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	return m
}

// countCPUList counts the CPUs of a list such as "0-3,6".
func countCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil || z < a {
				return 0
			}
		}
		n += z - a + 1
	}
	return n
}

// runAll runs the matrix: per load a fresh namespace, its calibration,
// then every rate, run and monitor.
func (b *bench) runAll(ctx context.Context) error {
	var active []string
	for _, m := range b.cfg.Monitors {
		if b.rep.Skipped[m] == "" {
			active = append(active, m)
		}
	}
	total := len(b.cfg.Loads) * len(b.cfg.Rates) * b.cfg.Runs * len(active)
	n := 0
	for _, load := range b.cfg.Loads {
		err := b.inNewNamespace(func(ns *namespace) error {
			if !b.cfg.NoCalibrate {
				c := b.calibrate(ctx, ns, load)
				b.rep.Calibrations = append(b.rep.Calibrations, c)
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			for _, rate := range b.cfg.Rates {
				for run := 1; run <= b.cfg.Runs; run++ {
					for _, mon := range active {
						n++
						res, err := b.measureRetrying(ctx, ns, load, rate, mon, run)
						if err != nil {
							return err
						}
						b.rep.Results = append(b.rep.Results, res)
						b.progress(n, total, res)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// inNewNamespace calls f with a namespace of its own, deleted after it.
func (b *bench) inNewNamespace(f func(ns *namespace) error) error {
	ns, err := newNamespace()
	if err != nil {
		return err
	}
	defer func() {
		if err := ns.close(); err != nil {
			fmt.Fprintln(b.stderr, "ctbench:", err)
		}
	}()
	return f(ns)
}

// measureRetrying measures one monitor on one run of a load, through
// retryInterfered.
func (b *bench) measureRetrying(ctx context.Context, ns *namespace, load string, rate float64, mon string, run int) (runResult, error) {
	var res runResult
	err := b.retryInterfered(ctx, fmt.Sprintf("%s %s run %d %s", load, rateLabel(rate), run, mon), func(attempt int) (bool, float64) {
		res = b.measure(ctx, ns, load, rate, mon, run)
		res.Attempts = attempt
		return res.Err != "", res.OtherCPU
	})
	return res, err
}

// retryInterfered calls measure, and calls it again (up to cfg.Retries
// times) when other processes took more than cfg.MaxInterference of the
// CPUs during the measurement: a burst of someone else's work must not
// decide a median of three. The last attempt is kept, with its
// interference shown. measure makes attempt number attempt, from 1, and
// says whether it failed and the others' share of the CPUs (0 to 1); what
// names the measurement on stderr.
func (b *bench) retryInterfered(ctx context.Context, what string, measure func(attempt int) (failed bool, others float64)) error {
	for attempt := 1; ; attempt++ {
		failed, others := measure(attempt)
		if err := ctx.Err(); err != nil {
			return err
		}
		if failed || others*100 <= b.cfg.MaxInterference || attempt > b.cfg.Retries {
			return nil
		}
		fmt.Fprintf(b.stderr, "ctbench: %s: others took %.0f %% of the CPUs; measuring again\n", what, others*100)
	}
}

// progress reports a finished measurement on stderr.
func (b *bench) progress(n, total int, r runResult) {
	head := fmt.Sprintf("ctbench: [%d/%d] %s %s run %d %s:", n, total, r.Load, rateLabel(r.Rate), r.Run, r.Monitor)
	b.progressLine(head, r.Err, r.Drained, func() string {
		return fmt.Sprintf("generated %s at %s/s, expected %s, received %s, kernel drops %s, %.2f µs CPU/event, %.1f MiB, others %.1f %%",
			formatCount(int64(r.Generated.Events())), kiloLabel(r.Achieved()), formatCount(int64(r.Expected)),
			formatCount(int64(r.Received())), formatCount(int64(r.KernelDrops)), r.CPUPerEvent(),
			float64(r.PeakRSS)/(1<<20), r.OtherCPU*100)
	})
}

// calibrate counts one full-speed run of load with the raw listener and a
// buffer that cannot overflow.
func (b *bench) calibrate(ctx context.Context, ns *namespace, load string) calibration {
	r := b.measureWith(ctx, ns, load, 0, "floor", 0, b.cfg.CalibrationBuffer)
	c := calibration{Load: load, Generated: r.Generated, Received: r.Counts, Drops: r.KernelDrops, GenSeconds: r.GenSeconds, Err: r.Err}
	fmt.Fprintf(b.stderr, "ctbench: calibration of %s: generated %s, raw listener saw %s, drops %d: %s\n",
		load, triple(c.Generated), triple(c.Received), c.Drops, calibrationStatus(c.Err, c.OK()))
	return c
}

// progressLine reports a finished measurement on stderr: head, then its
// error or what it measured, marked when the monitor had not drained.
func (b *bench) progressLine(head, errText string, drained bool, measured func() string) {
	if errText != "" {
		fmt.Fprintf(b.stderr, "%s failed: %s\n", head, errText)
		return
	}
	undrained := ""
	if !drained {
		undrained = " (not drained)"
	}
	fmt.Fprintf(b.stderr, "%s %s%s\n", head, measured(), undrained)
}

// calibrationStatus is a calibration's verdict on stderr; errText is its
// error, "" when it ran, and ok whether its counts agree.
func calibrationStatus(errText string, ok bool) string {
	switch {
	case ok:
		return "exact"
	case errText != "":
		return "FAILED: " + errText
	}
	return "MISMATCH"
}

// measure measures one monitor on one run of a load.
func (b *bench) measure(ctx context.Context, ns *namespace, load string, rate float64, mon string, run int) runResult {
	return b.measureWith(ctx, ns, load, rate, mon, run, 0)
}

// measureWith is measure with the floor's buffer overridden when buffer is
// not 0.
func (b *bench) measureWith(ctx context.Context, ns *namespace, load string, rate float64, mon string, run int, buffer int64) runResult {
	res := runResult{Load: load, Rate: rate, Monitor: mon, Run: run}
	err := b.measureInto(ctx, ns, &res, buffer)
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func (b *bench) measureInto(ctx context.Context, ns *namespace, res *runResult, buffer int64) error {
	if err := b.ensureEmpty(ctx, ns); err != nil {
		return err
	}
	dir, busy, err := b.runDir(ctx, res.Monitor)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res.Busy = busy

	if res.Monitor == "conntrack-8m" {
		if err := b.raiseRmem(2 * b.cfg.ConntrackBuffer); err != nil {
			return err
		}
	}
	m, err := b.startMonitor(ns, res.Monitor, dir, buffer)
	if err != nil {
		b.restoreRmem()
		return err
	}
	defer m.kill()
	_, err = m.waitJoined(ctx, ns, 10*time.Second)
	// The socket exists and has its buffer: the host's default goes back
	// at once.
	b.restoreRmem()
	if err != nil {
		return err
	}
	if res.Monitor == "ctwatch" {
		if err := m.waitOutput(ctx, `"event":"dump"`, 30*time.Second); err != nil {
			return err
		}
	}

	sp, err := b.measureSpan(ctx, ns, m, func() (genResult, int64, error) {
		return b.generate(ctx, ns, res.Load, res.Rate)
	})
	res.Generated, res.GenSeconds, res.GenCPUNanos = sp.gen.Generated, sp.gen.Seconds, sp.genCPU
	if err != nil {
		return err
	}
	before, after := sp.before, sp.after
	res.PeakRSS = sp.peakRSS
	res.Drained = sp.drained
	res.Groups = sp.sock.Groups
	res.KernelDrops = sp.sock.Drops
	res.CPUNanos = after.cpuNanos - before.cpuNanos
	res.UserTicks = after.stat.UserTicks - before.stat.UserTicks
	res.SysTicks = after.stat.SysTicks - before.stat.SysTicks
	res.Reads = after.io.SyscR - before.io.SyscR
	res.Writes = after.io.SyscW - before.io.SyscW
	res.WriteBytes = after.io.WChar - before.io.WChar
	res.Expected = res.Generated.subscribed(sp.sock.Groups).Events()
	res.OtherCPU = sp.otherCPU

	return m.stopAndRead(func(f *os.File) error {
		var err error
		if res.Counts, err = countRecords(m.format, f); err != nil || m.format != formatCtwatch {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		res.Buffer, err = ctwatchBuffer(f)
		return err
	})
}

// runDir makes the directory of one run of monitor mon, for the caller to
// remove, and then waits for a quiet machine: busy says the quiet gate
// timed out.
func (b *bench) runDir(ctx context.Context, mon string) (dir string, busy bool, err error) {
	if dir, err = os.MkdirTemp(b.dir, mon+"-"); err != nil {
		return "", false, fmt.Errorf("run directory: %w", err)
	}
	if busy, err = b.waitQuiet(ctx); err != nil {
		os.RemoveAll(dir)
		return "", false, err
	}
	return dir, busy, nil
}

// loadSpan is what a monitor's counters and the benchmark CPUs' say over
// one generated load: from just before the generator starts until the
// monitor has drained it.
type loadSpan struct {
	gen           genResult
	genCPU        int64 // the generator's CPU time, ns
	before, after usage
	sock          netlinkSocket // the monitor's event socket, last read
	drained       bool
	peakRSS       uint64
	otherCPU      float64 // others' share of the benchmark CPUs, 0 to 1
}

// measureSpan runs generate while monitor m listens in ns and waits until
// m has drained the load. The span's gen and genCPU are set whenever the
// generator ran, also when an error follows: the run's record keeps what
// was generated.
func (b *bench) measureSpan(ctx context.Context, ns *namespace, m *monitorProc, generate func() (genResult, int64, error)) (loadSpan, error) {
	var sp loadSpan
	before, err := readUsage(m.pid)
	if err != nil {
		return sp, err
	}
	cpusBefore, selfBefore, err := b.readCPUs()
	if err != nil {
		return sp, err
	}
	gen, genCPU, err := generate()
	if err != nil {
		return sp, err
	}
	sp.gen, sp.genCPU = gen, genCPU
	if gen.Errors > 0 {
		return sp, fmt.Errorf("generator: %d operation(s) failed, the first: %s", gen.Errors, gen.FirstError)
	}
	if sp.sock, sp.drained, err = m.waitDrained(ctx, ns, b.cfg.DrainTimeout); err != nil {
		return sp, err
	}
	after, err := readUsage(m.pid)
	if err != nil {
		return sp, err
	}
	cpusAfter, selfAfter, err := b.readCPUs()
	if err != nil {
		return sp, err
	}
	if sp.peakRSS, err = readPeakRSS(m.pid); err != nil {
		return sp, err
	}
	sp.before, sp.after = before, after
	ours := after.cpuNanos - before.cpuNanos + genCPU + (selfAfter - selfBefore)
	sp.otherCPU = otherShare(cpusAfter.sub(cpusBefore), ours)
	return sp, nil
}

// ensureEmpty makes sure the namespace's table is empty before a run, so
// that no entry of an earlier one can end during it. It flushes the table
// if needed, while no monitor listens.
func (b *bench) ensureEmpty(ctx context.Context, ns *namespace) error {
	n, err := ns.conntrackCount()
	if err != nil || n == 0 {
		return err
	}
	if err := runCmd(ns.command("conntrack", "-F"), nil); err != nil {
		return fmt.Errorf("flush %d leftover entries: %w", n, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, err = ns.conntrackCount(); err != nil || n == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d entries still in the table after a flush", n)
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return err
		}
	}
}

// generate runs "ctbench gen" in the namespace on the generator's CPU. It
// returns the generator's result and CPU time.
func (b *bench) generate(ctx context.Context, ns *namespace, load string, rate float64) (genResult, int64, error) {
	limit := time.Minute
	if rate > 0 {
		limit += time.Duration(3 * float64(b.cfg.Events) / rate * float64(time.Second))
	}
	cmd := ns.command("taskset", "-c", strconv.Itoa(b.cfg.GenCPU), b.self, "gen",
		"-load", load, "-events", strconv.Itoa(b.cfg.Events), "-rate", strconv.FormatFloat(rate, 'f', -1, 64))
	return runGenerator(ctx, cmd, limit)
}

// runGenerator runs a "ctbench gen" command within limit and returns its
// result and CPU time.
func runGenerator(ctx context.Context, cmd *exec.Cmd, limit time.Duration) (genResult, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return genResult{}, 0, fmt.Errorf("start generator: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return genResult{}, 0, fmt.Errorf("generator: %w", ctx.Err())
	}
	if err != nil {
		return genResult{}, 0, fmt.Errorf("generator: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res genResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return genResult{}, 0, fmt.Errorf("generator's result %q: %w", stdout.String(), err)
	}
	var cpu int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = ru.Utime.Nano() + ru.Stime.Nano()
	}
	return res, cpu, nil
}

// readCPUs reads the time of the benchmark's CPUs (/proc/stat) and the
// harness's own CPU time in nanoseconds.
func (b *bench) readCPUs() (cpuTimes, int64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	_, per, err := parseCPUStat(data)
	if err != nil {
		return cpuTimes{}, 0, err
	}
	t := per[b.cfg.GenCPU]
	if b.cfg.MonCPU != b.cfg.GenCPU {
		m := per[b.cfg.MonCPU]
		t.Busy += m.Busy
		t.Total += m.Total
	}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}, 0, fmt.Errorf("own CPU time: %w", err)
	}
	return t, ru.Utime.Nano() + ru.Stime.Nano(), nil
}

// waitQuiet waits until the machine's CPUs are less busy than cfg.Quiet
// percent over a short sample, so that a measurement does not start under
// someone else's load. It gives up after cfg.QuietTimeout, or once the
// waits have used up cfg.QuietBudget, and returns true: the run is then
// marked as measured on a busy machine.
func (b *bench) waitQuiet(ctx context.Context) (busy bool, err error) {
	if b.cfg.Quiet <= 0 {
		return false, nil
	}
	start := time.Now()
	defer func() { b.quietWaited += time.Since(start) }()
	var told time.Time
	for {
		pct, err := sampleBusy(ctx, 200*time.Millisecond)
		if err != nil {
			return false, err
		}
		if pct < b.cfg.Quiet {
			return false, nil
		}
		waited := time.Since(start)
		if waited >= b.cfg.QuietTimeout || b.quietWaited+waited >= b.cfg.QuietBudget {
			fmt.Fprintf(b.stderr, "ctbench: machine still %.0f %% busy; measuring anyway (marked busy)\n", pct)
			return true, nil
		}
		if time.Since(told) >= 10*time.Second {
			fmt.Fprintf(b.stderr, "ctbench: waiting for a quiet machine: its CPUs are %.0f %% busy (-quiet %g)\n", pct, b.cfg.Quiet)
			told = time.Now()
		}
		if err := sleepCtx(ctx, 700*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// sampleBusy measures how busy all the machine's CPUs are over d, in
// percent.
func sampleBusy(ctx context.Context, d time.Duration) (float64, error) {
	read := func() (cpuTimes, error) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			return cpuTimes{}, fmt.Errorf("read /proc/stat: %w", err)
		}
		all, _, err := parseCPUStat(data)
		return all, err
	}
	a, err := read()
	if err != nil {
		return 0, err
	}
	if err := sleepCtx(ctx, d); err != nil {
		return 0, err
	}
	z, err := read()
	if err != nil {
		return 0, err
	}
	diff := z.sub(a)
	return ratio(float64(diff.Busy)*100, float64(diff.Total)), nil
}

// raiseRmem sets the host's net.core.rmem_default, remembering the value to
// restore. It is global, not per namespace: it is raised only from just
// before conntrack starts until its socket exists.
func (b *bench) raiseRmem(size int64) error {
	if b.rmemSaved == "" {
		old, err := os.ReadFile(rmemDefault)
		if err != nil {
			return fmt.Errorf("read rmem_default: %w", err)
		}
		b.rmemSaved = strings.TrimSpace(string(old))
	}
	if err := os.WriteFile(rmemDefault, []byte(strconv.FormatInt(size, 10)), 0o644); err != nil {
		b.restoreRmem()
		return fmt.Errorf("raise rmem_default: %w", err)
	}
	return nil
}

// restoreRmem puts the host's rmem_default back if it was raised; it is
// called right after conntrack's socket exists and again, deferred, on
// every way out of the benchmark.
func (b *bench) restoreRmem() {
	if b.rmemSaved == "" {
		return
	}
	if err := os.WriteFile(rmemDefault, []byte(b.rmemSaved), 0o644); err != nil {
		fmt.Fprintf(b.stderr, "ctbench: RESTORE FAILED: set %s back to %s yourself: %v\n", rmemDefault, b.rmemSaved, err)
		return
	}
	b.rmemSaved = ""
}
