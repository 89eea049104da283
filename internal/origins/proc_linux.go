package origins

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// scanProc returns the pid holding each socket inode of want that it finds
// among procRoot's processes, stopping once all are found.
func scanProc(procRoot string, want map[uint64]bool) map[uint64]int32 {
	found := make(map[uint64]int32, len(want))
	dir, err := os.Open(procRoot)
	if err != nil {
		return found
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil && len(names) == 0 {
		return found
	}
	for _, name := range names {
		pid, err := strconv.ParseInt(name, 10, 32)
		if err != nil || pid <= 0 {
			continue
		}
		eachSocket(procRoot, name, func(ino uint64) bool {
			if _, dup := found[ino]; want[ino] && !dup {
				found[ino] = int32(pid)
			}
			return len(found) < len(want)
		})
		if len(found) == len(want) {
			return found
		}
	}
	return found
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
