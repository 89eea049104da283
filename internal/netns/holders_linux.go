package netns

import (
	"fmt"
	"os"
	"strconv"
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
// It reads every process's namespace link: call it every few seconds, not
// per event.
func (h *Handle) Orphaned() (bool, error) {
	if h == nil || h.self {
		return false, nil
	}
	return orphaned("/proc", os.Getpid(), h.ino)
}

// orphaned is Orphaned on the proc file system at proc, for process self
// and namespace inode ino.
func orphaned(proc string, self int, ino uint64) (bool, error) {
	f, err := os.Open(proc + "/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mounts: %w", err)
	}
	mounts, _, err := nsfsMounts(f, f.Name())
	f.Close()
	if err != nil {
		return false, err
	}
	// Malformed mountinfo lines are the kernel's, not input to report:
	// a namespace mounted on one of them is looked for in the processes
	// all the same.
	if mounts[ino] {
		return false, nil
	}
	dir, err := os.ReadDir(proc)
	if err != nil {
		return false, fmt.Errorf("list processes: %w", err)
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
		if i, ok := nsfsInode([]byte(link)); ok && i == ino {
			return false, nil
		}
	}
	return true, nil
}
