//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// conntrackMax is the host's table bound, writable in the initial
// namespace only.
const conntrackMax = "/proc/sys/net/netfilter/nf_conntrack_max"

// bigTableRuns is the number of --snapshot and conntrack -L runs.
const bigTableRuns = 3

// runBigTable runs the bigtable part: fill a namespace, time the
// snapshots, then leave ctwatch idle beside it.
func (b *bench) runBigTable(ctx context.Context) error {
	cfg := b.cfg
	bt := &bigTableResult{Entries: cfg.BigTableEntries, Window: cfg.BigTableWindow}
	b.rep.BigTable = bt
	if reason := bigTableRoom(cfg.BigTableEntries); reason != "" {
		bt.Skipped = reason
		fmt.Fprintln(b.stderr, "ctbench: skipping the bigtable part:", reason)
		return nil
	}
	abs, err := filepath.Abs(cfg.Ctwatch)
	if err != nil {
		return err
	}
	restore, err := raiseConntrackMax(cfg.BigTableEntries + 65536)
	if err != nil {
		return err
	}
	defer restore()
	big, err := newNamespace()
	if err != nil {
		return err
	}
	defer big.close()
	empty, err := newNamespace()
	if err != nil {
		return err
	}
	defer empty.close()

	fmt.Fprintf(b.stderr, "ctbench: bigtable: creating %s entries\n", formatCount(int64(cfg.BigTableEntries)))
	if err := setEvents(big, 0); err != nil {
		return err
	}
	if err := fillTable(big, cfg.BigTableEntries); err != nil {
		return err
	}
	if n, err := big.conntrackCount(); err != nil || n < cfg.BigTableEntries {
		return fmt.Errorf("bigtable: %d entries in the table after creating %d (%v)", n, cfg.BigTableEntries, err)
	}
	if err := setEvents(big, 2); err != nil {
		return err
	}
	for run := 1; run <= bigTableRuns; run++ {
		s, err := b.snapshotRun(ctx, abs, big)
		if err != nil {
			return err
		}
		bt.Snapshots = append(bt.Snapshots, s)
		fmt.Fprintf(b.stderr, "ctbench: bigtable: snapshot %d: ctwatch %.2f s (%d lost), conntrack -L %.2f s\n", run, s.CtwatchSeconds, s.Lost, s.ConntrackSeconds)
	}
	return b.idleRuns(ctx, bt, abs, big, empty)
}

// bigTableRoom says why n entries do not fit this machine, or "".
func bigTableRoom(n int) string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "cannot read /proc/meminfo"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			// An entry is about 320 bytes in the kernel; ctwatch's tracker
			// about 180; a margin for the rest.
			if need := int64(n) * 2048; kb*1024 < need {
				return fmt.Sprintf("%s of memory available, %s wanted", mibLabel(kb*1024), mibLabel(need))
			}
			return ""
		}
	}
	return "no MemAvailable in /proc/meminfo"
}

// raiseConntrackMax raises the host's nf_conntrack_max to at least n and
// returns what restores it.
func raiseConntrackMax(n int) (restore func(), err error) {
	data, err := os.ReadFile(conntrackMax)
	if err != nil {
		return nil, fmt.Errorf("read nf_conntrack_max: %w", err)
	}
	old := strings.TrimSpace(string(data))
	if v, _ := strconv.Atoi(old); v >= n {
		return func() {}, nil
	}
	if err := os.WriteFile(conntrackMax, []byte(strconv.Itoa(n)), 0o644); err != nil {
		return nil, fmt.Errorf("raise nf_conntrack_max: %w", err)
	}
	return func() { _ = os.WriteFile(conntrackMax, []byte(old), 0o644) }, nil
}

// setEvents sets the namespace's nf_conntrack_events.
func setEvents(ns *namespace, v int) error {
	return runCmd(ns.command("sysctl", "-qw", "net.netfilter.nf_conntrack_events="+strconv.Itoa(v)), nil)
}

// fillTable creates entries 0 to n-1 (entryTuple) in ns over ctnetlink,
// maxBatch requests to a sendmsg.
func fillTable(ns *namespace, n int) error {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.h.FD()})
	if err != nil {
		return fmt.Errorf("dial ctnetlink: %w", err)
	}
	defer c.Close()
	if err := c.SetReadBuffer(4 << 20); err != nil {
		return err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	rbuf := make([]byte, 64<<10)
	send := func() error {
		var serr error
		if err := raw.Write(func(fd uintptr) bool {
			serr = unix.Sendto(int(fd), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
			return true
		}); err != nil || serr != nil {
			return fmt.Errorf("send ctnetlink requests: %w", errors.Join(err, serr))
		}
		buf = buf[:0]
		for {
			var m int
			var rerr error
			_ = raw.Read(func(fd uintptr) bool {
				m, _, rerr = unix.Recvfrom(int(fd), rbuf, unix.MSG_DONTWAIT)
				return true
			})
			if errors.Is(rerr, unix.EAGAIN) {
				return nil
			}
			if rerr != nil {
				return fmt.Errorf("read ctnetlink answers: %w", rerr)
			}
			if codes, ok := ackErrors(rbuf[:m]); !ok || len(codes) > 0 {
				return fmt.Errorf("create entries: refused (%v)", codes)
			}
		}
	}
	for i := range n {
		buf = appendCreate(buf, uint32(i+1), entryTuple(i))
		if (i+1)%maxBatch == 0 {
			if err := send(); err != nil {
				return err
			}
		}
	}
	return send()
}

// snapshotRun times one ctwatch --snapshot and one conntrack -L of ns.
func (b *bench) snapshotRun(ctx context.Context, ctwatch string, ns *namespace) (snapshotRun, error) {
	var s snapshotRun
	pin := []string{"taskset", "-c", strconv.Itoa(b.cfg.MonCPU)}
	cmd := exec.CommandContext(ctx, pin[0], append(pin[1:], ctwatch, "watch", "--netns", ns.Name, "--snapshot", "--heartbeat", "0")...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return s, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return s, fmt.Errorf("start ctwatch: %w", err)
	}
	br := bufio.NewReaderSize(out, 1<<20)
	done := false
	for !done {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return s, fmt.Errorf("ctwatch --snapshot ended before its dump record: %w: %s", err, stderr.String())
		}
		switch {
		case bytes.Contains(line, []byte(`"event":"snapshot"`)):
			s.Records++
		case bytes.Contains(line, []byte(`"event":"dump"`)):
			s.CtwatchSeconds = time.Since(start).Seconds()
			done = true
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	_, _ = io.Copy(io.Discard, br)
	_ = cmd.Wait()
	s.Lost = b.cfg.BigTableEntries - s.Records

	list := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name}, append(pin, "conntrack", "-L")...)...)
	lout, err := list.StdoutPipe()
	if err != nil {
		return s, err
	}
	list.Stderr = io.Discard
	start = time.Now()
	if err := list.Start(); err != nil {
		return s, fmt.Errorf("start conntrack -L: %w", err)
	}
	lr := bufio.NewReaderSize(lout, 1<<20)
	for {
		_, err := lr.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		s.Lines++
	}
	if err := list.Wait(); err != nil {
		return s, fmt.Errorf("conntrack -L: %w", err)
	}
	s.ConntrackSeconds = time.Since(start).Seconds()
	return s, nil
}

// idleSpec is one idle ctwatch to start.
type idleSpec struct {
	run    idleRun
	binary string
	ns     *namespace
}

// idleRuns starts ctwatch in the big and the empty namespace under
// nf_conntrack_events=1 and 2 (and the baseline binary likewise), waits
// for their dumps, and measures their CPU over the window.
func (b *bench) idleRuns(ctx context.Context, bt *bigTableResult, ctwatch string, big, empty *namespace) error {
	var specs []idleSpec
	bins := []struct{ label, path string }{{"", ctwatch}}
	if b.cfg.BigTableBaseline != "" {
		abs, err := filepath.Abs(b.cfg.BigTableBaseline)
		if err != nil {
			return err
		}
		bins = append(bins, struct{ label, path string }{"baseline", abs})
	}
	for _, ev := range []int{1, 2} {
		for _, bin := range bins {
			specs = append(specs,
				idleSpec{idleRun{Binary: bin.label, Table: "1M", Events: ev}, bin.path, big},
				idleSpec{idleRun{Binary: bin.label, Table: "empty", Events: ev}, bin.path, empty})
		}
	}
	var procs []*monitorProc
	defer func() {
		for _, m := range procs {
			m.kill()
		}
		_ = setEvents(big, 2)
		_ = setEvents(empty, 2)
	}()
	for i, sp := range specs {
		if err := setEvents(sp.ns, sp.run.Events); err != nil {
			return err
		}
		m := &monitorProc{name: "ctwatch", out: filepath.Join(b.dir, fmt.Sprintf("idle-%d.out", i)),
			errPath: filepath.Join(b.dir, fmt.Sprintf("idle-%d.stderr", i)), done: make(chan struct{}), format: formatCtwatch}
		errFile, err := os.Create(m.errPath)
		if err != nil {
			return err
		}
		cmd := exec.Command("taskset", "-c", strconv.Itoa(b.cfg.MonCPU), sp.binary, "watch", "--netns", sp.ns.Name,
			"--output", m.out, "--log-level", "debug", "--heartbeat", "0")
		cmd.Stderr = errFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		errFile.Close()
		if err != nil {
			return fmt.Errorf("start ctwatch: %w", err)
		}
		m.cmd, m.pid = cmd, cmd.Process.Pid
		go func() { _ = cmd.Wait(); close(m.done) }()
		procs = append(procs, m)
		// The sysctl is read at startup: the next spec may change it once
		// this one has dumped.
		if err := m.waitOutput(ctx, `"event":"dump"`, time.Minute); err != nil {
			return err
		}
	}
	fmt.Fprintf(b.stderr, "ctbench: bigtable: %d ctwatch idle for %s\n", len(procs), minutesLabel(b.cfg.BigTableWindow))
	before := make([]int64, len(procs))
	for i, m := range procs {
		u, err := readUsage(m.pid)
		if err != nil {
			return err
		}
		before[i] = u.cpuNanos
	}
	skip := make([]int, len(procs))
	for i, m := range procs {
		skip[i] = countReconciles(m.out)
	}
	if err := sleepCtx(ctx, b.cfg.BigTableWindow); err != nil {
		return err
	}
	for i, m := range procs {
		u, err := readUsage(m.pid)
		if err != nil {
			return err
		}
		r := specs[i].run
		r.CPUSeconds = float64(u.cpuNanos-before[i]) / 1e9
		r.Reconciles = countReconciles(m.out) - skip[i]
		bt.Idle = append(bt.Idle, r)
	}
	return nil
}

// countReconciles counts the reconcile records in a ctwatch output file.
func countReconciles(path string) int {
	data, _ := os.ReadFile(path)
	return bytes.Count(data, []byte(`"event":"reconcile"`))
}
