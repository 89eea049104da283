package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"

	"golang.org/x/sys/unix"
)

// maxValueLen bounds how much of a sysctl is read: the values this package is
// for are numbers and short strings.
const maxValueLen = 4096

// Read returns the value of the sysctl name in the network namespace nsFD
// (an open /proc/PID/ns/net or /run/netns/NAME), without its trailing
// newline. A negative nsFD reads the caller's own namespace. A sysctl the
// kernel does not have returns an error satisfying errors.Is(err,
// fs.ErrNotExist).
func Read(nsFD int, name string) (string, error) {
	path, err := Path(name)
	if err != nil {
		return "", err
	}
	var v string
	err = inNamespace(nsFD, func() error {
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
func ReadInt(nsFD int, name string) (int64, error) {
	v, err := Read(nsFD, name)
	if err != nil {
		return 0, err
	}
	n, err := ParseInt(v)
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %w", name, err)
	}
	return n, nil
}

// Write sets the sysctl name in the namespace nsFD to value. Tests use it on
// their own namespaces; only net.* sysctls are per-namespace, and the kernel
// refuses writes to the global ones (such as nf_conntrack_max) from any
// namespace but the initial one.
func Write(nsFD int, name, value string) error {
	path, err := Path(name)
	if err != nil {
		return err
	}
	err = inNamespace(nsFD, func() error {
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

// ReadAll reads several sysctls in one switch into the namespace nsFD (a
// negative nsFD reads the caller's own). A sysctl that cannot be read does
// not fail the others: its error is kept in the Values. The error returned
// is for the namespace switch, or for a name that is not valid.
func ReadAll(nsFD int, names ...string) (Values, error) {
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := Path(n)
		if err != nil {
			return Values{}, err
		}
		paths[i] = p
	}
	vals := Values{m: make(map[string]result, len(names))}
	err := inNamespace(nsFD, func() error {
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

// inNamespace runs f on an OS thread switched into the network namespace
// nsFD, or on the calling goroutine when nsFD is negative.
func inNamespace(nsFD int, f func() error) error {
	if nsFD < 0 {
		return f()
	}
	errc := make(chan error, 1)
	// A fresh goroutine keeps the caller's own thread out of the switch: the
	// thread that switched is either switched back or thrown away.
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			// The thread has not moved, so it can go back to the pool.
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Returning while still locked makes the runtime end the
			// thread rather than schedule other goroutines in the wrong
			// namespace.
			errc <- fmt.Errorf("return to original network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
