//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestFaultsFullTmpfsRecovers: --output on a tmpfs that is full (mounted
// in a private mount namespace of ctwatch's own): the failure is said with
// its errno on stderr; once space returns, the output carries an
// output_error record with the errno and an output_recovered record with
// the records lost, the file holds only whole records, and the status is 1.
func TestFaultsFullTmpfsRecovers(t *testing.T) {
	nstest.RequireCommand(t, "unshare", "dd")
	ns := wtTrackedNS(t)
	dir := t.TempDir()
	// The filler takes all the space before ctwatch starts; the test
	// reaches the private mount through /proc/PID/root.
	script := `mount -t tmpfs -o size=256k tmpfs "$0" || exit 1
dd if=/dev/zero of="$0/filler" bs=4k 2>/dev/null
exec "$1" watch --netns "$2" --output "$0/ct.log" --stats-interval 100ms`
	args := []string{"--mount", "--propagation", "private", "sh", "-c", script, dir, nstest.Binary(t), ns.Name}
	p := wtStartCmd(t, exec.Command("unshare", args...), args)
	wtPoll(t, "the write failure on stderr", func() bool { return strings.Contains(p.stderr.String(), "ENOSPC: disk full") })

	root := fmt.Sprintf("/proc/%d/root", p.cmd.Process.Pid)
	if err := os.Remove(filepath.Join(root, dir, "filler")); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(root, dir, "ct.log")
	wtPoll(t, "the output_recovered record", func() bool {
		for _, l := range readLines(t, log) {
			if strings.Contains(l, `"event":"output_recovered"`) {
				return true
			}
		}
		return false
	})
	var failed, recovered map[string]any
	for _, l := range readLines(t, log) {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("a line of the output is not a whole record: %v: %q", err, l)
		}
		switch r["event"] {
		case "output_error":
			if recovered == nil {
				failed = r
			}
		case "output_recovered":
			recovered = r
		}
	}
	if failed == nil || failed["level"] != "error" || failed["errno"] != "ENOSPC" || failed["op"] != "write" {
		t.Errorf("output_error record %v, want level error, op write, errno ENOSPC, before output_recovered", failed)
	}
	if lost, _ := recovered["lost"].(float64); lost < 1 || recovered["errno"] != "ENOSPC" {
		t.Errorf("output_recovered record %v, want errno ENOSPC and the records lost", recovered)
	}
	if _, code, _ := p.stop(); code != 1 {
		t.Errorf("exit status %d, want 1: records were lost", code)
	}
	if s := p.stderr.String(); !strings.Contains(s, "records handed to the output (not all written") {
		t.Errorf("the stop summary does not say that not all records were written:\n%s", s)
	}
}

// TestFaultsNetnsGone: `watch --netns NAME`, then `ip netns del NAME` with
// no process left in the namespace: a netns_gone record, the tracked flow
// ended as inferred, and exit status 1 with a one-line message, within a
// few seconds.
func TestFaultsNetnsGone(t *testing.T) {
	ns := wtTrackedNS(t)
	p := wtStart(t, "watch", "--netns", ns.Name)
	ct := ns.Conntrack()
	evWithin(t, evTimeout, "create", func() error { return ct.Create(evFlow(17, "10.61.0.1", "10.61.0.2", 4000, 53, 100, 0)) })
	p.waitRecord("the NEW", recordFor(t, model.ProtoUDP, "10.61.0.1", "10.61.0.2", 4000, 53, "new"))

	start := time.Now()
	ns.Delete()
	rest, code, took := p.wait(start)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if took > 5*time.Second {
		t.Errorf("exited %v after the namespace went, want within a few seconds", took)
	}
	var gone, inferred bool
	for _, l := range rest {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		switch {
		case r["event"] == "netns_gone" && r["netns"] == ns.Name && r["action"] == "stop" && r["flows_ended"] == 1.0:
			gone = true
		case r["event"] == "destroy" && r["inferred"] == true:
			inferred = gone
		}
	}
	if !gone || !inferred {
		t.Errorf("netns_gone record %v, then the flow's inferred destroy %v; got:\n%s", gone, inferred, strings.Join(rest, "\n"))
	}
	msg := "ctwatch: the watched network namespace is gone: " + ns.Name
	if s := p.stderr.String(); !strings.Contains(s, msg) {
		t.Errorf("stderr has no %q:\n%s", msg, s)
	}
}

// TestFaultsNetnsGoneWait: with --on-netns-gone wait the watch goes on
// after the netns_gone record, /healthz says 503 and why, and a stop is a
// normal one.
func TestFaultsNetnsGoneWait(t *testing.T) {
	ns := wtTrackedNS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := wtStart(t, "watch", "--netns", ns.Name, "--on-netns-gone", "wait", "--metrics-addr", addr)
	healthz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := healthz(); code != http.StatusOK {
		t.Fatalf("/healthz before: %d %q", code, body)
	}
	ns.Delete()
	r, _ := p.waitRecord("the netns_gone record", func(r map[string]any) bool { return r["event"] == "netns_gone" })
	if r["action"] != "wait" {
		t.Errorf("netns_gone record %v, want action wait", r)
	}
	code, body := healthz()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "is gone") {
		t.Errorf("/healthz once gone: %d %q, want 503 saying the namespace is gone", code, body)
	}
	select {
	case <-p.done:
		t.Fatal("ctwatch exited under --on-netns-gone wait")
	default:
	}
	if _, code, _ := p.stop(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}
