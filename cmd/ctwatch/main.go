package main

import (
	"context"
	"os"
	"time"
)

func main() {
	// First of all: until the handlers are in, SIGHUP (logrotate) and
	// SIGTERM kill the process by default.
	sigs, hup := catchSignals()
	ctx, cancel := context.WithCancel(withHangups(context.Background(), hup))
	go stopOnSignals(sigs, cancel, os.Stderr, time.Now, os.Exit)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}
