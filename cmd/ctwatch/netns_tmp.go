package main

// This file is a stand-in for pkg/netns, which is being written on another
// branch; the lead replaces openNetns with netns.Open when it lands.

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// errNetnsSpec is a --netns value that names no namespace.
var errNetnsSpec = errors.New("want a namespace NAME (under /run/netns), a PATH or a PID")

// openNetns opens the network namespace --netns names: a NAME under
// /run/netns, a PATH (anything containing '/'), or a PID (all digits) whose
// namespace /proc/PID/ns/net is. An empty spec means ctwatch's own
// namespace, returned as -1 with nothing to close.
func openNetns(spec string) (fd int, closeFn func(), err error) {
	if spec == "" {
		return -1, func() {}, nil
	}
	var path string
	switch {
	case strings.Contains(spec, "/"):
		path = spec
	case strings.Trim(spec, "0123456789") == "":
		path = "/proc/" + spec + "/ns/net"
	case spec == "." || spec == "..":
		return -1, nil, fmt.Errorf("--netns %q: %w", spec, errNetnsSpec)
	default:
		path = "/run/netns/" + spec
	}
	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("--netns %q: open %s: %w", spec, path, err)
	}
	return fd, func() { unix.Close(fd) }, nil
}
