package origins

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// scanProc looks for the process holding socket target among procRoot's
// processes, newest (highest pid) first, and returns the owners it met of
// it and of the other sockets of want, their command names read as each
// is met (a short-lived requester may be gone a moment later). It stops
// once target's owner is found.
//
// Newest first, because the socket an event names but no owner is known
// of is almost always a new one, of a process just started (conntrack -D
// requests from a second socket, whose port id is no pid): the oldest
// processes come first in /proc, and reading their fds first would give
// the requester the time to exit.
//
// The processes of hints come first of all: the table's port ids that may
// be pids (a process's first socket is named after it), for the requester
// that opened a socket of each kind, such as conntrack -D (a dump socket
// named after it, then the one it deletes from).
func scanProc(procRoot string, want map[uint64]bool, target uint64, hints []int) map[uint64]owner {
	found := make(map[uint64]owner)
	look := func(pid int) bool {
		eachSocket(procRoot, strconv.Itoa(pid), func(ino uint64) bool {
			if _, dup := found[ino]; (ino == target || want[ino]) && !dup {
				if prog := readComm(procRoot, int32(pid)); prog != "" {
					found[ino] = owner{pid: int32(pid), program: prog}
				}
			}
			_, done := found[target]
			return !done
		})
		_, done := found[target]
		return done
	}
	for _, pid := range hints {
		if look(pid) {
			return found
		}
	}
	dir, err := os.Open(procRoot)
	if err != nil {
		return found
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil && len(names) == 0 {
		return found
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.ParseInt(name, 10, 32); err == nil && pid > 0 {
			pids = append(pids, int(pid))
		}
	}
	slices.Sort(pids)
	for _, pid := range slices.Backward(pids) {
		if !slices.Contains(hints, pid) && look(pid) {
			return found
		}
	}
	return found
}

// owner is the process holding a socket.
type owner struct {
	pid     int32
	program string
}

// holdsSocket reports whether process pid has the socket with inode ino
// open.
func holdsSocket(procRoot string, pid int32, ino uint64) bool {
	held := false
	eachSocket(procRoot, strconv.Itoa(int(pid)), func(i uint64) bool {
		held = i == ino
		return !held
	})
	return held
}

// eachSocket calls f with the inode of each socket the process with the
// /proc directory name pid has open, while f returns true. A process gone
// or not ours to read has none.
func eachSocket(procRoot, pid string, f func(ino uint64) bool) {
	fdDir := filepath.Join(procRoot, pid, "fd")
	fds, err := readDirNames(fdDir)
	if err != nil {
		return
	}
	for _, fd := range fds {
		target, err := os.Readlink(fdDir + "/" + fd)
		if err != nil {
			continue
		}
		if ino, ok := parseSocketLink(target); ok && !f(ino) {
			return
		}
	}
}

func readDirNames(path string) ([]string, error) {
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// readComm returns /proc/PID/comm without its newline, or "" when the
// process is gone.
func readComm(procRoot string, pid int32) string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(int(pid)), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
