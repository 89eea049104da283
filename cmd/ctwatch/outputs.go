package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctwatch/ctwatch/internal/jetstream"
	"github.com/ctwatch/ctwatch/internal/output"
	"github.com/ctwatch/ctwatch/internal/sink"
	"github.com/ctwatch/ctwatch/internal/spool"
	"github.com/ctwatch/ctwatch/internal/syslog"
)

// repeated is a flag that may be given several times, each value kept in
// order.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, ",") }

func (r *repeated) Set(s string) error {
	*r = append(*r, s)
	return nil
}

// outputConfig is what opening the outputs needs from the command line.
type outputConfig struct {
	sink           sink.Config
	stdout, stderr io.Writer
	run, host      string
	queueBytes     int
	// spoolDir, when not empty, holds each remote output's spool.
	spoolDir string
	spool    spool.Config
}

// streamCheck bounds the start-up question to a JetStream server of which
// stream takes the subject.
const streamCheck = 5 * time.Second

// openOutputs opens every --output (standard output when none is given).
// A remote server that is down is no error: its records wait in the queue
// until it is up. A JetStream subject that no stream takes is said on
// stderr at once: the records wait for the operator to create the stream.
func openOutputs(ctx context.Context, args []string, c outputConfig) (*output.Set, error) {
	specs, err := output.ParseAll(args)
	if err != nil {
		return nil, usageError{fmt.Errorf("--output: %w", err)}
	}
	var outs []output.Output
	fail := func(err error) (*output.Set, error) {
		for _, o := range outs {
			_ = o.Close()
		}
		return nil, err
	}
	for _, sp := range specs {
		switch sp.Kind {
		case output.Stdout, output.File:
			l, err := output.NewLocal(sp, c.stdout, c.sink)
			if err != nil {
				return fail(fmt.Errorf("--output %s: %w%s", sp.Name, err, allowHint(err)))
			}
			outs = append(outs, l)
		case output.Syslog, output.NATS:
			rc := output.RemoteConfig{QueueBytes: c.queueBytes}
			if c.spoolDir != "" {
				s, err := output.OpenSpool(c.spoolDir, sp, c.spool)
				if err != nil {
					return fail(fmt.Errorf("--spool for --output %s: %w", sp.Name, err))
				}
				if st := s.Stats(); st.Queued > 0 {
					fmt.Fprintf(c.stderr, "ctwatch: --output %s: %d records of an earlier run wait in the spool %s; they go first\n", sp.Name, st.Queued, s.Dir())
				}
				rc.Spool = s
			}
			tr, err := newTransport(ctx, c, sp)
			if err != nil {
				if rc.Spool != nil {
					rc.Spool.Close()
				}
				return fail(fmt.Errorf("--output: %w", err))
			}
			outs = append(outs, output.NewRemote(sp, tr, rc))
		}
	}
	return output.NewSet(c.run, outs...), nil
}

// newTransport makes the transport of a remote output.
func newTransport(ctx context.Context, c outputConfig, sp output.Spec) (output.Transport, error) {
	if sp.Kind == output.Syslog {
		return output.NewSyslog(sp, syslog.Config{Format: syslog.FormatConfig{Hostname: c.host}})
	}
	tr, err := output.NewJetStream(sp, jetstream.Config{Name: "ctwatch " + c.host})
	if err != nil {
		return nil, err
	}
	checkStream(ctx, c.stderr, sp, tr.Publisher())
	return tr, nil
}

// checkStream says on stderr when no stream takes a nats output's subject,
// or the server cannot be asked yet.
func checkStream(ctx context.Context, stderr io.Writer, sp output.Spec, p *jetstream.Publisher) {
	ctx, cancel := context.WithTimeout(ctx, streamCheck)
	defer cancel()
	_, err := p.CheckStream(ctx)
	var ns *jetstream.NoStreamError
	switch {
	case errors.As(err, &ns):
		fmt.Fprintf(stderr, "ctwatch: --output %s: %v; records wait in the queue until a stream takes the subject\n", sp.Name, err)
	case err != nil:
		fmt.Fprintf(stderr, "ctwatch: --output %s: %v; records wait in the queue while the server is not reachable\n", sp.Name, err)
	}
}

// writeErrors sums the failed writes of the local outputs.
func writeErrors(s *output.Set) uint64 {
	var n uint64
	for _, o := range s.Outputs() {
		if l, ok := o.(*output.Local); ok {
			n += l.Writer().Stats().WriteErrors
		}
	}
	return n
}

// outputSummary says what became of the records handed to one output, when
// not all of them were taken: the stop summary's "records written" counts
// the entry records handed over, and only the output knows how many reached
// its destination. It is empty when every record was taken.
func outputSummary(o output.Output) string {
	if l, ok := o.(*output.Local); ok {
		return localSummary(o.Spec(), l.Writer().Stats())
	}
	st := o.Stats()
	if st.Dropped == 0 && st.Retries == 0 && st.Queued == 0 {
		return ""
	}
	// Called before the outputs close: what is still queued in memory
	// now is lost with the process.
	return fmt.Sprintf("output %s: %d records taken by the server, %d dropped while its queue was full, %d refused, %d still queued at the stop and lost; %d retries, %d reconnects",
		st.Name, st.Records, st.Overflow, st.Refused, st.Failed+uint64(st.Queued), st.Retries, st.Reconnects)
}

func localSummary(sp output.Spec, st sink.Stats) string {
	if st.Dropped == 0 && st.WriteErrors == 0 && st.ReopenErrors == 0 {
		return ""
	}
	s := fmt.Sprintf("output %s: %d records written in full, %d dropped while the output was behind, %d lost to write errors",
		sp.Name, st.Records, st.Overflow, st.Failed)
	if st.Torn > 0 {
		s += fmt.Sprintf(" (%d cut short in the output)", st.Torn)
	}
	if st.WriteErrors > 0 {
		s += fmt.Sprintf("; %d failed writes", st.WriteErrors)
		if st.LastWriteErrno != 0 {
			s += ", the last: " + sink.Hint(st.LastWriteErrno)
		}
	}
	if st.ReopenErrors > 0 {
		s += fmt.Sprintf("; %d failed reopens", st.ReopenErrors)
		if st.LastReopenErrno != 0 {
			s += ", the last: " + sink.Hint(st.LastReopenErrno)
		}
	}
	return s
}
