package syslog

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rsyslogd is a real rsyslog started by a test with a config of its own:
// imtcp and imudp on loopback ports, imuxsock on a datagram socket and
// imptcp on a stream socket in the test's directory, every message written
// by omfile to one file with a template that splits the fields.
type rsyslogd struct {
	t              testing.TB
	bin, dir       string
	conf, out, pid string
	tcp, udp       string // 127.0.0.1:PORT
	dgram, stream  string // socket paths
	cmd            *exec.Cmd
	exited         chan error
	probes         int
}

// outLine is one message as rsyslog parsed it.
type outLine struct {
	severity, facility, app, procid, msgid, sd, ts, host, msg string
}

const rsyslogTemplate = `%syslogseverity%|%syslogfacility%|%app-name%|%procid%|%msgid%|%structured-data%|%timereported:::date-rfc3339%|%hostname%|%msg%\n`

func startRsyslog(t testing.TB) *rsyslogd {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
		if _, err := os.Stat(bin); err != nil {
			const why = "no rsyslogd (Debian package rsyslog; scripts/install-deps.sh installs it)"
			if os.Getenv("CI") != "" {
				// Under CI the project installs it: its absence is a failure.
				t.Fatal(why)
			}
			t.Skip(why)
		}
	}
	// A socket path must fit in sun_path (108 bytes); t.TempDir can be long.
	dir, err := os.MkdirTemp("", "ctwatch-rsyslog-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &rsyslogd{
		t: t, bin: bin, dir: dir,
		conf: filepath.Join(dir, "rsyslog.conf"), out: filepath.Join(dir, "out"), pid: filepath.Join(dir, "pid"),
		tcp: freePort(t, "tcp"), udp: freePort(t, "udp"),
		dgram: filepath.Join(dir, "log"), stream: filepath.Join(dir, "stream"),
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, tport, _ := net.SplitHostPort(r.tcp)
	_, uport, _ := net.SplitHostPort(r.udp)
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
module(load="imptcp")
module(load="imuxsock" SysSock.Use="off")
template(name="fields" type="string" string="%s")
ruleset(name="all") { action(type="omfile" file=%q template="fields") }
input(type="imtcp" address="127.0.0.1" port=%q ruleset="all")
input(type="imudp" address="127.0.0.1" port=%q ruleset="all")
input(type="imuxsock" socket=%q ruleset="all" useSpecialParser="off" parseHostname="on")
input(type="imptcp" path=%q unlink="on" ruleset="all")
`, filepath.Join(dir, "work"), rsyslogTemplate, r.out, tport, uport, r.dgram, r.stream)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Before start: a start that fails the test must not leave rsyslogd.
	t.Cleanup(r.stop)
	r.start()
	return r
}

// freePort finds a loopback port free now; rsyslog binds it a moment later.
func freePort(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs rsyslogd in the foreground and returns once every input
// took a probe message (the port or socket is bound and omfile writes).
func (r *rsyslogd) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "-n", "-f", r.conf, "-i", r.pid)
	cmd.Stderr = &prefixWriter{t: r.t}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.cmd, r.exited = cmd, make(chan error, 1)
	go func() { r.exited <- cmd.Wait() }()
	r.ready()
}

// ready sends probes to every input until each has one in the file.
func (r *rsyslogd) ready() {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	r.probes++
	want := map[string]bool{}
	for _, in := range []string{"tcp", "udp", "dgram", "stream"} {
		want[fmt.Sprintf("probe-%d-%s", r.probes, in)] = false
	}
	for {
		r.probe("tcp", r.tcp, fmt.Sprintf("probe-%d-tcp", r.probes))
		r.probe("udp", r.udp, fmt.Sprintf("probe-%d-udp", r.probes))
		r.probe("unixgram", r.dgram, fmt.Sprintf("probe-%d-dgram", r.probes))
		r.probe("unix", r.stream, fmt.Sprintf("probe-%d-stream", r.probes))
		for _, l := range r.lines() {
			if _, ok := want[l.msg]; ok && l.app == "probe" {
				want[l.msg] = true
			}
		}
		missing := 0
		for _, ok := range want {
			if !ok {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		select {
		case err := <-r.exited:
			r.cmd = nil // stop has nothing to wait for
			r.t.Fatalf("rsyslogd exited: %v", err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(r.out)
			r.t.Fatalf("rsyslogd not ready: %v; file ends %q", want, data[max(len(data)-300, 0):])
		}
	}
}

func (r *rsyslogd) probe(network, addr, text string) {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	msg := "<14>1 2026-12-07T00:00:00.000000Z - probe - - - " + text
	if network == "tcp" {
		msg = strconv.Itoa(len(msg)) + " " + msg
	} else if network == "unix" {
		msg += "\n"
	}
	c.Write([]byte(msg))
}

// stop ends rsyslogd with SIGTERM, as a service manager does, and waits.
func (r *rsyslogd) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-r.exited; err != nil {
		r.t.Logf("rsyslogd: %v", err)
	}
	r.cmd = nil
}

// lines reads the output file.
func (r *rsyslogd) lines() []outLine {
	data, err := os.ReadFile(r.out)
	if err != nil {
		return nil
	}
	// rsyslog may be writing a line as the file is read: only whole lines
	// count, the rest is read next time.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []outLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 9)
		if len(f) != 9 {
			r.t.Fatalf("rsyslog wrote %q", sc.Text())
		}
		out = append(out, outLine{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]})
	}
	return out
}

// records returns the lines from ctwatch.
func (r *rsyslogd) records() []outLine {
	var out []outLine
	for _, l := range r.lines() {
		if l.app == "ctwatch" {
			out = append(out, l)
		}
	}
	return out
}

// waitRecords polls the file until it holds n records from ctwatch.
func (r *rsyslogd) waitRecords(n int) []outLine {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := r.records()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("rsyslog has %d records, want %d", len(got), n)
		}
		<-tick.C
	}
}

type prefixWriter struct{ t testing.TB }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("rsyslogd: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
