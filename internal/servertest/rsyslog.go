package servertest

import (
	"bufio"
	"bytes"
	"errors"
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

// Rsyslog is a real rsyslogd started by a test with a config of its own:
// imtcp and imudp on loopback ports, imuxsock on a datagram socket and
// imptcp on a stream socket in the test's directory, every message written
// by omfile to one file with a template that splits the fields; and imrelp
// on a loopback port when rsyslog's RELP module (Debian rsyslog-relp) is
// installed.
type Rsyslog struct {
	t        testing.TB
	bin, dir string
	conf     string
	// Out is the file every message goes to, one Line each.
	Out string
	pid string
	// TCP and UDP are the inputs' addresses, 127.0.0.1:PORT.
	TCP, UDP string
	// Dgram and Stream are the unix sockets' paths: imuxsock (datagram)
	// and imptcp (stream).
	Dgram, Stream string
	// RELP is imrelp's address, 127.0.0.1:PORT, or "" without imrelp (see
	// RequireRELP).
	RELP   string
	cmd    *exec.Cmd
	exited chan error
	probes int
}

// Line is one message as rsyslog parsed it; Input is the input module that
// took it (imtcp, imudp, imuxsock, imptcp, imrelp).
type Line struct {
	Severity, Facility, App, ProcID, MsgID, SD, TS, Host, Input, Msg string
}

const rsyslogTemplate = `%syslogseverity%|%syslogfacility%|%app-name%|%procid%|%msgid%|%structured-data%|%timereported:::date-rfc3339%|%hostname%|%inputname%|%msg%\n`

// rsyslogFields is the number of fields of rsyslogTemplate.
const rsyslogFields = 10

// StartRsyslog starts rsyslogd and returns once every input took a probe
// message; the test's cleanup stops it.
func StartRsyslog(t testing.TB) *Rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
		if _, err := os.Stat(bin); err != nil {
			missing(t, "no rsyslogd (Debian package rsyslog; scripts/install-deps.sh installs it)")
		}
	}
	// A socket path must fit in sun_path (108 bytes); t.TempDir can be long.
	dir, err := os.MkdirTemp("", "ctwatch-rsyslog-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &Rsyslog{
		t: t, bin: bin, dir: dir,
		conf: filepath.Join(dir, "rsyslog.conf"), Out: filepath.Join(dir, "out"), pid: filepath.Join(dir, "pid"),
		TCP: FreePort(t, "tcp"), UDP: FreePort(t, "udp"),
		Dgram: filepath.Join(dir, "log"), Stream: filepath.Join(dir, "stream"),
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, tport, _ := net.SplitHostPort(r.TCP)
	_, uport, _ := net.SplitHostPort(r.UDP)
	relp := ""
	if hasModule("imrelp") {
		r.RELP = FreePort(t, "tcp")
		_, rport, _ := net.SplitHostPort(r.RELP)
		// A direct queue: imrelp acknowledges a message once the ruleset
		// took it, which with a direct queue is once omfile wrote it, so
		// that a SIGKILL loses nothing that was acknowledged.
		relp = fmt.Sprintf(`module(load="imrelp")
ruleset(name="relp" queue.type="direct") { action(type="omfile" file=%q template="fields") }
input(type="imrelp" address="127.0.0.1" port=%q ruleset="relp")
`, r.Out, rport)
	}
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
%s`, filepath.Join(dir, "work"), rsyslogTemplate, r.Out, tport, uport, r.Dgram, r.Stream, relp)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Before start: a start that fails the test must not leave rsyslogd.
	t.Cleanup(r.Stop)
	r.Start()
	return r
}

// hasModule says whether rsyslog has the input module name installed, in
// the module directory of Debian's multiarch layout or the plain one.
func hasModule(name string) bool {
	found, _ := filepath.Glob("/usr/lib/*/rsyslog/" + name + ".so")
	if _, err := os.Stat("/usr/lib/rsyslog/" + name + ".so"); err == nil {
		return true
	}
	return len(found) > 0
}

// RequireRELP skips the test when rsyslog has no imrelp (Debian package
// rsyslog-relp; scripts/install-deps.sh installs it), or fails it under CI.
func (r *Rsyslog) RequireRELP() {
	r.t.Helper()
	if r.RELP == "" {
		missing(r.t, "no imrelp (Debian package rsyslog-relp; scripts/install-deps.sh installs it)")
	}
}

// missing skips the test for want of a server, or fails it under CI.
func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		// Under CI the project installs it: its absence is a failure.
		t.Fatal(why)
	}
	t.Skip(why)
}

// FreePort finds a loopback port free now, for a server to bind a moment
// later: "127.0.0.1:PORT".
func FreePort(t testing.TB, network string) string {
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

// FreeTCPPort is FreePort's TCP port number.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	_, port, err := net.SplitHostPort(FreePort(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Start runs rsyslogd in the foreground and returns once every input
// took a probe message (the port or socket is bound and omfile writes).
func (r *Rsyslog) Start() {
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
func (r *Rsyslog) ready() {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	r.probes++
	want := map[string]bool{}
	for _, in := range []string{"tcp", "udp", "dgram", "stream", "relp"} {
		if in != "relp" || r.RELP != "" {
			want[fmt.Sprintf("probe-%d-%s", r.probes, in)] = false
		}
	}
	for {
		r.probe("tcp", r.TCP, fmt.Sprintf("probe-%d-tcp", r.probes))
		r.probe("udp", r.UDP, fmt.Sprintf("probe-%d-udp", r.probes))
		r.probe("unixgram", r.Dgram, fmt.Sprintf("probe-%d-dgram", r.probes))
		r.probe("unix", r.Stream, fmt.Sprintf("probe-%d-stream", r.probes))
		if r.RELP != "" {
			r.probe("relp", r.RELP, fmt.Sprintf("probe-%d-relp", r.probes))
		}
		for _, l := range r.Lines() {
			if _, ok := want[l.Msg]; ok && l.App == "probe" {
				want[l.Msg] = true
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
			r.cmd = nil // Stop has nothing to wait for
			r.t.Fatalf("rsyslogd exited: %v", err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(r.Out)
			r.t.Fatalf("rsyslogd not ready: %v; file ends %q", want, data[max(len(data)-300, 0):])
		}
	}
}

func (r *Rsyslog) probe(network, addr, text string) {
	dial := network
	if network == "relp" {
		dial = "tcp"
	}
	c, err := net.DialTimeout(dial, addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	msg := "<14>1 2026-12-07T00:00:00.000000Z - probe - - - " + text
	switch network {
	case "tcp":
		msg = strconv.Itoa(len(msg)) + " " + msg
	case "unix":
		msg += "\n"
	case "relp":
		// RELP frames: open, the message and close, without waiting for
		// the answers in between (the server takes commands in order).
		const offers = "relp_version=0\nrelp_software=probe\ncommands=syslog"
		msg = fmt.Sprintf("1 open %d %s\n2 syslog %d %s\n3 close 0\n", len(offers), offers, len(msg), msg)
		c.Write([]byte(msg))
		// Wait for the answers: a connection closed at once may be torn
		// down before the server took the message, and rsyslog logs a
		// session closed without its answer as broken.
		c.SetReadDeadline(time.Now().Add(time.Second))
		var b [512]byte
		for n := 0; !strings.Contains(string(b[:n]), "\n3 rsp"); {
			m, err := c.Read(b[n:])
			if err != nil || n+m == len(b) {
				return
			}
			n += m
		}
		return
	}
	c.Write([]byte(msg))
}

// Stop ends rsyslogd with SIGTERM, as a service manager does, and waits.
func (r *Rsyslog) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-r.exited; err != nil {
		r.t.Logf("rsyslogd: %v", err)
	}
	r.cmd = nil
}

// Signal sends sig to rsyslogd: SIGSTOP makes a server that reads nothing,
// SIGKILL one that dies with what it had not written.
func (r *Rsyslog) Signal(sig os.Signal) error {
	if r.cmd == nil {
		return errors.New("rsyslogd is not running")
	}
	return r.cmd.Process.Signal(sig)
}

// Lines reads the output file's whole lines.
func (r *Rsyslog) Lines() []Line {
	data, err := os.ReadFile(r.Out)
	if err != nil {
		return nil
	}
	// rsyslog may be writing a line as the file is read: only whole lines
	// count, the rest is read next time.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []Line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", rsyslogFields)
		if len(f) != rsyslogFields {
			r.t.Fatalf("rsyslog wrote %q", sc.Text())
		}
		out = append(out, Line{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]})
	}
	return out
}

// Records returns the lines from ctwatch.
func (r *Rsyslog) Records() []Line {
	var out []Line
	for _, l := range r.Lines() {
		if l.App == "ctwatch" {
			out = append(out, l)
		}
	}
	return out
}

// WaitRecords polls the file until it holds n records from ctwatch.
func (r *Rsyslog) WaitRecords(n int) []Line {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := r.Records()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("rsyslog has %d records, want %d", len(got), n)
		}
		<-tick.C
	}
}

// TailHas reports whether the last 4 KiB of the output file hold s (a
// benchmark's file is large: only its end is read).
func (r *Rsyslog) TailHas(s string) bool {
	f, err := os.Open(r.Out)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, max(fi.Size()-int64(len(buf)), 0))
	return strings.Contains(string(buf[:n]), s)
}

type prefixWriter struct{ t testing.TB }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("rsyslogd: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
