//go:build integration

package nstest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// conntrackGroups is the Groups-column mask of conntrack's event groups in
// /proc/net/netlink (bit n is group n+1): NFNLGRP_CONNTRACK_NEW, _UPDATE,
// _DESTROY and the three expectation groups. Joining any of them sets the
// kernel's nf_ctnetlink_has_listener (net/netfilter/nfnetlink.c), the flag
// nf_conntrack_events=2 consults when a conntrack entry is created.
const conntrackGroups = 0x3f

// netlinkNetfilter is NETLINK_NETFILTER, the Eth column of ctnetlink's
// sockets.
const netlinkNetfilter = 12

// Listener is a netlink socket that has joined conntrack's event groups.
type Listener struct {
	// NetNS names where the socket was found: "/proc/PID/net/netlink" or
	// a /run/netns path.
	NetNS string
	// PortID is the socket's netlink port id.
	PortID uint32
	// Groups is the socket's group bitmap as /proc/net/netlink shows it.
	Groups uint32
	// Inode is the socket's inode, as in /proc/PID/fd's "socket:[INODE]".
	Inode uint64
	// PID and Program are a process holding the socket, 0 and "" when
	// none was found.
	PID     int
	Program string
}

// String describes l for a test failure.
func (l Listener) String() string {
	who := "held by no process found in /proc"
	if l.PID != 0 {
		who = fmt.Sprintf("held by pid %d (%s)", l.PID, l.Program)
	}
	return fmt.Sprintf("netlink socket port id %d, groups %#x, inode %d in %s, %s", l.PortID, l.Groups, l.Inode, l.NetNS, who)
}

// ConntrackListeners returns every conntrack event listener it can see on
// the host, with the process holding each.
//
// The kernel keeps "is anyone listening?" in one host-wide flag, but each
// namespace's /proc/net/netlink lists only that namespace's sockets; so it
// reads the table of every distinct namespace some process is in
// (/proc/PID/net) and of every namespace mounted under /run/netns (on a
// thread switched into it). A namespace that neither a process nor a mount
// under /run/netns keeps alive (only an open descriptor or a socket does,
// e.g. one "ip netns del" removed while a listener still runs there) is not
// seen: its listeners are missed.
func ConntrackListeners() ([]Listener, error) {
	seen := make(map[uint64]bool) // namespace inode
	var ls []Listener
	pids, err := procPIDs()
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		ino, ok := nsInode("/proc/" + pid + "/ns/net")
		if !ok || seen[ino] {
			continue
		}
		where := "/proc/" + pid + "/net/netlink"
		b, err := os.ReadFile(where)
		if err != nil {
			continue // the process has exited; another will name its namespace
		}
		seen[ino] = true
		ls = append(ls, parseListeners(string(b), where)...)
	}
	mounts, err := filepath.Glob("/run/netns/*")
	if err != nil {
		return nil, fmt.Errorf("list /run/netns: %w", err)
	}
	for _, path := range mounts {
		ino, ok := nsInode(path)
		if !ok || seen[ino] {
			continue
		}
		b, err := readNetlinkIn(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		seen[ino] = true
		ls = append(ls, parseListeners(string(b), path)...)
	}
	owners := socketOwners(pids)
	for i := range ls {
		if pid, ok := owners[ls[i].Inode]; ok {
			ls[i].PID = pid
			ls[i].Program = comm(pid)
		}
	}
	return ls, nil
}

// RequireNoConntrackListener skips (or, under CI, fails) a test that needs
// the kernel's host-wide "a conntrack event listener exists" flag clear, as
// tests of nf_conntrack_events=2 do: with any listener anywhere on the host,
// every new entry carries the event extension and reports its own end. The
// message names each listener and its process. Listeners it cannot see (see
// ConntrackListeners) are not reported, and one starting after the check
// still disturbs the test: the test should say so when its assertion fails.
func RequireNoConntrackListener(t testing.TB) {
	t.Helper()
	ls, err := ConntrackListeners()
	if err != nil {
		t.Fatalf("look for other conntrack event listeners: %v", err)
	}
	if len(ls) > 0 {
		Skip(t, "needs no other conntrack event listener on the host (nf_conntrack_events=2 decides host-wide); found %d: %s", len(ls), DescribeListeners(ls))
	}
}

// DescribeListeners joins the descriptions of ls for a message.
func DescribeListeners(ls []Listener) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, "; ")
}

// parseListeners returns the sockets of a /proc/net/netlink table that
// joined a conntrack event group; where names the table. Lines that do not
// parse (the header) are skipped.
func parseListeners(table, where string) []Listener {
	var ls []Listener
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) != 10 {
			continue
		}
		proto, err1 := strconv.ParseUint(f[1], 10, 32)
		portid, err2 := strconv.ParseUint(f[2], 10, 32)
		groups, err3 := strconv.ParseUint(f[3], 16, 32)
		inode, err4 := strconv.ParseUint(f[9], 10, 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			continue
		}
		if proto != netlinkNetfilter || groups&conntrackGroups == 0 {
			continue
		}
		ls = append(ls, Listener{NetNS: where, PortID: uint32(portid), Groups: uint32(groups), Inode: inode})
	}
	return ls
}

// procPIDs returns the names of /proc's process directories.
func procPIDs() ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	var pids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			pids = append(pids, e.Name())
		}
	}
	// Lowest first: the host's init and daemons name the host namespace
	// before any test's child does.
	slices.SortFunc(pids, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return pids, nil
}

// nsInode returns the nsfs inode of a namespace file (its identity).
func nsInode(path string) (uint64, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// readNetlinkIn reads the /proc/net/netlink of the namespace mounted at
// path, on a thread switched into it: /proc/thread-self/net shows the
// namespace of the thread that opens it.
func readNetlinkIn(path string) ([]byte, error) {
	h, err := netns.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer h.Close()
	var b []byte
	err = h.Do(func() error {
		var err error
		b, err = os.ReadFile("/proc/thread-self/net/netlink")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/netlink in %s: %w", path, err)
	}
	return b, nil
}

// socketOwners maps the inode of every socket open in the processes pids
// to the first process found holding it.
func socketOwners(pids []string) map[uint64]int {
	owners := make(map[uint64]int)
	for _, pid := range pids {
		dir := "/proc/" + pid + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(pid)
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/" + fd.Name())
			if err != nil {
				continue
			}
			rest, ok := strings.CutPrefix(target, "socket:[")
			if !ok {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
			if _, dup := owners[ino]; err == nil && !dup {
				owners[ino] = n
			}
		}
	}
	return owners
}

// comm returns a process's command name, "" when it has exited.
func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
