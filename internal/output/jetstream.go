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

// The feeder hands the publisher what the queue has, in batches of at
// most feedBatch records, one channel operation each, in feedBatches
// slices it reuses in turn (see jetstream.Publisher.Run for why two more
// slices than the channel holds are enough): at most 64 × 14 records
// ahead.
const (
	feedBatch   = 64
	feedBatches = 16
)

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
	// which closes it when ctx ends. It holds feedBatches-2 batches (the
	// queue keeps their records' bytes until they are done); when full,
	// the feeder waits: the publisher's window bounds what is in flight.
	// Batches spare the channel operations and goroutine switches of one
	// record at a time.
	in := make(chan []jetstream.Record, feedBatches-2)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(in)
		var bufs [feedBatches][]jetstream.Record
		for k := 0; ; k = (k + 1) % feedBatches {
			r, err := q.Next(gctx)
			if err != nil {
				return err
			}
			b := append(bufs[k][:0], publishable(r))
			for len(b) < feedBatch {
				r, ok := q.TryNext()
				if !ok {
					break
				}
				b = append(b, publishable(r))
			}
			bufs[k] = b
			select {
			case in <- b:
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

// publishable is r as a message: its line without the newline.
func publishable(r Record) jetstream.Record {
	line := r.Data
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	return jetstream.Record{RunID: r.Run, Seq: r.Seq, Data: line}
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
