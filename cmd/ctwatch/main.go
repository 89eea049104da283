// Command ctwatch watches the Linux connection-tracking table live over
// netlink and reports it as structured records; see the README.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		// Said only once the runtime handed the first signal over: one
		// sent before that would merge with it and be lost.
		fmt.Fprintln(os.Stderr, "ctwatch: stopping; a second signal quits at once")
		// A second signal means the user will not wait for a clean stop.
		<-sigs
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}
