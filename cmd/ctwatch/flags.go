package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// sizeValue is a flag holding a byte count, written with an optional K, M or
// G suffix (powers of 1024).
type sizeValue int64

func (s *sizeValue) String() string { return formatSize(int64(*s)) }

func (s *sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeValue(n)
	return nil
}

// sizeFlag defines a size flag on fs.
func sizeFlag(fs *flag.FlagSet, name string, value int64, usage string) *sizeValue {
	s := sizeValue(value)
	fs.Var(&s, name, usage)
	return &s
}

// parseSize parses "8388608", "8M", "512k", "1G" (also "8MiB", "8MB": all
// powers of 1024, as buffer sizes are).
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s, "iB"), "B"), "b")
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	// 2 GiB is the kernel's ceiling for a socket buffer (an int).
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		return 0, fmt.Errorf("invalid size %q: want bytes, optionally with a K, M or G suffix, up to 2G", v)
	}
	return n * mult, nil
}

// formatSize prints n with the largest suffix that divides it.
func formatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "G"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "M"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "K"
	}
	return strconv.FormatInt(n, 10)
}
