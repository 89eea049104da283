package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: ctwatch [command] [flags]

Commands:
  watch    stream the conntrack table's events live (the default command)
  parse    convert saved conntrack -E / -L logs and /proc snapshots to JSON or text
  stats    print one reading of the table's fill and statistics counters
  doctor   check this host's conntrack setup and say what to fix
  version  print ctwatch's version

Run "ctwatch <command> -h" for a command's flags.
`

// errSilent marks a failure that has already been reported on stderr: the
// process exits with status 1 without printing it again.
var errSilent = errors.New("failure already reported")

// usageError is a bad command line: the process exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run is ctwatch without the process around it: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, rest := "watch", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "watch":
		return runWatch(ctx, rest, stdout, stderr)
	case "parse":
		return runParse(ctx, rest, stdout, stderr)
	case "stats":
		return runStats(ctx, rest, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ctwatch", version)
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}

// exitCode reports err on w and returns the process's exit status.
func exitCode(err error, w io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errSilent):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintln(w, "ctwatch:", err)
		return 2
	}
	fmt.Fprintln(w, "ctwatch:", err)
	return 1
}

// newFlagSet returns a flag set for a command whose errors and usage go to
// stderr, and which returns errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ctwatch %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a bad command line into a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}
