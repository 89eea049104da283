package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/doctor"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/sysctl"
)

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", stderr)
	netnsSpec := fs.String("netns", "", "check this network namespace: a NAME under /run/netns, a PATH or a PID (default: ctwatch's own)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	rcvbuf := sizeFlag(fs, "buffer-size", defaultBufferSize(), "the receive buffer watch will ask for (bytes; K, M, G suffixes), as watch's --buffer-size")
	timeout := fs.Duration("timeout", ctstat.DefaultTimeout, "give up on the kernel after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("doctor takes no arguments, got %q", fs.Args())}
	}
	if *rcvbuf <= 0 || *timeout <= 0 {
		return usageError{fmt.Errorf("--buffer-size and --timeout must be positive")}
	}
	ns, err := netns.Open(*netnsSpec)
	if err != nil {
		return fmt.Errorf("--netns: %w", err)
	}
	defer ns.Close()

	in := doctor.Input{
		Caps:           doctor.EffectiveCaps(),
		OtherNamespace: *netnsSpec != "",
		RcvBuf:         int(*rcvbuf),
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if r, err := ctstat.Read(rctx, ns); err != nil {
		in.StatsErr = err
	} else {
		in.Stats = &r
	}
	vals, err := sysctl.ReadAll(ns, doctor.SysctlNames...)
	if err != nil {
		// Every sysctl then reports the failed switch into the namespace.
		in.Sysctls = doctor.SysctlsFrom(func(string) (int64, error) { return 0, err })
	} else {
		in.Sysctls = doctor.SysctlsFrom(vals.Int)
	}

	rep := doctor.Run(in)
	var buf bytes.Buffer
	if *asJSON {
		if err := json.NewEncoder(&buf).Encode(rep); err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
	} else {
		writeDoctorText(&buf, rep)
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if rep.Status == doctor.Fail {
		return errSilent
	}
	return nil
}

// writeDoctorText writes one line per check (status, name, what was found
// and how to fix it), then a summary line.
func writeDoctorText(w io.Writer, rep doctor.Report) {
	var warns, fails int
	for _, c := range rep.Checks {
		line := fmt.Sprintf("%-4s  %-14s  %s", strings.ToUpper(c.Status.String()), c.Name, c.Found)
		if c.Fix != "" {
			line += " Fix: " + c.Fix
		}
		fmt.Fprintln(w, line)
		switch c.Status {
		case doctor.Warn:
			warns++
		case doctor.Fail:
			fails++
		}
	}
	fmt.Fprintf(w, "doctor: %s (%d checks, %d warnings, %d failures)\n", rep.Status, len(rep.Checks), warns, fails)
}
