//go:build integration

package main

import (
	"bytes"
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

	"golang.org/x/sys/unix"
)

// monitorProc is a running monitor.
type monitorProc struct {
	name    string
	cmd     *exec.Cmd
	pid     int
	out     string // the output file whose records are counted
	errPath string // its standard error, for failure messages
	format  recordFormat
	done    chan struct{} // closed when the process has exited
}

// startMonitor starts monitor name on the monitor CPU, watching ns, writing
// into dir. buffer overrides the floor's receive buffer when not 0 (the
// calibration listener).
func (b *bench) startMonitor(ns *namespace, name, dir string, buffer int64) (*monitorProc, error) {
	pin := []string{"taskset", "-c", strconv.Itoa(b.cfg.MonCPU)}
	switch name {
	case "ctwatch":
		m := newMonitorProc(name, dir, formatCtwatch)
		args := append([]string{b.ctwatch, "watch", "--netns", ns.Name, "--output", m.out}, b.cfg.CtwatchFlags...)
		return m, m.launch(exec.Command(pin[0], append(pin[1:], args...)...), false)
	case "conntrack", "conntrack-8m":
		m := newMonitorProc(name, dir, formatConntrack)
		return m, m.launch(ns.command(append(pin, "conntrack", "-E")...), true)
	case "ulogd":
		m := newMonitorProc(name, dir, formatUlogd)
		conf := filepath.Join(dir, "ulogd.conf")
		if err := os.WriteFile(conf, []byte(ulogdConfig(b.ulogdPlugins, m.out, filepath.Join(dir, "ulogd.log"))), 0o644); err != nil {
			return nil, fmt.Errorf("write ulogd.conf: %w", err)
		}
		return m, m.launch(ns.command(append(pin, "ulogd", "-c", conf)...), false)
	case "floor":
		m := newMonitorProc(name, dir, formatFloor)
		if buffer == 0 {
			buffer = 8 << 20
		}
		return m, m.launch(ns.command(append(pin, b.self, "floor", "-buffer", strconv.FormatInt(buffer, 10), "-out", m.out)...), false)
	}
	return nil, fmt.Errorf("unknown monitor %q", name)
}

// newMonitorProc is a monitor not started yet, its output and standard
// error in dir.
func newMonitorProc(name, dir string, format recordFormat) *monitorProc {
	return &monitorProc{
		name:    name,
		out:     filepath.Join(dir, name+".out"),
		errPath: filepath.Join(dir, name+".stderr"),
		format:  format,
		done:    make(chan struct{}),
	}
}

// launch starts cmd as m, its standard error to m.errPath and, with
// stdoutToOut, its standard output to m.out.
func (m *monitorProc) launch(cmd *exec.Cmd, stdoutToOut bool) error {
	errFile, err := os.Create(m.errPath)
	if err != nil {
		return fmt.Errorf("monitor stderr: %w", err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	if stdoutToOut {
		f, err := os.Create(m.out)
		if err != nil {
			return fmt.Errorf("monitor output: %w", err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	// Its own process group keeps a terminal's SIGINT to the harness from
	// reaching the monitor before the harness has read what it needs; the
	// death signal ends it if the harness dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.name, err)
	}
	m.cmd, m.pid = cmd, cmd.Process.Pid
	go func() {
		_ = cmd.Wait() // how it exited is judged by what it wrote
		close(m.done)
	}()
	return nil
}

// exited says whether the process has ended.
func (m *monitorProc) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// stop asks the monitor to stop (SIGINT, which every monitor here handles
// by flushing its output) and kills it if it has not within timeout.
func (m *monitorProc) stop(timeout time.Duration) error {
	if m.exited() {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-m.done:
		return nil
	case <-time.After(timeout):
	}
	m.kill()
	return fmt.Errorf("%s did not stop within %v of SIGINT; killed", m.name, timeout)
}

// stopAndRead stops the monitor and hands its output file to read; the
// errors of opening and reading it name the monitor.
func (m *monitorProc) stopAndRead(read func(f *os.File) error) error {
	if err := m.stop(10 * time.Second); err != nil {
		return err
	}
	f, err := os.Open(m.out)
	if err != nil {
		return fmt.Errorf("%s's output: %w", m.name, err)
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("%s's output: %w", m.name, err)
	}
	return nil
}

// kill ends the monitor at once and waits for it; a no-op once it exited.
func (m *monitorProc) kill() {
	if m.exited() {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
}

// stderrTail is the end of the monitor's standard error, for errors.
func (m *monitorProc) stderrTail() string {
	data, _ := os.ReadFile(m.errPath)
	data = bytes.TrimSpace(data)
	if len(data) > 400 {
		data = data[len(data)-400:]
	}
	return string(data)
}

// socketInodes returns the inodes of the sockets a process holds.
func socketInodes(pid int) (map[uint64]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list descriptors: %w", err)
	}
	inodes := make(map[uint64]bool)
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := socketInode(link); ok {
			inodes[ino] = true
		}
	}
	return inodes, nil
}

// eventSocket finds the monitor's conntrack event socket in the namespace's
// netlink table: a NETLINK_NETFILTER socket of its own that joined groups.
func (m *monitorProc) eventSocket(ns *namespace) (netlinkSocket, bool, error) {
	inodes, err := socketInodes(m.pid)
	if err != nil {
		return netlinkSocket{}, false, err
	}
	socks, err := ns.netlinkSockets()
	if err != nil {
		return netlinkSocket{}, false, err
	}
	for _, s := range socks {
		if s.Protocol == unix.NETLINK_NETFILTER && s.Groups != 0 && inodes[s.Inode] {
			return s, true, nil
		}
	}
	return netlinkSocket{}, false, nil
}

// waitJoined waits until the monitor's socket has joined the conntrack
// groups, polling briskly: for conntrack-8m, the host's rmem_default stays
// raised until then.
func (m *monitorProc) waitJoined(ctx context.Context, ns *namespace, timeout time.Duration) (netlinkSocket, error) {
	deadline := time.Now().Add(timeout)
	for {
		if m.exited() {
			return netlinkSocket{}, fmt.Errorf("%s exited at start: %s", m.name, m.stderrTail())
		}
		s, ok, err := m.eventSocket(ns)
		if ok {
			return s, nil
		}
		if time.Now().After(deadline) {
			return netlinkSocket{}, fmt.Errorf("%s joined no conntrack group within %v (last error: %v): %s", m.name, timeout, err, m.stderrTail())
		}
		if err := sleepCtx(ctx, time.Millisecond); err != nil {
			return netlinkSocket{}, err
		}
	}
}

// waitOutput waits until the monitor's output holds want: ctwatch writes
// its "dump" record once its startup dump is done.
func (m *monitorProc) waitOutput(ctx context.Context, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(m.out)
		if bytes.Contains(data, []byte(want)) {
			return nil
		}
		if m.exited() {
			return fmt.Errorf("%s exited at start: %s", m.name, m.stderrTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s in %s's output within %v", want, m.name, timeout)
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return err
		}
	}
}

// waitDrained waits until the monitor has handled everything: its socket
// is empty and its output has not grown for drainQuiet. It returns the
// socket's last reading and false if timeout came first.
func (m *monitorProc) waitDrained(ctx context.Context, ns *namespace, timeout time.Duration) (netlinkSocket, bool, error) {
	deadline := time.Now().Add(timeout)
	var last netlinkSocket
	lastSize := int64(-1)
	quietSince := time.Now()
	for {
		if m.exited() {
			return last, false, fmt.Errorf("%s exited during the run: %s", m.name, m.stderrTail())
		}
		s, ok, err := m.eventSocket(ns)
		if err != nil {
			return last, false, err
		}
		if !ok {
			return last, false, fmt.Errorf("%s's event socket is gone", m.name)
		}
		last = s
		var size int64
		if fi, err := os.Stat(m.out); err == nil {
			size = fi.Size()
		}
		now := time.Now()
		if s.Rmem != 0 || size != lastSize {
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

// usage is a reading of a monitor's resource counters.
type usage struct {
	cpuNanos int64
	stat     procStat
	io       procIO
}

// readUsage reads the monitor's CPU clock, /proc/PID/stat and /proc/PID/io.
func readUsage(pid int) (usage, error) {
	var u usage
	var ts unix.Timespec
	if err := unix.ClockGettime(processCPUClock(pid), &ts); err != nil {
		return u, fmt.Errorf("read CPU clock of %d: %w", pid, err)
	}
	u.cpuNanos = ts.Nano()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("read stat: %w", err)
	}
	if u.stat, err = parseStat(data); err != nil {
		return u, err
	}
	if data, err = os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err != nil {
		return u, fmt.Errorf("read io: %w", err)
	}
	u.io, err = parseIO(data)
	return u, err
}

// readPeakRSS reads VmHWM.
func readPeakRSS(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return parseVmHWM(data)
}

// ulogdConfig is a minimal ulogd.conf: conntrack events (NFCT) to JSON.
// Without its hash table NFCT writes one record per event rather than one
// per flow at its end, but only for NEW and DESTROY: it joins just those
// groups. The buffer is ctwatch's default, 8 MiB asked for; the maximum is
// one byte more because the plugin only applies a size below it.
func ulogdConfig(pluginDir, out, logfile string) string {
	return fmt.Sprintf(`[global]
logfile=%q
loglevel=5
plugin=%q
plugin=%q
plugin=%q
stack=ct1:NFCT,ip2str1:IP2STR,json1:JSON

[ct1]
hash_enable=0
netlink_socket_buffer_size=8388608
netlink_socket_buffer_maxsize=8388609

[json1]
file=%q
`, logfile,
		filepath.Join(pluginDir, "ulogd_inpflow_NFCT.so"),
		filepath.Join(pluginDir, "ulogd_filter_IP2STR.so"),
		filepath.Join(pluginDir, "ulogd_output_JSON.so"),
		out)
}

// findUlogdPlugins returns the directory of ulogd2's plugins, with the JSON
// output plugin in it.
func findUlogdPlugins() (string, error) {
	for _, pattern := range []string{"/usr/lib/*/ulogd", "/usr/lib/ulogd", "/usr/lib64/ulogd", "/usr/local/lib/ulogd"} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "ulogd_output_JSON.so")); err == nil {
				return d, nil
			}
		}
	}
	return "", errors.New("no ulogd_output_JSON.so (Debian package ulogd2-json)")
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// commandVersion runs a command and returns the first line of its output.
func commandVersion(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil && line == "" {
		return "unknown (" + err.Error() + ")"
	}
	return line
}
