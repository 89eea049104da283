package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHelp: the top-level help lists every command and points at their
// flags; -h, --help, help and --version do what an operator expects.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		out, errOut, code := runCmd(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands {
			if !strings.Contains(out, "\n  "+c.name+" ") {
				t.Errorf("%v: command %s not listed:\n%s", args, c.name, out)
			}
		}
		if !strings.Contains(out, `"ctwatch COMMAND -h"`) {
			t.Errorf("%v: no pointer to the commands' flags:\n%s", args, out)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"-V"}} {
		if out, _, code := runCmd(t, args...); code != 0 || out != "ctwatch "+version+"\n" {
			t.Errorf("%v = %q, exit %d; want the version", args, out, code)
		}
	}
	out, _, code := runCmd(t, "help", "watch")
	if code != 0 || !strings.HasPrefix(out, "Usage: ctwatch [watch] [FLAGS]") || !strings.Contains(out, "\n  --proto PROTOS ") {
		t.Errorf("help watch: exit %d:\n%s", code, out)
	}
}

// TestTypos: a misspelled flag or command is one line naming the closest
// valid one, exit status 2.
func TestTypos(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--prot", "tcp"}, `ctwatch: unknown flag --prot; did you mean --proto? (ctwatch watch -h lists the flags)`},
		{[]string{"watch", "-dprot=80"}, `ctwatch: unknown flag --dprot; did you mean --dport? (ctwatch watch -h lists the flags)`},
		{[]string{"parse", "--schem", "ecs"}, `ctwatch: unknown flag --schem; did you mean --schema? (ctwatch parse -h lists the flags)`},
		{[]string{"stats", "--xyzzy"}, `ctwatch: unknown flag --xyzzy (ctwatch stats -h lists the flags)`},
		{[]string{"wach"}, `ctwatch: unknown command "wach"; did you mean "watch"? (ctwatch -h lists the commands)`},
		{[]string{"help", "dcotor"}, `ctwatch: unknown command "dcotor"; did you mean "doctor"? (ctwatch -h lists the commands)`},
		{[]string{"watch", "--max-flows", "many"}, `ctwatch: invalid value "many" for flag -max-flows: parse error (ctwatch watch -h lists the flags)`},
	} {
		_, errOut, code := runCmd(t, tt.args...)
		if code != 2 || errOut != tt.want+"\n" {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", tt.args, code, errOut, tt.want)
		}
	}
}

// TestEveryFlagHasAGroup: help, the man page and the completions sort
// every flag under a heading; a new flag must be given one.
func TestEveryFlagHasAGroup(t *testing.T) {
	for _, c := range commands {
		fs := commandFlags(c.name)
		if !c.hasFlags {
			if fs != nil {
				t.Errorf("%s has flags but the commands table says none", c.name)
			}
			continue
		}
		if fs == nil {
			t.Fatalf("%s: no flags collected", c.name)
		}
		for _, s := range sections(c.name, fs) {
			if s.title == "Other flags" {
				for _, f := range s.flags {
					t.Errorf("%s --%s: not in flagGroups", c.name, f.Name)
				}
			}
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"proto", "port", "sport", "dport", "snapshot", "schema"}
	for _, tt := range []struct{ in, want string }{
		{"prot", "proto"}, // one edit from port too: the prefix wins
		{"protp", "proto"},
		{"snap", "snapshot"}, // a prefix
		{"xyzzy", ""},
		{"dprot", "dport"},
	} {
		if got := closest(tt.in, names); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestGeneratedFiles: the man page and the completions in the repository
// are what this binary's flags make (make man completions rewrites them),
// and the bash script parses.
func TestGeneratedFiles(t *testing.T) {
	for _, tt := range []struct {
		path string
		args []string
	}{
		{filepath.Join("..", "..", "docs", "ctwatch.1"), []string{"man"}},
		{filepath.Join("..", "..", "contrib", "completion", "ctwatch.bash"), []string{"completion", "bash"}},
		{filepath.Join("..", "..", "contrib", "completion", "_ctwatch"), []string{"completion", "zsh"}},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), tt.args, &out, &out); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if *update {
			if err := os.WriteFile(tt.path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatalf("%v (make man completions writes it)", err)
		}
		if diff := cmp.Diff(string(want), out.String()); diff != "" {
			t.Errorf("%s is stale: run make man completions (-want +got):\n%s", tt.path, diff)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to check the completion script with")
	}
	if out, err := exec.Command(bash, "-n", filepath.Join("..", "..", "contrib", "completion", "ctwatch.bash")).CombinedOutput(); err != nil {
		t.Errorf("bash -n ctwatch.bash: %v: %s", err, out)
	}
}
