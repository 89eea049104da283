package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

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
