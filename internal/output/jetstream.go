package output

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ctwatch/ctwatch/internal/jetstream"
)

// parseNATS reads a nats://HOST:PORT/SUBJECT output.
func parseNATS(s string) (Spec, error) {
	t, err := jetstream.ParseTarget(s)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	return Spec{Kind: NATS, Name: redact(s), Raw: s, NATS: t}, nil
}

// feedAhead is how many records the feeder hands the publisher ahead.
const feedAhead = 1024

// healthEvery is how often the JetStream transport looks at its connection.
const healthEvery = time.Second

// JetStreamTransport is the Transport of a nats:// output: a
// jetstream.Publisher, which publishes with a bounded window in flight and
// reports each record's ack in order.
type JetStreamTransport struct {
	p *jetstream.Publisher
}

// NewJetStream connects to the server of a NATS spec (a server not up yet
// is no error: the client keeps trying).
func NewJetStream(spec Spec, cfg jetstream.Config) (*JetStreamTransport, error) {
	cfg.Target = spec.NATS
	p, err := jetstream.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("nats output %s: %w", spec.Name, err)
	}
	return &JetStreamTransport{p: p}, nil
}

// Publisher returns the publisher, to check the stream at start.
func (t *JetStreamTransport) Publisher() *jetstream.Publisher { return t.p }

// Run implements Transport.
func (t *JetStreamTransport) Run(ctx context.Context, q Reader) error {
	// in is the feeder's hand-over to the publisher. Owner: the feeder,
	// which closes it when ctx ends. It holds feedAhead records (the
	// queue keeps their bytes until they are done); when full, the feeder
	// waits: the publisher's window bounds what is in flight. A buffer
	// spares a goroutine switch per record.
	in := make(chan jetstream.Record, feedAhead)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(in)
		for {
			r, err := q.Next(gctx)
			if err != nil {
				return err
			}
			line := r.Data
			if n := len(line); n > 0 && line[n-1] == '\n' {
				line = line[:n-1]
			}
			select {
			case in <- jetstream.Record{RunID: r.Run, Seq: r.Seq, Data: line}:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	g.Go(func() error {
		return t.p.Run(gctx, in, func(res jetstream.Result) {
			if res.Err != nil {
				q.Done(fmt.Errorf("%w: %w", ErrRefused, res.Err))
				return
			}
			q.Done(nil)
		})
	})
	g.Go(func() error {
		// The publisher retries by itself; its connection says whether
		// the output works.
		tick := time.NewTicker(healthEvery)
		defer tick.Stop()
		for {
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-tick.C:
				if err := t.p.Connected(); err != nil {
					q.Failing(err)
				} else {
					q.Failing(nil)
				}
			}
		}
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Stats implements Transport.
func (t *JetStreamTransport) Stats() TransportStats {
	st := t.p.Stats()
	return TransportStats{Retries: st.Retries, Reconnects: st.Reconnects, Bytes: st.Bytes}
}

// Close implements Transport.
func (t *JetStreamTransport) Close() error {
	t.p.Close()
	return nil
}
