package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one of ctwatch's subcommands, as help, the man page and the
// completions describe it.
type command struct {
	name     string
	summary  string // one line
	synopsis string // after "ctwatch "
	hasFlags bool
}

// commands are ctwatch's subcommands, in the order help lists them. watch
// is also what ctwatch runs without a command.
var commands = []command{
	{"watch", "stream the conntrack table's events live (the default command)", "[watch] [FLAGS]", true},
	{"parse", "convert saved conntrack -E / -L logs, /proc snapshots and ctwatch logs to JSON or text", "parse [FLAGS] [FILE...]", true},
	{"stats", "print one reading of the table's fill and statistics counters", "stats [FLAGS]", true},
	{"doctor", "check this host's conntrack setup and say what to fix", "doctor [FLAGS]", true},
	{"version", "print ctwatch's version", "version", false},
	{"completion", "print a shell completion script: bash or zsh", "completion bash|zsh", false},
	{"man", "print the manual page (roff; ctwatch man | man -l -)", "man", false},
	{"help", "show the commands, or a command's flags", "help [COMMAND]", false},
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// flagGroups sorts each command's flags under headings, in order. A flag
// not named here is listed under "Other flags" (TestEveryFlagHasAGroup
// keeps that list empty).
var flagGroups = map[string][]struct {
	title string
	flags []string
}{
	"watch": {
		{"Selection (conntrack -E's filters)", []string{"netns", "all-netns", "events", "family", "proto", "src", "dst", "port", "sport", "dport", "state", "status", "zone", "mark",
			"reply-src", "reply-dst", "reply-sport", "reply-dport", "mask-src", "mask-dst", "src-nat", "dst-nat", "any-nat", "label",
			"orig-zone", "reply-zone", "icmp-type", "icmp-code", "icmp-id", "secmark", "srckey", "dstkey", "reply-key-src", "reply-key-dst",
			"orig-vtag", "reply-vtag", "role"}},
		{"Selection: conntrack's other spellings", []string{"protonum", "orig-src", "orig-dst", "orig-port-src", "orig-port-dst", "reply-port-src", "reply-port-dst", "orig-key-src", "orig-key-dst"}},
		{"Output", []string{"format", "schema", "text-opts", "output", "queue-max-bytes", "spool", "spool-max-bytes", "spool-sync", "updates", "snapshot", "log-level", "host-name", "heartbeat", "connlabel-file", "allow-other-owner"}},
		{"Flows and table health", []string{"max-flows", "unreplied-after", "reconcile-interval", "stats-interval", "table-warn", "metrics-addr", "on-netns-gone", "netns-metrics-max"}},
		{"Tuning", []string{"buffer-size", "coalesce", "cpuprofile"}},
	},
	"parse": {
		{"Output", []string{"format", "schema", "text-opts", "host-name", "connlabel-file"}},
		{"Input", []string{"tz"}},
	},
	"stats":  {{"Flags", []string{"netns", "json", "per-cpu", "timeout"}}},
	"doctor": {{"Flags", []string{"netns", "json", "buffer-size", "timeout"}}},
}

// usage is the top-level help: the commands, one line each.
func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: ctwatch [COMMAND] [FLAGS]\n\n")
	fmt.Fprint(w, "ctwatch watches the Linux connection-tracking table live over netlink and\nwrites one structured record per event.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"ctwatch COMMAND -h\" (or \"ctwatch help COMMAND\") for a command's flags;\n\"ctwatch --version\" prints the version. The README and docs/ explain the records.\n")
}

// flagCollector is a writer that captures the flag set a command defines:
// passed as a command's stderr with "-h", it lets the man page and the
// completions be made from the very flags the command parses.
type flagCollector struct {
	io.Writer
	fs *flag.FlagSet
}

// commandFlags returns the flags of command name, as it defines them.
func commandFlags(name string) *flag.FlagSet {
	c, ok := lookupCommand(name)
	if !ok || !c.hasFlags {
		return nil
	}
	fc := &flagCollector{Writer: io.Discard}
	_ = runCommand(context.Background(), name, []string{"-h"}, io.Discard, fc)
	return fc.fs
}

// flagSection is one heading of a command's flags and the flags under it.
type flagSection struct {
	title string
	flags []*flag.Flag
}

// sections sorts fs's flags under the command's headings.
func sections(name string, fs *flag.FlagSet) []flagSection {
	var out []flagSection
	seen := map[string]bool{}
	for _, g := range flagGroups[name] {
		s := flagSection{title: g.title}
		for _, n := range g.flags {
			if f := fs.Lookup(n); f != nil {
				s.flags = append(s.flags, f)
				seen[n] = true
			}
		}
		if len(s.flags) > 0 {
			out = append(out, s)
		}
	}
	other := flagSection{title: "Other flags"}
	fs.VisitAll(func(f *flag.Flag) {
		if !seen[f.Name] {
			other.flags = append(other.flags, f)
		}
	})
	if len(other.flags) > 0 {
		out = append(out, other)
	}
	return out
}

// placeholders name what a flag's value is, where its type alone
// (STRING, VALUE) would not say.
var placeholders = map[string]string{
	"netns": "NS", "events": "TYPES", "family": "FAMILIES", "proto": "PROTOS",
	"src": "ADDRS", "dst": "ADDRS", "port": "PORTS", "sport": "PORTS", "dport": "PORTS",
	"state": "STATES", "status": "STATUS", "zone": "ZONES", "mark": "MARK",
	"protonum": "PROTOS", "orig-src": "ADDRS", "orig-dst": "ADDRS", "orig-port-src": "PORTS", "orig-port-dst": "PORTS",
	"reply-src": "ADDRS", "reply-dst": "ADDRS", "reply-sport": "PORTS", "reply-dport": "PORTS",
	"reply-port-src": "PORTS", "reply-port-dst": "PORTS", "mask-src": "MASKS", "mask-dst": "MASKS",
	"label": "LABELS", "orig-zone": "ZONES", "reply-zone": "ZONES", "icmp-type": "TYPES", "icmp-code": "CODES",
	"icmp-id": "IDS", "secmark": "MARK", "srckey": "KEYS", "dstkey": "KEYS", "reply-key-src": "KEYS", "reply-key-dst": "KEYS",
	"orig-key-src": "KEYS", "orig-key-dst": "KEYS", "orig-vtag": "VTAGS", "reply-vtag": "VTAGS", "role": "ROLES",
	"format": "FORMAT", "schema": "SCHEMA", "text-opts": "OPTS", "output": "DEST", "queue-max-bytes": "BYTES", "spool": "DIR", "spool-max-bytes": "BYTES", "spool-sync": "DURATION",
	"updates": "POLICY", "log-level": "LEVEL", "host-name": "NAME", "connlabel-file": "PATH",
	"table-warn": "PERCENTS", "metrics-addr": "ADDR", "buffer-size": "SIZE",
	"cpuprofile": "PATH", "tz": "ZONE", "max-flows": "N", "on-netns-gone": "POLICY", "netns-metrics-max": "N",
}

// machineDefaults are flags whose default depends on the machine (the
// buffer is sized from its memory): their usage says how, and the man page
// and completions, which must be the same everywhere, show no value.
var machineDefaults = map[string]bool{"buffer-size": true}

// optionalArg is the placeholder of a flag whose value is optional
// (--src-nat[=ADDRS]), or "".
func optionalArg(f *flag.Flag) string {
	if o, ok := f.Value.(interface{ optionalArg() string }); ok {
		return o.optionalArg()
	}
	return ""
}

// flagHead is a flag as help shows it: "--name", "--name VALUE", or
// "--name[=VALUE]" when the value is optional.
func flagHead(f *flag.Flag) string {
	if o := optionalArg(f); o != "" {
		return "--" + f.Name + "[=" + o + "]"
	}
	head := "--" + f.Name
	if arg, _ := flagArg(f); arg != "" {
		head += " " + arg
	}
	return head
}

// flagArg is the placeholder a flag's value is shown with, or none for a
// boolean or an optional value, and its usage.
func flagArg(f *flag.Flag) (arg, usage string) {
	arg, usage = flag.UnquoteUsage(f)
	if p, ok := placeholders[f.Name]; ok {
		arg = p
	}
	if isBool(f) {
		arg = ""
	}
	return strings.ToUpper(arg), usage
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// defaultText is a flag's default as help shows it, empty for a zero or
// empty default.
func defaultText(f *flag.Flag) string {
	if machineDefaults[f.Name] {
		return ""
	}
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
		return ""
	}
	return f.DefValue
}

// commandUsage writes a command's help: its synopsis and its flags, GNU
// style (--name VALUE), grouped.
func commandUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: ctwatch %s\n\n%s.\n", c.synopsis, upperFirst(c.summary))
	for _, s := range sections(c.name, fs) {
		fmt.Fprintf(w, "\n%s:\n", s.title)
		for _, f := range s.flags {
			_, u := flagArg(f)
			head := "  " + flagHead(f)
			if d := defaultText(f); d != "" {
				u += " (default " + d + ")"
			}
			if len(head) <= 26 {
				fmt.Fprintf(w, "%-28s%s\n", head, u)
			} else {
				fmt.Fprintf(w, "%s\n%28s%s\n", head, "", u)
			}
		}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// unknownFlag checks args against fs before fs parses them, as the flag
// package reads them (up to "--" or the first non-flag), so that a
// misspelled flag is one line naming the closest one, and not the flag
// package's message followed by the whole usage.
func unknownFlag(fs *flag.FlagSet, cmd string, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return nil
		}
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		if name == "h" || name == "help" {
			return nil
		}
		f := fs.Lookup(name)
		if f == nil {
			msg := fmt.Sprintf("unknown flag --%s", name)
			if best := closest(name, flagNames(fs)); best != "" {
				msg += fmt.Sprintf("; did you mean --%s?", best)
			}
			return usageError{fmt.Errorf("%s (ctwatch %s -h lists the flags)", msg, cmd)}
		}
		if !hasValue && !isBool(f) {
			i++ // the next argument is the value
		}
	}
	return nil
}

func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// closest returns the candidate nearest to s by edit distance (a swap of
// two neighbours counting as one edit), if it is near enough to be what was
// meant (at most a third of s's length, at least 1), or else a candidate s
// is a prefix of. Ties go to a candidate s is a prefix of, then to the
// first in order.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+1
	for _, c := range candidates {
		d := editDistance(s, c)
		better := d < bestD
		if d == bestD && best != "" {
			better = strings.HasPrefix(c, s) && !strings.HasPrefix(best, s)
		}
		if better {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(c, s) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 0 {
		return ""
	}
	slices.Sort(prefixed)
	return prefixed[0]
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// errUnknownCommand is an unknown command's usage error.
var errUnknownCommand = errors.New("unknown command")

func unknownCommand(name string) error {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	msg := fmt.Sprintf("%q", name)
	if best := closest(name, names); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	return usageError{fmt.Errorf("%w %s (ctwatch -h lists the commands)", errUnknownCommand, msg)}
}
