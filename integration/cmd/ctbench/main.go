//go:build integration

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "ctbench: interrupted")
		os.Exit(130)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "ctbench:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "ctbench:", err)
		os.Exit(1)
	}
}

// run dispatches to the harness or to one of the subcommands it re-executes
// itself as.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "gen":
			return runGen(ctx, args[1:], stdout, stderr)
		case "floor":
			return runFloor(ctx, args[1:], stderr)
		case "allns":
			return runAllNS(ctx, args[1:], stderr)
		}
	}
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	if cfg.Render != "" {
		return renderSaved(cfg, stdout, stderr)
	}
	return runBench(ctx, cfg, stdout, stderr)
}
