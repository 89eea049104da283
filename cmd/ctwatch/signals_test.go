package main

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopOnSignals: the first signal cancels; a copy of it within
// signalGrace (GNU timeout signals the child, then its process group) is
// ignored; a signal after the grace exits 130.
func TestStopOnSignals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The clock reads at each call the time of the signal just taken:
	// the first, its copy, the second.
	t0 := time.Unix(1000, 0)
	times := []time.Time{t0, t0.Add(signalGrace / 10), t0.Add(signalGrace)}
	now := func() time.Time {
		if len(times) == 0 {
			t.Error("clock read after the last signal")
			return t0
		}
		tm := times[0]
		times = times[1:]
		return tm
	}
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	returned := make(chan struct{})
	// Unbuffered: each send returns once stopOnSignals has taken it, so
	// the clock moves strictly between signals.
	sigs := make(chan os.Signal)
	go func() {
		stopOnSignals(sigs, cancel, &stderr, now, func(code int) { exited <- code })
		close(returned)
	}()

	send := func(what string) {
		select {
		case sigs <- os.Interrupt:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not taken: stopOnSignals already returned", what)
		}
	}
	send("the first signal")
	send("its copy")
	send("the second signal")
	if code := <-exited; code != 130 {
		t.Errorf("exit(%d) after the second signal, want 130", code)
	}
	<-returned
	if ctx.Err() == nil {
		t.Error("the first signal did not cancel")
	}
	if !strings.Contains(stderr.String(), "stopping") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("stderr %q, want the one stopping line", stderr.String())
	}
}

// TestStopOnSignalsCopyOnly: a signal and its copy stop cleanly, never exit.
func TestStopOnSignalsCopyOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal)
	returned := make(chan struct{})
	go func() {
		stopOnSignals(sigs, cancel, &bytes.Buffer{}, func() time.Time { return time.Unix(1000, 0) },
			func(code int) { t.Errorf("exit(%d) on a copy of the first signal", code) })
		close(returned)
	}()
	sigs <- os.Interrupt
	sigs <- os.Interrupt
	close(sigs)
	<-returned
	if ctx.Err() == nil {
		t.Error("the first signal did not cancel")
	}
}

// TestCatchSignals: once catchSignals returned, a SIGHUP and a SIGTERM sent
// to the process are delivered to its channels instead of killing it.
func TestCatchSignals(t *testing.T) {
	sigs, hup := catchSignals()
	defer signal.Stop(sigs)
	defer signal.Stop(hup)
	for _, tt := range []struct {
		sig syscall.Signal
		ch  chan os.Signal
	}{{syscall.SIGHUP, hup}, {syscall.SIGTERM, sigs}} {
		if err := syscall.Kill(os.Getpid(), tt.sig); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-tt.ch:
			if got != tt.sig {
				t.Errorf("got %v, want %v", got, tt.sig)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v not delivered", tt.sig)
		}
	}
}

// TestHangups: the channel main put in the context is the one the watch
// reads; without one, hangups makes its own.
func TestHangups(t *testing.T) {
	mine := make(chan os.Signal, 1)
	got, stop := hangups(withHangups(context.Background(), mine))
	stop()
	mine <- syscall.SIGHUP
	select {
	case <-got:
	default:
		t.Error("hangups did not return the context's channel")
	}
	own, stop := hangups(context.Background())
	defer stop()
	if own == nil {
		t.Fatal("hangups without a channel in the context returned nil")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-own:
	case <-time.After(10 * time.Second):
		t.Error("SIGHUP not delivered to hangups' own channel")
	}
}
