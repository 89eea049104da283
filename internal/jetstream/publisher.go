package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Defaults of [Config].
const (
	DefaultWindow     = 4096
	DefaultAckTimeout = 5 * time.Second
)

// Record is one record to publish.
type Record struct {
	// RunID is the id of the run that wrote the record (a record replayed
	// from a spool keeps the id of its own run).
	RunID string
	// Seq is the record's sequence number, unique in its run.
	Seq uint64
	// Data is the record's JSON line. The publisher holds it, unmodified,
	// until the record's result is reported.
	Data []byte
}

// MsgID returns the record's Nats-Msg-Id, by which the stream stores a
// record published twice only once.
func (r Record) MsgID() string { return r.RunID + "-" + strconv.FormatUint(r.Seq, 10) }

// Result is what became of one record.
type Result struct {
	// Seq is the record's sequence number.
	Seq uint64
	// Err is nil when the stream stored the record (or had stored it
	// already, a duplicate), or a [*RefusedError] when the server refused it.
	Err error
}

// Config configures a [Publisher].
type Config struct {
	// Target is the server and subject.
	Target Target
	// Name is the client's connection name as the server shows it.
	Name string
	// Window bounds the records in flight (published, not yet resolved);
	// DefaultWindow when 0.
	Window int
	// AckTimeout is how long a publish waits for its ack before it is
	// retried; DefaultAckTimeout when 0.
	AckTimeout time.Duration
	// Logger logs connection changes.
	Logger zerolog.Logger
}

// Stats are a publisher's counters since it was made.
type Stats struct {
	// Published counts publish attempts, retries included.
	Published uint64
	// Acked counts records reported stored.
	Acked uint64
	// Duplicates counts the acked records the stream already had.
	Duplicates uint64
	// Refused counts records reported refused (skipped).
	Refused uint64
	// Retries counts records published again after a failure.
	Retries uint64
	// Failures counts failed or timed-out publish attempts.
	Failures uint64
	// Reconnects counts successful reconnects.
	Reconnects uint64
	// ReconnectAttempts counts reconnect attempts (each one waits a backoff).
	ReconnectAttempts uint64
	// Disconnects counts lost connections.
	Disconnects uint64
	// Bytes counts the payload bytes of acked records.
	Bytes uint64
}

type counters struct {
	published, acked, duplicates, refused, retries, failures atomic.Uint64
	reconnects, reconnectAttempts, disconnects, bytes        atomic.Uint64
}

// state of one record in the window.
type state uint8

const (
	stateFree    state = iota
	statePending       // published, no answer yet
	stateAcked         // stored
	stateFailed        // to publish again
	stateRefused       // never to be stored
)

type entry struct {
	rec Record
	// hdr carries the record's Nats-Msg-Id; the map stays with the ring
	// slot, so that a record costs no header map of its own.
	hdr     nats.Header
	attempt uint64 // the current attempt's number, in its reply subject
	tick    uint64 // Publisher.ticks when the attempt was sent
	conn    uint64 // the connection's reconnect count before the attempt
	state   state
	err     error
}

// Publisher publishes records to one subject of a JetStream stream.
//
// It publishes on the core connection with a reply subject of its own per
// attempt, PREFIX.<slot>.<attempt>, and Run reads the acks itself from one
// channel subscription to PREFIX.>: no future, timer or map per record as
// with the client's PublishAsync, whose bookkeeping cost several times the
// publish, and no goroutine between the client's read loop and Run.
type Publisher struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	sub    *nats.Subscription
	prefix string // the reply prefix, ending in "."
	c      counters

	// acks is written by the client's read loop, without blocking, and
	// read by Run alone. Its bound, 4 × Window, holds an answer for every
	// record in flight and the late answers to as many superseded
	// attempts; when it is full the client drops the answer (a slow
	// consumer in its stats) and the attempt times out and is sent again.
	acks chan *nats.Msg

	// reconnected has capacity 1 and is written without blocking by the
	// client's reconnect callback (a full one already says so): it ends a
	// retry round's backoff, since the records failed by the outage can
	// go out again at once.
	reconnected chan struct{}

	// Owned by Run's goroutine: the message and reply buffer reused by
	// every publish (PublishMsg copies them before it returns), and the
	// ticks of the ack timeout clock.
	msg      nats.Msg
	replyBuf []byte
	ticks    uint64
	// ackStream is the stream the last ack named, which the next one
	// names too: decoded without a copy.
	ackStream string

	// The window and its tallies, owned by Run's goroutine (which also
	// takes the acks): ring slots, head and n, the entries' states.
	ring     []entry
	head, n  int
	attempts uint64 // attempts made, the last attempt's number
	pending  int    // entries in statePending
	failed   int    // entries in stateFailed
	conn     uint64 // the reconnect count when pop or send last looked
}

// ackTicks is the number of ticks of the timeout clock in an ack timeout:
// a pending attempt times out between AckTimeout and 9/8 of it.
const ackTicks = 8

// New connects to cfg.Target. A server that is not up yet is no error: the
// client keeps reconnecting, with backoff, until ctx passed to Run ends or
// Close is called.
func New(cfg Config) (*Publisher, error) {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Name == "" {
		cfg.Name = "ctwatch"
	}
	p := &Publisher{
		cfg:  cfg,
		acks: make(chan *nats.Msg, 4*cfg.Window),

		reconnected: make(chan struct{}, 1),
		ring:        make([]entry, cfg.Window),
		prefix:      nats.NewInbox() + ".",
	}
	for i := range p.ring {
		p.ring[i].hdr = nats.Header{jetstream.MsgIDHeader: []string{""}}
	}
	log := cfg.Logger
	nc, err := nats.Connect(cfg.Target.Server,
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.Timeout(2*time.Second),
		// No buffering while reconnecting: a publish then fails at once
		// and is retried by Run after the reconnect, in order. A buffer
		// would send records taken during the outage ahead of the older
		// ones whose acks the outage lost.
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			p.c.reconnectAttempts.Add(1)
			return backoff(attempts - 1)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			p.c.disconnects.Add(1)
			log.Warn().Err(err).Str("server", cfg.Target.Server).Msg("jetstream: disconnected")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			p.c.reconnects.Add(1)
			select {
			case p.reconnected <- struct{}{}:
			default:
			}
			log.Info().Str("server", c.ConnectedUrlRedacted()).Msg("jetstream: reconnected")
		}),
		nats.NoCallbacksAfterClientClose(),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Target.Server, err)
	}
	// The client's JetStream API only for CheckStream: records go out on
	// the core connection (see Publisher).
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	sub, err := nc.ChanSubscribe(p.prefix+">", p.acks)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribe to acks: %w", err)
	}
	p.nc, p.js, p.sub = nc, js, sub
	return p, nil
}

// Close closes the connection. Records not yet reported are not stored as
// far as the caller knows; published again later (same run id and seq),
// the stream stores them once.
func (p *Publisher) Close() { p.nc.Close() }

// CheckStream returns the name of the stream that takes the subject, a
// [*NoStreamError] when none does, or the error of asking (for example a
// server not reachable before ctx ends).
func (p *Publisher) CheckStream(ctx context.Context) (string, error) {
	name, err := p.js.StreamNameBySubject(ctx, p.cfg.Target.Subject)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", &NoStreamError{Subject: p.cfg.Target.Subject}
	}
	if err != nil {
		return "", fmt.Errorf("find the stream of subject %q: %w", p.cfg.Target.Subject, err)
	}
	return name, nil
}

// Stats returns the counters.
func (p *Publisher) Stats() Stats {
	return Stats{
		Published:         p.c.published.Load(),
		Acked:             p.c.acked.Load(),
		Duplicates:        p.c.duplicates.Load(),
		Refused:           p.c.refused.Load(),
		Retries:           p.c.retries.Load(),
		Failures:          p.c.failures.Load(),
		Reconnects:        p.c.reconnects.Load(),
		ReconnectAttempts: p.c.reconnectAttempts.Load(),
		Disconnects:       p.c.disconnects.Load(),
		Bytes:             p.c.bytes.Load(),
	}
}

// Run publishes the records of the batches of in, in order, and calls done
// with each record's result in the same order, on Run's goroutine (a slow
// done slows publishing, nothing else). A batch is whatever the sender had
// at hand: one channel operation for many records. Run holds a batch's
// slice (not its records' Data, held until their results) only until it
// receives the next batch, so a sender may reuse a slice once it has sent
// the two after it with room for at most cap(in) ≤ its slices − 2 in the
// channel. At most Config.Window records are in flight: Run stops reading
// in while the window is full or while it retries. Run returns nil when in
// is closed and every record read has its result, or ctx.Err() when ctx
// ends first; it is called once.
func (p *Publisher) Run(ctx context.Context, in <-chan []Record, done func(Result)) error {
	var (
		results []Result
		held    []Record // the rest of the last batch, not yet published
		open    = true
		round   int // retry rounds in a row without progress
		timer   = time.NewTimer(0)
		tick    = time.NewTicker(max(p.cfg.AckTimeout/ackTicks, time.Millisecond))
	)
	defer timer.Stop()
	defer tick.Stop()
loop:
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		results, failed, pending := p.pop(results[:0])
		for _, r := range results {
			done(r)
		}
		if len(results) > 0 {
			round = 0
		}
		if !open && p.n == 0 && len(held) == 0 {
			return nil
		}
		if failed > 0 {
			// A retry round: only once every attempt is resolved, so that
			// the records go out again in their order, not interleaved with
			// late answers.
			if pending > 0 {
				if err := p.waitWake(ctx, tick.C); err != nil {
					return err
				}
				continue
			}
			timer.Reset(backoff(round))
		wait:
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case m := <-p.acks: // late answers to superseded attempts
					p.onReply(m)
				case <-p.reconnected:
					// Back from an outage: the round goes at once, after
					// pop has failed what the old connection left.
					timer.Stop()
					round = 0
					continue loop
				case <-timer.C:
					break wait
				}
			}
			round++
			p.retry()
			continue
		}
		if len(held) > 0 && p.n < len(p.ring) {
			held = p.publishSome(held)
			continue
		}
		if !open || len(held) > 0 || p.n == len(p.ring) {
			if err := p.waitWake(ctx, tick.C); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-p.acks:
			p.takeAcks(m)
		case <-tick.C:
			p.tick()
		case b, ok := <-in:
			if !ok {
				open = false
				continue
			}
			held = p.publishSome(b)
		}
	}
}

// publishSome publishes the records of b in order while the window has
// room, until a publish fails (nothing may overtake the failed one), and
// returns the records it left.
func (p *Publisher) publishSome(b []Record) []Record {
	for len(b) > 0 && p.n < len(p.ring) {
		r := b[0]
		b = b[1:]
		if !p.publish(r) {
			break
		}
	}
	return b
}

// waitWake waits for an answer or a tick of the timeout clock, and takes
// it.
func (p *Publisher) waitWake(ctx context.Context, tick <-chan time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case m := <-p.acks:
		p.takeAcks(m)
	case <-tick:
		p.tick()
	}
	return nil
}

// tick advances the timeout clock and fails the attempts that have waited
// an ack timeout for their answer.
func (p *Publisher) tick() {
	p.ticks++
	for k := 0; k < p.n && p.pending > 0; k++ {
		i := p.head + k
		if i >= len(p.ring) {
			i -= len(p.ring)
		}
		e := &p.ring[i]
		if e.state == statePending && p.ticks-e.tick > ackTicks {
			p.setState(e, stateFailed, jetstream.ErrAsyncPublishTimeout)
			p.c.failures.Add(1)
		}
	}
}

// pop removes the resolved entries at the head of the window, appends their
// results, and returns the failed and pending tallies.
func (p *Publisher) pop(results []Result) ([]Result, int, int) {
	conn := p.nc.Stats().Reconnects
	if conn != p.conn {
		p.conn = conn
		p.failStale(conn)
	}
	for p.n > 0 {
		e := &p.ring[p.head]
		if e.state != stateAcked && e.state != stateRefused {
			break
		}
		results = append(results, Result{Seq: e.rec.Seq, Err: e.err})
		*e = entry{hdr: e.hdr}
		p.head++
		if p.head == len(p.ring) {
			p.head = 0
		}
		p.n--
	}
	return results, p.failed, p.pending
}

// failStale fails the pending attempts made on a connection older than
// conn. Their answers are lost with that connection, and the client tells
// so only from another goroutine: were they left pending, Run could send
// new records on the new connection ahead of their retries.
func (p *Publisher) failStale(conn uint64) {
	for k := 0; k < p.n && p.pending > 0; k++ {
		i := p.head + k
		if i >= len(p.ring) {
			i -= len(p.ring)
		}
		e := &p.ring[i]
		if e.state == statePending && e.conn < conn {
			p.setState(e, stateFailed, nats.ErrDisconnected)
			p.c.failures.Add(1)
		}
	}
}

// publish adds r at the tail of the window and publishes it, and says
// whether it went out (see send).
func (p *Publisher) publish(r Record) bool {
	i := p.head + p.n
	if i >= len(p.ring) {
		i -= len(p.ring)
	}
	e := &p.ring[i]
	*e = entry{rec: r, hdr: e.hdr}
	e.hdr[jetstream.MsgIDHeader][0] = "" // set by the first send
	p.n++
	return p.send(i)
}

// retry publishes the failed entries again, in window order, and stops at
// one that cannot be sent (the connection is down again): the rest wait for
// the next round rather than overtake it.
func (p *Publisher) retry() {
	for k := 0; k < p.n; k++ {
		i := p.head + k
		if i >= len(p.ring) {
			i -= len(p.ring)
		}
		failed := p.ring[i].state == stateFailed
		if failed {
			p.c.retries.Add(1)
			if !p.send(i) {
				return
			}
		}
	}
}

// send publishes entry i as a new attempt, and says whether the attempt is
// out (pending, or refused: nothing to wait for) rather than failed at once.
func (p *Publisher) send(i int) bool {
	e := &p.ring[i]
	// Read before the publish: should a reconnect come between, the
	// attempt counts as made on the older connection and is sent again
	// (a duplicate, stored once) rather than trusted.
	conn := p.nc.Stats().Reconnects
	if conn != p.conn {
		// The first attempt on a new connection: the attempts left
		// pending on the old one are failed first, and this one too, so
		// that the retry round sends them all again in their order
		// rather than this one ahead of them.
		p.conn = conn
		p.failStale(conn)
		p.setState(e, stateFailed, nats.ErrDisconnected)
		return false
	}
	p.attempts++
	attempt := p.attempts
	p.setState(e, statePending, nil)
	e.attempt, e.tick, e.conn = attempt, p.ticks, conn
	p.c.published.Add(1)

	b := append(p.replyBuf[:0], p.prefix...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, attempt, 10)
	reply := len(b)
	id := e.hdr[jetstream.MsgIDHeader]
	if id[0] == "" {
		// The record's first attempt: its Nats-Msg-Id (the header map
		// keeps it for the retries) and the reply subject share one
		// allocation.
		b = append(b, e.rec.RunID...)
		b = append(b, '-')
		b = strconv.AppendUint(b, e.rec.Seq, 10)
	}
	p.replyBuf = b
	both := string(b)
	if len(both) > reply {
		id[0] = both[reply:]
	}
	p.msg = nats.Msg{Subject: p.cfg.Target.Subject, Reply: both[:reply], Data: e.rec.Data, Header: e.hdr}
	if err := p.nc.PublishMsg(&p.msg); err != nil {
		p.resolve(i, attempt, false, err)
		return refusal(err)
	}
	return true
}

// setState moves e to s, keeping the tallies.
func (p *Publisher) setState(e *entry, s state, err error) {
	switch e.state {
	case statePending:
		p.pending--
	case stateFailed:
		p.failed--
	}
	switch s {
	case statePending:
		p.pending++
	case stateFailed:
		p.failed++
	}
	e.state, e.err = s, err
}

// takeAcks takes answer m and those already waiting behind it, so that Run
// goes round its loop once per batch of answers, not once per answer.
func (p *Publisher) takeAcks(m *nats.Msg) {
	p.onReply(m)
	for range cap(p.acks) {
		select {
		case m := <-p.acks:
			p.onReply(m)
		default:
			return
		}
	}
}

// onReply takes an answer from the ack subscription.
func (p *Publisher) onReply(m *nats.Msg) {
	i, attempt, ok := p.parseReply(m.Subject)
	if !ok {
		return
	}
	dup, err := parseAck(m, &p.ackStream)
	p.resolve(i, attempt, dup, err)
}

// parseReply returns the slot and attempt of a reply subject.
func (p *Publisher) parseReply(subject string) (int, uint64, bool) {
	rest, ok := strings.CutPrefix(subject, p.prefix)
	if !ok {
		return 0, 0, false
	}
	slot, att, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	i, err := strconv.Atoi(slot)
	if err != nil || i < 0 || i >= len(p.ring) {
		return 0, 0, false
	}
	attempt, err := strconv.ParseUint(att, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return i, attempt, true
}

// resolve records the answer to attempt of slot i. An answer to an attempt
// that is no longer current (superseded by a retry, or timed out) is
// ignored.
func (p *Publisher) resolve(i int, attempt uint64, dup bool, err error) {
	e := &p.ring[i]
	if e.state != statePending || e.attempt != attempt {
		return
	}
	switch {
	case err == nil:
		p.setState(e, stateAcked, nil)
		p.c.acked.Add(1)
		p.c.bytes.Add(uint64(len(e.rec.Data)))
		if dup {
			p.c.duplicates.Add(1)
		}
	case refusal(err):
		p.setState(e, stateRefused, &RefusedError{Seq: e.rec.Seq, Size: len(e.rec.Data), Err: err})
		p.c.refused.Add(1)
	default:
		p.setState(e, stateFailed, err)
		p.c.failures.Add(1)
	}
}
