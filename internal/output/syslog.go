package output

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/syslog"
)

// syslogBatch is the most records one Send takes.
const syslogBatch = 512

// SyslogTransport is the Transport of a syslog output: a syslog.Client.
type SyslogTransport struct {
	c    *syslog.Client
	recs []syslog.Record
}

// NewSyslog makes the transport of a Syslog spec; it connects on the first
// send.
func NewSyslog(spec Spec, cfg syslog.Config) (*SyslogTransport, error) {
	c, err := syslog.New(spec.Syslog, cfg)
	if err != nil {
		return nil, fmt.Errorf("syslog output %s: %w", spec.Name, err)
	}
	return &SyslogTransport{c: c, recs: make([]syslog.Record, 0, syslogBatch)}, nil
}

// Run implements Transport: it sends what is queued in batches, one write
// each on a stream, and on a failure sends the batch again after the
// client's backoff.
func (t *SyslogTransport) Run(ctx context.Context, q Reader) error {
	for {
		first, err := q.Next(ctx)
		if err != nil {
			return err
		}
		t.recs = append(t.recs[:0], toSyslog(first))
		for len(t.recs) < syslogBatch {
			r, ok := q.TryNext()
			if !ok {
				break
			}
			t.recs = append(t.recs, toSyslog(r))
		}
		if err := t.send(ctx, q); err != nil {
			return err
		}
	}
}

// send sends t.recs until every one is taken or refused, or ctx ends.
func (t *SyslogTransport) send(ctx context.Context, q Reader) error {
	recs := t.recs
	for len(recs) > 0 {
		n, err := t.c.Send(ctx, recs)
		for range n {
			q.Done(nil)
		}
		recs = recs[n:]
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, syslog.ErrRefused):
			q.Done(fmt.Errorf("%w: %w", ErrRefused, err))
			recs = recs[1:]
		default:
			// Unavailable: the client waits out its backoff in the next
			// Send, and the records not taken go again, in order.
			q.Failing(err)
		}
	}
	return nil
}

func toSyslog(r Record) syslog.Record {
	line := r.Data
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	return syslog.Record{Line: line, Seq: r.Seq, Run: r.Run, Level: r.Level}
}

// Stats implements Transport.
func (t *SyslogTransport) Stats() TransportStats {
	st := t.c.Stats()
	return TransportStats{Retries: st.Retries, Reconnects: st.Reconnects, Bytes: st.Bytes}
}

// Close implements Transport.
func (t *SyslogTransport) Close() error { return t.c.Close() }
