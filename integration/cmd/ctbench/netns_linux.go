//go:build integration

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// benchRuleset engages connection tracking in the namespace (the kernel
// tracks a namespace's traffic only once a rule needs it) and drops the UDP
// load's datagrams on input, after tracking has seen them, so that no ICMP
// port-unreachable is sent back for each.
const benchRuleset = `table inet ctbench {
	chain output {
		type filter hook output priority 0; policy accept;
		ct state new,established,related,invalid accept
	}
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr 127.0.0.1 udp dport 1024-65535 drop
		ct state new,established,related,invalid accept
	}
}
`

// namespace is a network namespace the benchmark created and deletes.
type namespace struct {
	Name string
	h    *netns.Handle
	// netlinkTable and ctCount are files of the namespace's /proc,
	// opened from inside it: they stay bound to it and are read again
	// from the start for each poll, with no process started per poll.
	netlinkTable *os.File
	ctCount      *os.File
}

// newNamespace creates a namespace with its loopback up and tracking on.
// On error, nothing is left behind.
func newNamespace() (_ *namespace, err error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("namespace name: %w", err)
	}
	ns := &namespace{Name: "ctbench-" + hex.EncodeToString(b[:])}
	if err := runCmd(exec.Command("ip", "netns", "add", ns.Name), nil); err != nil {
		return nil, fmt.Errorf("create namespace: %w", err)
	}
	defer func() {
		if err != nil {
			ns.close()
		}
	}()
	if ns.h, err = netns.Open(ns.Name); err != nil {
		return nil, err
	}
	if err := runCmd(exec.Command("ip", "-n", ns.Name, "link", "set", "lo", "up"), nil); err != nil {
		return nil, fmt.Errorf("loopback up: %w", err)
	}
	if err := runCmd(ns.command("nft", "-f", "-"), strings.NewReader(benchRuleset)); err != nil {
		return nil, fmt.Errorf("load nftables ruleset: %w", err)
	}
	err = ns.h.Do(func() error {
		var err error
		if ns.netlinkTable, err = os.Open("/proc/thread-self/net/netlink"); err != nil {
			return err
		}
		ns.ctCount, err = os.Open("/proc/sys/net/netfilter/nf_conntrack_count")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open the namespace's /proc files: %w", err)
	}
	return ns, nil
}

// close deletes the namespace. Processes still inside would keep it alive
// unnamed: the harness stops them first.
func (ns *namespace) close() error {
	for _, f := range []*os.File{ns.netlinkTable, ns.ctCount} {
		if f != nil {
			f.Close()
		}
	}
	ns.h.Close() // nil-safe

	if err := runCmd(exec.Command("ip", "netns", "del", ns.Name), nil); err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns.Name, err)
	}
	return nil
}

// command returns a command that runs inside the namespace; ip netns exec
// execs it, so its PID is the command's own.
func (ns *namespace) command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name}, argv...)...)
}

// readAgain reads a /proc file from its start.
func readAgain(f *os.File) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// netlinkSockets reads the namespace's /proc/net/netlink.
func (ns *namespace) netlinkSockets() ([]netlinkSocket, error) {
	data, err := readAgain(ns.netlinkTable)
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/netlink: %w", err)
	}
	return parseNetlinkTable(data)
}

// conntrackCount reads the number of entries in the namespace's table.
func (ns *namespace) conntrackCount() (int, error) {
	data, err := readAgain(ns.ctCount)
	if err != nil {
		return 0, fmt.Errorf("read nf_conntrack_count: %w", err)
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	if err != nil {
		return 0, fmt.Errorf("nf_conntrack_count %q: %w", data, err)
	}
	return n, nil
}

// runCmd runs a short command; its error includes its standard error.
func runCmd(cmd *exec.Cmd, stdin io.Reader) error {
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = stdin, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
