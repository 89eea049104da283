package sysctl

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// maxValueLen bounds how much of a sysctl is read: the values this package is
// for are numbers and short strings.
const maxValueLen = 4096

// Read returns the value of the sysctl name in the network namespace ns,
// without its trailing newline; a nil ns is the caller's own namespace.
// /proc/sys/net resolves against the namespace of the thread that opens it,
// so the read happens on a thread switched into ns (netns.Handle.Do). A sysctl the
// kernel does not have returns an error satisfying errors.Is(err,
// fs.ErrNotExist).
func Read(ns *netns.Handle, name string) (string, error) {
	path, err := Path(name)
	if err != nil {
		return "", err
	}
	var v string
	err = ns.Do(func() error {
		var rerr error
		v, rerr = readFile(path)
		return rerr
	})
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", name, err)
	}
	return v, nil
}

// ReadInt returns the value of a sysctl holding one integer; see Read.
func ReadInt(ns *netns.Handle, name string) (int64, error) {
	v, err := Read(ns, name)
	if err != nil {
		return 0, err
	}
	n, err := ParseInt(v)
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %w", name, err)
	}
	return n, nil
}

// Write sets the sysctl name in the namespace ns to value. Tests use it on
// their own namespaces; only net.* sysctls are per-namespace, and the kernel
// refuses writes to the global ones (such as nf_conntrack_max) from any
// namespace but the initial one.
func Write(ns *netns.Handle, name, value string) error {
	path, err := Path(name)
	if err != nil {
		return err
	}
	err = ns.Do(func() error {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_TRUNC, 0)
		if err != nil {
			return &fs.PathError{Op: "open", Path: path, Err: err}
		}
		defer unix.Close(fd)
		if _, err := unix.Write(fd, []byte(value)); err != nil {
			return &fs.PathError{Op: "write", Path: path, Err: err}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", name, err)
	}
	return nil
}

// ReadAll reads several sysctls in one switch into the namespace ns (nil is
// the caller's own). A sysctl that cannot be read does
// not fail the others: its error is kept in the Values. The error returned
// is for the namespace switch, or for a name that is not valid.
func ReadAll(ns *netns.Handle, names ...string) (Values, error) {
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := Path(n)
		if err != nil {
			return Values{}, err
		}
		paths[i] = p
	}
	vals := Values{m: make(map[string]result, len(names))}
	err := ns.Do(func() error {
		for i, p := range paths {
			v, err := readFile(p)
			if err != nil {
				err = fmt.Errorf("sysctl %s: %w", names[i], err)
			}
			vals.m[names[i]] = result{value: v, err: err}
		}
		return nil
	})
	if err != nil {
		return Values{}, fmt.Errorf("read sysctls: %w", err)
	}
	return vals, nil
}

// readFile reads one /proc/sys file with plain system calls, which run on
// the calling thread: the namespace a sysctl resolves against is decided
// when it is opened, by the opening thread.
func readFile(path string) (string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, maxValueLen)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	v := buf[:n]
	if len(v) > 0 && v[len(v)-1] == '\n' {
		v = v[:len(v)-1]
	}
	return string(v), nil
}
