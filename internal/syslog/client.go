package syslog

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits of a message (header and record, without framing).
const (
	// DefaultMaxMessage is the largest message sent unless
	// [Config.MaxMessage] says otherwise: 8 KiB, which RFC 5426 suggests a
	// sender keep to and rsyslog's default maxMessageSize (8096) nearly
	// takes; raise both together.
	DefaultMaxMessage = 8192
	// MaxUDPMessage is the largest UDP payload over IPv4.
	MaxUDPMessage = 65507
)

// Backoff bounds of reconnection.
const (
	BackoffMin = 100 * time.Millisecond
	BackoffMax = 30 * time.Second
)

// Config tunes a [Client]; the zero value is the default.
type Config struct {
	// Format is the header; its Facility, when zero, is the target's.
	Format FormatConfig
	// MaxMessage is the largest message in bytes; a larger record is
	// refused. DefaultMaxMessage when 0; at most MaxUDPMessage for UDP.
	MaxMessage int
	// BatchBytes is how much Send puts into one write on a stream
	// (default 256 KiB).
	BatchBytes int
	// DialTimeout bounds a connection attempt (default 5 s).
	DialTimeout time.Duration
	// WriteTimeout bounds one write: a server that stops reading is
	// unavailable after it (default 30 s).
	WriteTimeout time.Duration
	// Window is the most RELP messages sent and not yet acknowledged
	// (default DefaultRELPWindow, librelp's and rsyslog's omrelp's).
	Window int
	// AckTimeout bounds the wait for one RELP response: a server that
	// stops answering is unavailable after it (default WriteTimeout).
	AckTimeout time.Duration
	// Now is the clock of the messages' timestamps (time.Now if nil).
	Now func() time.Time
}

// Stats are a client's counters since New.
type Stats struct {
	// Sent counts records taken: written to a stream socket, sent as a
	// datagram, or acknowledged by a RELP server.
	Sent uint64
	// Bytes counts the bytes of taken records, framing included.
	Bytes uint64
	// Refused counts records refused (too large, or not framable).
	Refused uint64
	// Failed counts records of failed writes, returned as not taken (a
	// record returned twice counts twice).
	Failed uint64
	// Retries counts failed connection attempts.
	Retries uint64
	// Connects counts connections made (a datagram socket's too).
	Connects uint64
	// Reconnects is Connects less the first.
	Reconnects uint64
}

// Client sends records to one syslog server. It is used by one goroutine
// (the output's), which owns its socket; Stats may be read from any.
type Client struct {
	target  Target
	cfg     Config
	format  *Format
	max     int
	conn    net.Conn
	framing Framing
	stream  bool

	// backoff is the current wait after a failure, 0 after a success;
	// next is when the next attempt to connect may start.
	backoff time.Duration
	next    time.Time

	buf, msg []byte
	ts       [TimestampLen]byte

	// relp is the RELP session, when the target's network is relp.
	relp relpSession

	sent, bytes, refused, failed, retries, connects atomic.Uint64
}

// New makes a client for t; it connects on the first Send.
func New(t Target, cfg Config) (*Client, error) {
	switch t.Network {
	case "udp", "tcp", "unix", "relp":
	default:
		return nil, &URLError{URL: t.Network + "://" + t.Address, Part: "scheme", Err: errors.New("unknown network")}
	}
	if cfg.Format.Facility == 0 {
		cfg.Format.Facility = t.Facility
	}
	if cfg.Format.ProcID == 0 {
		cfg.Format.ProcID = os.Getpid()
	}
	if cfg.Format.Hostname == "" {
		cfg.Format.Hostname, _ = os.Hostname()
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if t.Network == "udp" && cfg.MaxMessage > MaxUDPMessage {
		cfg.MaxMessage = MaxUDPMessage
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 256 << 10
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = cfg.WriteTimeout
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultRELPWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{
		target: t,
		cfg:    cfg,
		format: NewFormat(cfg.Format),
		max:    cfg.MaxMessage,
		buf:    make([]byte, 0, cfg.BatchBytes+cfg.MaxMessage+16),
		msg:    make([]byte, 0, cfg.MaxMessage+1),
	}, nil
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	st := Stats{
		Sent: c.sent.Load(), Bytes: c.bytes.Load(), Refused: c.refused.Load(),
		Failed: c.failed.Load(), Retries: c.retries.Load(), Connects: c.connects.Load(),
	}
	st.Reconnects = max(st.Connects, 1) - 1
	return st
}

// Close closes the connection, if any; a RELP session is closed with a
// close command first, its answer awaited for at most a second.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	if c.target.Network == "relp" {
		c.relpClose()
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Send sends recs in order and returns how many were taken: written to
// the stream socket (with one write per [Config.BatchBytes]), or each sent
// as a datagram. When n < len(recs), err says what became of recs[n:]:
//
//   - errors.Is(err, ErrRefused): recs[n] will never be taken (a
//     *RefusedError says why); skip it, count it and send recs[n+1:].
//   - errors.Is(err, ErrUnavailable): recs[n:] were not taken, the
//     connection is closed; send them again, and Send reconnects after a
//     backoff from BackoffMin doubling to BackoffMax, with jitter.
//   - ctx.Err(): cancelled; recs[n:] were not taken.
//
// A taken record on a stream is in the socket, not necessarily read by
// the server: plain syslog has no acknowledgement, and what the kernel
// buffers held when a server died is lost without a trace. Over RELP a
// taken record is one the server acknowledged with 200 (see sendRELP).
func (c *Client) Send(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, ctx.Err()
	}
	if err := c.connect(ctx); err != nil {
		return 0, err
	}
	AppendTimestamp(c.ts[:0], c.cfg.Now())
	if c.target.Network == "relp" {
		return c.sendRELP(ctx, recs)
	}
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		return 0, c.fail(ctx, "write", err, 0)
	}
	// After the deadline above, which must not undo this one.
	conn := c.conn
	stop := context.AfterFunc(ctx, func() {
		// Unblock a write in progress; Send sees ctx.Err after it.
		conn.SetWriteDeadline(time.Unix(1, 0))
	})
	defer stop()
	if !c.stream {
		return c.sendDatagrams(ctx, recs)
	}
	taken := 0
	c.buf = c.buf[:0]
	for i := range recs {
		refused := c.tooLarge(&recs[i])
		if refused == nil {
			b, ok := AppendFrame(c.buf, c.framing, c.msg)
			if !ok {
				refused = &RefusedError{Seq: recs[i].Seq, Size: len(c.msg), Reason: "a newline in the record, which line-feed framing would split"}
			}
			c.buf = b
		}
		if refused != nil || len(c.buf) >= c.cfg.BatchBytes {
			if err := c.write(ctx, i+boolInt(refused == nil)-taken); err != nil {
				return taken, err
			}
			taken = i + boolInt(refused == nil)
			c.buf = c.buf[:0]
		}
		if refused != nil {
			c.refused.Add(1)
			return taken, refused
		}
	}
	if len(c.buf) > 0 {
		if err := c.write(ctx, len(recs)-taken); err != nil {
			return taken, err
		}
	}
	return len(recs), nil
}

// tooLarge formats r into c.msg and returns a *RefusedError when the
// message is larger than the limit. A record already larger alone is not
// formatted, so that one huge record does not grow c.msg for good.
func (c *Client) tooLarge(r *Record) error {
	if len(r.Line) > c.max {
		return &RefusedError{Seq: r.Seq, Size: len(r.Line), Limit: c.max}
	}
	c.msg = c.format.Append(c.msg[:0], c.ts[:], r)
	if len(c.msg) > c.max {
		return &RefusedError{Seq: r.Seq, Size: len(c.msg), Limit: c.max}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// write writes c.buf, which holds n records.
func (c *Client) write(ctx context.Context, n int) error {
	if len(c.buf) == 0 {
		return nil
	}
	if _, err := c.conn.Write(c.buf); err != nil {
		return c.fail(ctx, "write", err, n)
	}
	c.backoff = 0
	c.sent.Add(uint64(n))
	c.bytes.Add(uint64(len(c.buf)))
	return nil
}

func (c *Client) sendDatagrams(ctx context.Context, recs []Record) (int, error) {
	for i := range recs {
		if err := c.tooLarge(&recs[i]); err != nil {
			c.refused.Add(1)
			return i, err
		}
		if _, err := c.conn.Write(c.msg); err != nil {
			if errors.Is(err, syscall.EMSGSIZE) {
				c.refused.Add(1)
				return i, &RefusedError{Seq: recs[i].Seq, Size: len(c.msg), Reason: err.Error()}
			}
			return i, c.fail(ctx, "write", err, 1)
		}
		c.backoff = 0
		c.sent.Add(1)
		c.bytes.Add(uint64(len(c.msg)))
	}
	return len(recs), nil
}

// fail closes the connection after err, counts the n records not taken
// and schedules the next attempt.
func (c *Client) fail(ctx context.Context, op string, err error, n int) error {
	c.failed.Add(uint64(n))
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	c.backoff = min(max(2*c.backoff, BackoffMin), BackoffMax)
	// Equal jitter: half the backoff fixed, half random, so that agents
	// that lost the same server do not come back in step.
	c.next = time.Now().Add(c.backoff/2 + rand.N(c.backoff/2+1))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &UnavailableError{Op: op, Addr: c.target.Address, Err: err}
}

// connect makes sure there is a connection, waiting for the backoff first,
// and makes one attempt.
func (c *Client) connect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.conn != nil {
		if !c.stream || !c.stale() {
			return nil
		}
		c.conn.Close()
		c.conn = nil
	}
	if wait := time.Until(c.next); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	network := c.target.Network
	switch network {
	case "unix":
		network = "unixgram"
	case "relp":
		network = "tcp"
	}
	conn, err := d.DialContext(ctx, network, c.target.Address)
	stream, framing := network != "udp" && network != "unixgram", OctetCounting
	if err != nil && network == "unixgram" && errors.Is(err, syscall.EPROTOTYPE) {
		// The socket is a stream (syslog-ng's unix-stream source, for one).
		conn, err = d.DialContext(ctx, "unix", c.target.Address)
		stream, framing = true, LineFeed
	}
	if err != nil {
		c.retries.Add(1)
		return c.fail(ctx, "dial", err, 0)
	}
	if c.target.Network == "relp" {
		if err := c.relpOpen(ctx, conn); err != nil {
			c.retries.Add(1)
			conn.Close()
			return c.fail(ctx, "open", err, 0)
		}
	}
	c.conn, c.stream, c.framing = conn, stream, framing
	c.connects.Add(1)
	return nil
}
