package netns

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Orphaned reports whether nothing outside this process holds the
// namespace any more: no other process lives in it (/proc/PID/ns/net) and
// no mount names it (a name under /run/netns, or another bind mount of the
// namespace file, as seen in this process's mount namespace). ctwatch's own
// descriptor keeps an orphaned namespace alive, with its conntrack table
// emptied of new traffic: a watch there sees nothing more, ever, and
// should say so. The caller's own namespace is never orphaned.
//
// Descriptors other processes hold open on the namespace file are not
// looked for (reading every process's descriptors costs too much to do
// periodically); a namespace held only that way is reported orphaned.
//
// While the file the handle was opened by (a name under /run/netns, a
// bind mount, /proc/PID/ns/net) still is the namespace, that holds it and
// one stat answers. Otherwise it reads this process's mount table and every
// process's namespace link: call it every few seconds, not per event.
func (h *Handle) Orphaned() (bool, error) {
	if h == nil || h.self {
		return false, nil
	}
	if h.heldByPath() {
		return false, nil
	}
	return orphaned("/proc", os.Getpid(), h.ino)
}

// heldByPath reports whether the handle's path still names its namespace:
// a name or bind mount not yet removed, a process that still lives in it.
// A path that no longer does (removed, unmounted, a process gone or moved,
// its pid reused) says nothing of other holders.
func (h *Handle) heldByPath() bool {
	if h.path == "" {
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat(h.path, &st); err != nil {
		return false
	}
	return st.Ino == h.ino && st.Dev == h.dev
}

// orphaned is Orphaned on the proc file system at proc, for process self
// and namespace inode ino.
func orphaned(proc string, self int, ino uint64) (bool, error) {
	mounts, err := mounted(proc)
	if err != nil {
		return false, err
	}
	if mounts[ino] {
		return false, nil
	}
	held := false
	err = walkProcesses(proc, self, func(_ int, i uint64) bool {
		held = i == ino
		return !held
	})
	if err != nil {
		return false, err
	}
	return !held, nil
}

// mounted returns the inodes of the network namespaces bind-mounted in
// this process's mount namespace (proc/self/mountinfo).
func mounted(proc string) (map[uint64]bool, error) {
	f, err := os.Open(proc + "/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	// Malformed mountinfo lines are the kernel's, not input to report:
	// a namespace mounted on one of them is looked for in the processes
	// all the same.
	mounts, _, err := nsfsMounts(f, f.Name())
	return mounts, err
}

// walkProcesses calls f with each process of proc but self and the inode
// of its network namespace, in the order the directory lists them, until f
// returns false. It reads one link per process and opens nothing.
func walkProcesses(proc string, self int, f func(pid int, ino uint64) bool) error {
	dir, err := os.ReadDir(proc)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		link, err := os.Readlink(proc + "/" + d.Name() + "/ns/net")
		if err != nil {
			// The process exited while the list was read, or its link
			// cannot be read (another user's, without privilege): it is
			// not known to hold the namespace.
			continue
		}
		if ino, ok := nsfsInode([]byte(link)); ok && !f(pid, ino) {
			return nil
		}
	}
	return nil
}

// Census is who holds which network namespaces at one moment, by
// [Handle.Orphaned]'s rule: the processes living in each (this process
// excepted, so that its own descriptors and threads never count) and the
// bind mounts naming it.
type Census struct {
	// LowestPID maps a namespace's inode to the lowest process id living
	// in it.
	LowestPID map[uint64]int
	// Mounted holds the inodes of the namespaces bind-mounted in this
	// process's mount namespace (names under /run/netns among them).
	Mounted map[uint64]bool
}

// Held reports whether a process or a mount holds the namespace ino.
func (c *Census) Held(ino uint64) bool {
	_, p := c.LowestPID[ino]
	return p || c.Mounted[ino]
}

// TakeCensus reads every process's namespace link and this process's mount
// table once. Like Orphaned it costs a link read per process: call it every
// few seconds, not per event.
func TakeCensus() (*Census, error) {
	return takeCensus("/proc", os.Getpid())
}

func takeCensus(proc string, self int) (*Census, error) {
	mounts, err := mounted(proc)
	if err != nil {
		return nil, err
	}
	c := &Census{LowestPID: make(map[uint64]int), Mounted: mounts}
	err = walkProcesses(proc, self, func(pid int, ino uint64) bool {
		if low, ok := c.LowestPID[ino]; !ok || pid < low {
			c.LowestPID[ino] = pid
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
