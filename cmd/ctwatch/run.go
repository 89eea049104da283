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

// errSilent marks a failure that has already been reported on stderr: the
// process exits with status 1 without printing it again.
var errSilent = errors.New("failure already reported")

// usageError is a bad command line: the process exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run is ctwatch without the process around it: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name, rest := "watch", args
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			usage(stdout)
			return nil
		case "-version", "--version", "-V":
			name, rest = "version", args[1:]
		default:
			if !strings.HasPrefix(args[0], "-") {
				name, rest = args[0], args[1:]
			}
		}
	}
	c, ok := lookupCommand(name)
	if !ok {
		return unknownCommand(name)
	}
	switch c.name {
	case "version":
		fmt.Fprintln(stdout, "ctwatch", version)
		return nil
	case "help":
		if len(rest) == 0 {
			usage(stdout)
			return nil
		}
		hc, ok := lookupCommand(rest[0])
		if !ok {
			return unknownCommand(rest[0])
		}
		if !hc.hasFlags {
			fmt.Fprintf(stdout, "Usage: ctwatch %s\n\n%s.\n", hc.synopsis, upperFirst(hc.summary))
			return nil
		}
		// A command's help goes to stdout when asked for by name.
		return runCommand(ctx, hc.name, []string{"-h"}, stdout, stdout)
	case "completion":
		return runCompletion(rest, stdout)
	case "man":
		if len(rest) > 0 {
			return usageError{fmt.Errorf("man takes no arguments, got %q", rest)}
		}
		writeManPage(stdout)
		return nil
	}
	return runCommand(ctx, c.name, rest, stdout, stderr)
}

// runCommand runs the command with flags called name.
func runCommand(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	switch name {
	case "watch":
		return runWatch(ctx, args, stdout, stderr)
	case "parse":
		return runParse(ctx, args, stdout, stderr)
	case "stats":
		return runStats(ctx, args, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args, stdout, stderr)
	}
	return unknownCommand(name)
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

// newFlagSet returns a flag set for command name whose help (on -h) goes
// to stderr, and which returns errors instead of exiting. The help is the
// commands table's synopsis and the flags, grouped (commandUsage).
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parseFlags reads the help's writer back from Output; the flag
	// package's own messages and usage are replaced by its one line.
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if fc, ok := stderr.(*flagCollector); ok {
		fc.fs = fs
	}
	return fs
}

// parseFlags parses args, turning a bad command line into a usageError of
// one line: a misspelled flag names the closest one.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := unknownFlag(fs, fs.Name(), args); err != nil {
		return err
	}
	w := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(w)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if c, ok := lookupCommand(fs.Name()); ok {
				commandUsage(w, c, fs)
			}
			return err
		}
		return usageError{fmt.Errorf("%w (ctwatch %s -h lists the flags)", err, fs.Name())}
	}
	return nil
}
