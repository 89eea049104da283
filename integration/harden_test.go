//go:build integration

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/internal/nstest"
)

// exitStatus returns the status a shell would report for err from Wait:
// 128 + the signal for a process killed by one.
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return 0
}

// waitStarted waits until ctwatch's own code has run as far as cond (on
// the process's pid) sees: a signal sent then arrives during its start.
// (The Go runtime's start, before any of ctwatch's code, is a window no
// program can close: its handlers kill for SIGHUP and SIGTERM until the
// program asks for them.)
func waitStarted(t *testing.T, pid int, what string, cond func(pid int) bool) {
	t.Helper()
	deadline := time.Now().Add(wtTimeout)
	for !cond(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("ctwatch did not reach %s", what)
		}
	}
}

// readingPipe reports whether a thread of the process waits in a read of
// a pipe: parse, reading its standard input.
func readingPipe(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, p := range tasks {
		if b, err := os.ReadFile(p); err == nil && strings.HasSuffix(string(b), "pipe_read") {
			return true
		}
	}
	return false
}

// netnsOpen reports whether the process holds a network namespace open:
// watch, past the opening of --netns, before its output and subscription.
func netnsOpen(pid int) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && (strings.HasPrefix(l, "net:[") || strings.HasPrefix(l, "/run/netns/")) {
			return true
		}
	}
	return false
}

// TestHardenEarlySignal: a SIGHUP (or SIGTERM) sent as ctwatch starts
// does not kill it: the handlers are installed first thing, before the
// command's work begins.
func TestHardenEarlySignal(t *testing.T) {
	bin := nstest.Binary(t)
	// parse never reopens a file; a SIGHUP must do nothing to it.
	for round := range 5 {
		cmd := exec.Command(bin, "parse")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitStarted(t, cmd.Process.Pid, "the read of its input", readingPipe)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		stdin.Close()
		if code := exitStatus(t, cmd.Wait()); code != 0 {
			t.Fatalf("round %d: parse after an early SIGHUP: exit status %d, want 0; stderr:\n%s", round, code, stderr.String())
		}
	}

	ns := wtTrackedNS(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		for round := range 5 {
			out := filepath.Join(t.TempDir(), "ct.log")
			p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--output", out)
			waitStarted(t, p.cmd.Process.Pid, "the opening of --netns", netnsOpen)
			p.signal(sig)
			if sig == syscall.SIGHUP {
				// Still running: it must stop on request, cleanly.
				wtPoll(t, "the dump record", func() bool {
					for _, l := range readLines(t, out) {
						if strings.Contains(l, `"event":"dump"`) {
							return true
						}
					}
					return false
				})
				p.signal(syscall.SIGTERM)
			}
			if _, code, _ := p.wait(time.Now()); code != 0 {
				t.Fatalf("round %d: watch after an early %v: exit status %d, want 0", round, sig, code)
			}
		}
	}
}

// plantTarget returns a directory and a root-owned 0600 file in it, which
// nothing must overwrite or append to.
func plantTarget(t *testing.T) (dir, target string) {
	t.Helper()
	dir = t.TempDir()
	target = filepath.Join(dir, "secret")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

// TestHardenFilesRefused: a symbolic link at --output or --cpuprofile, or
// an --output file of nobody's, is refused with an error naming the path
// and the reason, and the file behind keeps its contents;
// --allow-other-owner accepts the other user's file.
func TestHardenFilesRefused(t *testing.T) {
	bin := nstest.Binary(t)
	for _, flag := range []string{"--output", "--cpuprofile"} {
		t.Run("symlink "+flag, func(t *testing.T) {
			dir, target := plantTarget(t)
			link := filepath.Join(dir, "link")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "watch", flag, link).CombinedOutput()
			if code := exitStatus(t, err); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if !strings.Contains(string(out), link) || !strings.Contains(string(out), "symbolic link") {
				t.Errorf("output %q does not name %s and the symbolic link", out, link)
			}
			if got, _ := os.ReadFile(target); string(got) != "secret\n" {
				t.Errorf("target now holds %q", got)
			}
		})
	}

	t.Run("other owner", func(t *testing.T) {
		_, target := plantTarget(t)
		if err := os.Chown(target, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "watch", "--output", target).CombinedOutput()
		if code := exitStatus(t, err); code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
		if !strings.Contains(string(out), target) || !strings.Contains(string(out), "uid 65534") || !strings.Contains(string(out), "--allow-other-owner") {
			t.Errorf("output %q does not name %s, its owner and the flag", out, target)
		}
		if got, _ := os.ReadFile(target); string(got) != "secret\n" {
			t.Errorf("target now holds %q", got)
		}

		ns := wtTrackedNS(t)
		p := wtStart(t, "watch", "--netns", ns.Name, "--output", target, "--allow-other-owner")
		if _, code, _ := p.stop(); code != 0 {
			t.Errorf("with --allow-other-owner: exit status %d, want 0", code)
		}
		if got := readLines(t, target); len(got) < 2 || got[0] != "secret" {
			t.Errorf("with --allow-other-owner the file holds %q, want the records appended", got)
		}
	})
}

// TestHardenReopenFails: logrotate's directory renamed away, SIGHUP: the
// failed reopen is said on stderr, records go on to the old file, and the
// reopen is retried until the directory is back.
func TestHardenReopenFails(t *testing.T) {
	ns := wtTrackedNS(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logDir, "ct.log")
	p := wtStart(t, "watch", "--netns", ns.Name, "--output", path, "--stats-interval", "100ms")
	if err := os.Rename(logDir, logDir+".old"); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	wtPoll(t, "the failed reopen on stderr", func() bool {
		s := p.stderr.String()
		return strings.Contains(s, path) && strings.Contains(s, "ENOENT") && strings.Contains(s, "retrying")
	})
	// Stats records keep coming, into the renamed file.
	old := filepath.Join(logDir+".old", "ct.log")
	n := len(readLines(t, old))
	wtPoll(t, "records in the old file", func() bool { return len(readLines(t, old)) > n })
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	wtPoll(t, "the reopen's success on stderr", func() bool { return strings.Contains(p.stderr.String(), "reopened") })
	wtPoll(t, "records in the new file", func() bool {
		_, err := os.Stat(path)
		return err == nil && len(readLines(t, path)) > 0
	})
	if _, code, _ := p.stop(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestHardenDevFull: --output /dev/full: the failure is said with its
// errno as it happens, the summary counts nothing as written, and the
// status is 1.
func TestHardenDevFull(t *testing.T) {
	ns := wtTrackedNS(t)
	p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--output", "/dev/full")
	wtPoll(t, "the write failure on stderr", func() bool { return strings.Contains(p.stderr.String(), "ENOSPC: disk full") })
	_, code, _ := p.stop()
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if s := p.stderr.String(); !strings.Contains(s, "output /dev/full: 0 records written in full") {
		t.Errorf("stderr has no output summary with 0 records written:\n%s", s)
	}
}

// TestHardenNoPrivilege: without CAP_NET_ADMIN, watch and stats say so in
// one line that names the capability and how to grant it, and watch
// prints no summary of a watch that never began.
func TestHardenNoPrivilege(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		nstest.Skip(t, "setpriv (util-linux) is not installed: %v", err)
	}
	// A copy nobody may run: the built binary's directory may be root's.
	dir, err := os.MkdirTemp("", "ctwatch-nopriv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "ctwatch")
	data, err := os.ReadFile(nstest.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		what string
	}{
		{[]string{"watch"}, "watching conntrack events"},
		{[]string{"stats"}, "reading conntrack statistics"},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}, tt.args...)...)
			cmd.Dir = dir
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var werr error
			select {
			case werr = <-done:
			case <-time.After(wtTimeout):
				cmd.Process.Kill()
				t.Fatalf("ctwatch %s as nobody did not end", tt.args[0])
			}
			if st := exitStatus(t, werr); st != 1 {
				t.Errorf("exit status %d, want 1", st)
			}
			want := "ctwatch: " + tt.what + " needs CAP_NET_ADMIN (operation not permitted): run as root, or grant the capability: setcap cap_net_admin+ep " +
				bin + ", or AmbientCapabilities=CAP_NET_ADMIN in a systemd unit (see ctwatch doctor)\n"
			if stderr.String() != want {
				t.Errorf("stderr:\n%s\nwant the one line:\n%s", stderr.String(), want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
