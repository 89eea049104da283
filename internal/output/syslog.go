package output

import (
	"bytes"
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
	// kinds interns the records' kinds, the MSGID of their messages: a
	// handful of names, each allocated once.
	kinds map[string]string
}

// NewSyslog makes the transport of a Syslog spec; it connects on the first
// send.
func NewSyslog(spec Spec, cfg syslog.Config) (*SyslogTransport, error) {
	c, err := syslog.New(spec.Syslog, cfg)
	if err != nil {
		return nil, fmt.Errorf("syslog output %s: %w", spec.Name, err)
	}
	return &SyslogTransport{c: c, recs: make([]syslog.Record, 0, syslogBatch), kinds: map[string]string{}}, nil
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
		t.recs = append(t.recs[:0], t.toSyslog(first))
		for len(t.recs) < syslogBatch {
			r, ok := q.TryNext()
			if !ok {
				break
			}
			t.recs = append(t.recs, t.toSyslog(r))
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

func (t *SyslogTransport) toSyslog(r Record) syslog.Record {
	line := r.Data
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	return syslog.Record{Line: line, Seq: r.Seq, Run: r.Run, Level: r.Level, Kind: t.kind(line)}
}

// The keys a record's kind is found at: "event" ("new": native, and the
// conntrack object of ECS and OCSF), else ECS's event.action
// ("conntrack-new"); and the type of a conntrack -E line ("[NEW]").
var (
	ecsAction = []byte(`"action":"conntrack-`)
	eventKey  = []byte(`"event":"`)
)

// kind returns the record's kind, the MSGID of its message, or "" (a
// MSGID of "-") when the line has none.
func (t *SyslogTransport) kind(line []byte) string {
	// "event" first: near the start of a native record, it is found at
	// once; ECS and OCSF records have it in their conntrack object.
	var k []byte
	if i := bytes.Index(line, eventKey); i >= 0 {
		k = line[i+len(eventKey):]
	} else if i := bytes.Index(line, ecsAction); i >= 0 {
		k = line[i+len(ecsAction):]
	}
	switch {
	case k != nil:
	case bytes.HasPrefix(line, []byte("[")):
		// conntrack -E text: [NEW], or a timestamp first: [1733…]\t[NEW].
		if i := bytes.Index(line[:min(len(line), 40)], []byte("\t[")); i >= 0 {
			line = line[i+1:]
		}
		end := bytes.IndexByte(line, ']')
		if end <= 1 || end > 33 {
			return ""
		}
		var lower [32]byte
		for i, c := range line[1:end] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		return t.intern(lower[:end-1])
	default:
		return ""
	}
	end := bytes.IndexByte(k, '"')
	if end <= 0 || end > 32 {
		return ""
	}
	return t.intern(k[:end])
}

// intern returns b as a string, allocated the first time only.
func (t *SyslogTransport) intern(b []byte) string {
	if s, ok := t.kinds[string(b)]; ok {
		return s
	}
	if len(t.kinds) >= 256 {
		return "" // not a kind: a line that only looks like one
	}
	s := string(b)
	t.kinds[s] = s
	return s
}

// Stats implements Transport.
func (t *SyslogTransport) Stats() TransportStats {
	st := t.c.Stats()
	return TransportStats{Retries: st.Retries, Reconnects: st.Reconnects, Bytes: st.Bytes}
}

// Close implements Transport.
func (t *SyslogTransport) Close() error { return t.c.Close() }
