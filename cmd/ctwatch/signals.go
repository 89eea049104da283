package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// catchSignals installs ctwatch's signal handlers: main calls it before
// anything else, so that a SIGHUP or SIGTERM sent right after the start
// (a service manager, logrotate) is handled rather than killing the process
// with its default action. Stop requests (SIGINT, SIGTERM) go to sigs,
// which holds two, for stopOnSignals; SIGHUP to hup, which holds one:
// another while it is full asks for nothing more and is dropped by the
// runtime. The watch command turns hup into reopens of --output; the
// other commands have no file to reopen and leave it unread, so that a
// SIGHUP does nothing to them.
func catchSignals() (sigs, hup chan os.Signal) {
	sigs = make(chan os.Signal, 2)
	hup = make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	signal.Notify(hup, syscall.SIGHUP)
	return sigs, hup
}

// hangupsKey is the context key of the SIGHUP channel.
type hangupsKey struct{}

// withHangups returns ctx carrying hup, the channel main caught SIGHUP on
// from its start, to the command that acts on it.
func withHangups(ctx context.Context, hup <-chan os.Signal) context.Context {
	return context.WithValue(ctx, hangupsKey{}, hup)
}

// hangups returns the SIGHUP channel ctx carries, or, when it carries none
// (tests call run directly), one notified from now on and a function that
// stops the notification.
func hangups(ctx context.Context) (<-chan os.Signal, func()) {
	if hup, ok := ctx.Value(hangupsKey{}).(<-chan os.Signal); ok && hup != nil {
		return hup, func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// signalGrace is how long after the first stop signal a repeat is taken for
// a copy of it rather than a second request. GNU timeout signals its child
// and then the child's whole process group, and a shell or supervisor may
// do the same: one request, delivered twice within microseconds. A person
// who really wants ctwatch gone at once presses Ctrl-C again well after it.
const signalGrace = 200 * time.Millisecond

// stopOnSignals turns the first signal from sigs into a cancelled context,
// for a clean stop, and a second one, signalGrace or more after it, into
// exit(130): the user will not wait for the stop. It returns after calling
// exit, or when sigs is closed.
func stopOnSignals(sigs <-chan os.Signal, cancel context.CancelFunc, stderr io.Writer, now func() time.Time, exit func(int)) {
	if _, ok := <-sigs; !ok {
		return
	}
	cancel()
	first := now()
	// Said only once the runtime handed the first signal over: one sent
	// before that would merge with it and be lost.
	fmt.Fprintln(stderr, "ctwatch: stopping; a second signal quits at once")
	for range sigs {
		if now().Sub(first) >= signalGrace {
			exit(130)
			return
		}
	}
}
