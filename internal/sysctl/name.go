package sysctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// procSys is where the kernel exposes sysctls.
const procSys = "/proc/sys/"

// ErrInvalidName is returned for a sysctl name that cannot name a file below
// /proc/sys (empty, with an empty, "." or ".." component, or a NUL byte).
var ErrInvalidName = errors.New("invalid sysctl name")

// ErrInvalidValue is returned when a sysctl's value is not what the caller
// asked to parse it as.
var ErrInvalidValue = errors.New("invalid sysctl value")

// Path returns the file below /proc/sys that holds the sysctl name, given
// in dotted form ("net.core.rmem_max") or, when it contains '/', in slash
// form ("net/ipv4/conf/eth0.10/rp_filter").
func Path(name string) (string, error) {
	sep := "."
	if strings.Contains(name, "/") {
		sep = "/"
	}
	parts := strings.Split(name, sep)
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsRune(p, 0) {
			return "", fmt.Errorf("sysctl %q: %w", name, ErrInvalidName)
		}
	}
	return procSys + strings.Join(parts, "/"), nil
}

// ParseInt parses a sysctl's value holding one integer, as the kernel
// prints it: decimal, possibly negative, followed by a newline.
func ParseInt(value string) (int64, error) {
	s := strings.TrimSpace(value)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: want one integer, got %q", ErrInvalidValue, truncate(value))
	}
	return n, nil
}

// ParseInts parses a sysctl's value holding a vector of integers, which the
// kernel separates with tabs ("4096\t131072\t6291456\n" for net.ipv4.tcp_rmem).
func ParseInts(value string) ([]int64, error) {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: want integers, got %q", ErrInvalidValue, truncate(value))
	}
	out := make([]int64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: want integers, got %q", ErrInvalidValue, truncate(value))
		}
		out[i] = n
	}
	return out, nil
}

// truncate shortens a value quoted in an error: a sysctl can hold a page of
// text.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
