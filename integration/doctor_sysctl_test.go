//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/doctor"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/internal/sysctl"
)

// TestDoctorSysctlPerNamespace checks that internal/sysctl reads and writes the
// namespace it is given, not the caller's: two namespaces hold different
// values, a write lands in its namespace only, and the host's value never
// moves.
func TestDoctorSysctlPerNamespace(t *testing.T) {
	a, b := nstest.New(t), nstest.New(t)
	const acct = "net.netfilter.nf_conntrack_acct"
	host, err := sysctl.Read(nil, acct)
	if err != nil {
		t.Fatal(err)
	}
	a.Sysctl(acct, "1")
	b.Sysctl(acct, "0")
	for _, tc := range []struct {
		ns   *nstest.NS
		want string
	}{{a, "1"}, {b, "0"}} {
		got, err := sysctl.Read(tc.ns.Handle(), acct)
		if err != nil || got != tc.want {
			t.Errorf("%s: %s = %q, %v; want %q", tc.ns.Name, acct, got, err, tc.want)
		}
	}
	if err := sysctl.Write(b.Handle(), acct, "1"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(b.Run("sysctl", "-n", acct)); got != "1" {
		t.Errorf("after Write, sysctl(8) in %s reads %q", b.Name, got)
	}
	if got, _ := sysctl.Read(nil, acct); got != host {
		t.Errorf("host's %s moved from %q to %q", acct, host, got)
	}

	// A batch read agrees with sysctl(8) in the namespace, name by name.
	vals, err := sysctl.ReadAll(a.Handle(), doctor.SysctlNames...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range doctor.SysctlNames {
		got, err := vals.String(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := strings.TrimSpace(a.Run("sysctl", "-n", name)); got != want {
			t.Errorf("%s = %q, sysctl(8) says %q", name, got, want)
		}
	}

	// nf_conntrack_max is global: only the initial namespace may write it.
	if err := sysctl.Write(a.Handle(), "net.netfilter.nf_conntrack_max", "1000"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("writing nf_conntrack_max in a namespace: error %v, want a permission error", err)
	}
	if _, err := sysctl.Read(a.Handle(), "net.netfilter.no_such_sysctl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing sysctl: error %v, want fs.ErrNotExist", err)
	}
}

// doctorOf runs `ctwatch doctor --json --netns spec` and returns the report
// and the exit status.
func doctorOf(t *testing.T, spec string) (doctor.Report, int) {
	t.Helper()
	out, status := runCtwatch(t, "doctor", "--json", "--netns", spec)
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor output %q: %v", out, err)
	}
	return rep, status
}

// statuses returns the named checks' statuses.
func statuses(rep doctor.Report, names ...string) map[string]doctor.Status {
	m := map[string]doctor.Status{}
	for _, c := range rep.Checks {
		for _, n := range names {
			if c.Name == n {
				m[n] = c.Status
			}
		}
	}
	return m
}

// TestDoctorFollowsSysctls switches the namespace's event, accounting,
// timestamp and timeout sysctls and checks that doctor's verdicts follow,
// and that it exits 1 exactly when a check fails.
func TestDoctorFollowsSysctls(t *testing.T) {
	ns := nstest.New(t)
	tests := []struct {
		name       string
		sysctls    map[string]string
		want       map[string]doctor.Status
		wantStatus int
	}{
		{
			name: "everything on",
			sysctls: map[string]string{
				doctor.SysctlEvents: "1", doctor.SysctlAcct: "1", doctor.SysctlTimestamp: "1",
				doctor.SysctlTCPEstablished: "3600", doctor.SysctlUDP: "30", doctor.SysctlUDPStream: "120",
			},
			want: map[string]doctor.Status{"events": doctor.OK, "accounting": doctor.OK, "timestamps": doctor.OK, "tcp_timeout": doctor.OK, "udp_timeouts": doctor.OK},
		},
		{
			name: "kernel defaults",
			sysctls: map[string]string{
				doctor.SysctlEvents: "2", doctor.SysctlAcct: "0", doctor.SysctlTimestamp: "0",
				doctor.SysctlTCPEstablished: "432000", doctor.SysctlUDP: "30", doctor.SysctlUDPStream: "120",
			},
			want: map[string]doctor.Status{"events": doctor.Warn, "accounting": doctor.Warn, "timestamps": doctor.Warn, "tcp_timeout": doctor.Warn, "udp_timeouts": doctor.OK},
		},
		{
			name: "events off fails",
			sysctls: map[string]string{
				doctor.SysctlEvents: "0", doctor.SysctlAcct: "1", doctor.SysctlTimestamp: "1",
				doctor.SysctlTCPEstablished: "3600", doctor.SysctlUDP: "300", doctor.SysctlUDPStream: "120",
			},
			want:       map[string]doctor.Status{"events": doctor.Fail, "accounting": doctor.OK, "timestamps": doctor.OK, "tcp_timeout": doctor.OK, "udp_timeouts": doctor.Warn},
			wantStatus: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.sysctls {
				ns.Sysctl(k, v)
			}
			rep, status := doctorOf(t, ns.Name)
			var names []string
			for n := range tt.want {
				names = append(names, n)
			}
			if diff := cmp.Diff(tt.want, statuses(rep, names...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if status != tt.wantStatus {
				t.Errorf("exit status %d, want %d (report status %v)", status, tt.wantStatus, rep.Status)
			}
			if (rep.Status == doctor.Fail) != (status == 1) {
				t.Errorf("report status %v but exit status %d", rep.Status, status)
			}
		})
	}
}

// TestDoctorEngaged checks the engagement heuristic against a namespace
// before and after a rule makes the kernel track its traffic, and that a
// PID names the same namespace as its name.
func TestDoctorEngaged(t *testing.T) {
	nstest.RequireCommand(t, "ping", "sleep")
	ns := nstest.New(t)
	rep, _ := doctorOf(t, ns.Name)
	if got := statuses(rep, "engaged", "conntrack", "privileges"); got["engaged"] != doctor.Warn || got["conntrack"] != doctor.OK || got["privileges"] != doctor.OK {
		t.Errorf("fresh namespace: %v; want engaged warn, conntrack and privileges ok", got)
	}

	ns.EnableTracking()
	ns.Run("ping", "-c", "1", "-W", "5", "127.0.0.1")
	rep, _ = doctorOf(t, ns.Name)
	if got := statuses(rep, "engaged"); got["engaged"] != doctor.OK {
		t.Errorf("after traffic through a ct rule: engaged %v, want ok", got["engaged"])
	}

	// A process in the namespace names it by PID.
	sleeper := ns.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	// ip netns exec execs sleep in the same process, so its PID is the
	// command's once the namespace is entered: wait for that.
	pid := strconv.Itoa(sleeper.Process.Pid)
	waitFor(t, "sleep to enter the namespace", func() bool {
		ino, err := nsInode("/proc/" + pid + "/ns/net")
		want, err2 := nsInode(ns.Path)
		return err == nil && err2 == nil && ino == want
	})
	byPID, _ := doctorOf(t, pid)
	if diff := cmp.Diff(statuses(rep, "engaged", "events", "accounting"), statuses(byPID, "engaged", "events", "accounting")); diff != "" {
		t.Errorf("by name and by PID differ (-name +pid):\n%s", diff)
	}
}
