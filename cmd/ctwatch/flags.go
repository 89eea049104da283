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

// optionalValue is a flag whose value is optional, as conntrack's
// --src-nat[=ADDR]: given bare it sets on, given a value it sets value.
// The flag package takes it for a boolean flag, so that a bare flag does
// not swallow the next argument; joinOptionalValues lets it take one
// anyway, as conntrack does.
type optionalValue struct {
	on    *bool
	value *string
	// placeholder names the value in help ("ADDRS").
	placeholder string
}

func (o *optionalValue) IsBoolFlag() bool { return true }

// optionalArg tells help that the value is optional, and its name.
func (o *optionalValue) optionalArg() string { return o.placeholder }

func (o *optionalValue) String() string {
	if o.value == nil {
		return ""
	}
	if *o.value != "" {
		return *o.value
	}
	if *o.on {
		return "true"
	}
	return ""
}

func (o *optionalValue) Set(v string) error {
	switch v {
	case "true":
		*o.on = true
	case "false":
		*o.on, *o.value = false, ""
	default:
		*o.value = v
	}
	return nil
}

// optionalFlag defines a flag with an optional value on fs.
func optionalFlag(fs *flag.FlagSet, name string, on *bool, value *string, placeholder, usage string) {
	fs.Var(&optionalValue{on: on, value: value, placeholder: placeholder}, name, usage)
}

// joinOptionalValues rewrites "--NAME VALUE" into "--NAME=VALUE" for
// flags of fs with an optional value, where VALUE does not start with '-'
// (conntrack's get_optional_arg takes the next argument so). Only for
// commands without arguments, where VALUE can be nothing else.
func joinOptionalValues(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if len(a) < 2 || a[0] != '-' || strings.Contains(a, "=") || i+1 >= len(args) {
			continue
		}
		f := fs.Lookup(strings.TrimLeft(a, "-"))
		if f == nil {
			continue
		}
		if _, ok := f.Value.(*optionalValue); !ok {
			continue
		}
		if next := args[i+1]; next != "" && next[0] != '-' {
			out[len(out)-1] = a + "=" + next
			i++
		}
	}
	return out
}

// joinedValue is a flag that may be given several times, its values
// joined with commas: conntrack joins "-l foo -l bar" so.
type joinedValue struct{ s *string }

func (j joinedValue) String() string {
	if j.s == nil {
		return ""
	}
	return *j.s
}

func (j joinedValue) Set(v string) error {
	if *j.s != "" {
		v = *j.s + "," + v
	}
	*j.s = v
	return nil
}
