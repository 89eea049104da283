package netns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// nsfsInode reads the inode number out of a namespace link's text
// ("net:[4026532451]", as readlink of /proc/PID/ns/net and the root field
// of an nsfs mount say it). ok is false for anything else.
func nsfsInode(s []byte) (ino uint64, ok bool) {
	rest, found := bytes.CutPrefix(s, []byte("net:["))
	if !found || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	ino, err := strconv.ParseUint(string(rest[:len(rest)-1]), 10, 64)
	return ino, err == nil
}

// MountError is a line of a mountinfo file that could not be read.
type MountError struct {
	// Path is the file, Line its 1-based line number.
	Path string
	Line int
	// Field names what was wrong.
	Field string
}

func (e *MountError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Field)
}

// nsfsMounts returns the inodes of the network namespaces mounted in the
// mountinfo table r (/proc/self/mountinfo): a bind mount of a namespace
// file, as "ip netns add" makes under /run/netns, holds the namespace
// alive. Its fields (proc(5)): ID, parent, major:minor, root, mount point,
// options, optional fields up to "-", then the file system type. A
// malformed line is skipped and reported in errs, the rest still read.
func nsfsMounts(r io.Reader, path string) (inodes map[uint64]bool, errs []error, err error) {
	inodes = make(map[uint64]bool)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if string(fields[i]) == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			errs = append(errs, &MountError{Path: path, Line: line, Field: `want "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE OPTIONS"`})
			continue
		}
		if string(fields[sep+1]) != "nsfs" {
			continue
		}
		if ino, ok := nsfsInode(fields[3]); ok {
			inodes[ino] = true
		}
	}
	if err := sc.Err(); err != nil {
		return inodes, errs, fmt.Errorf("read %s: %w", path, err)
	}
	return inodes, errs, nil
}
