package syslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultRELPWindow is the most RELP messages in flight unless
// [Config.Window] says otherwise: 128, librelp's default window, which
// rsyslog's omrelp uses too.
const DefaultRELPWindow = 128

// relpOffers are the client's offers in its open command: RELP version 0,
// the one librelp speaks (version 1 was never defined beyond the
// specification's draft), and the one command it uses.
const relpOffers = "relp_version=0\nrelp_software=ctwatch\ncommands=syslog"

// errServerClose is the serverclose hint of a server that is shutting down.
var errServerClose = errors.New("the server closed the session (serverclose)")

// relpSession is the state of a RELP connection, owned by the client's
// goroutine like the connection.
type relpSession struct {
	rd *relpReader
	// txnr is the number of the next command, ack that of the oldest
	// command not answered yet; they are equal between Sends.
	txnr, ack uint32
	// last is the last number a session uses, relpMaxTxnr unless a test
	// wants to see a session used up (0).
	last uint32
	// sizes holds the frame sizes of the records in flight, at their
	// index modulo the window, for Stats.Bytes when they are acknowledged.
	sizes []int
	// known are the answers, in order, to messages after one the server
	// refused: Send returned at the refused one, and the caller sends the
	// rest again; a record whose answer is known is not sent twice. At most
	// a window; cleared when the caller sends other records.
	known []relpKnown
}

type relpKnown struct {
	seq  uint64
	size int
	err  error // nil: acknowledged
}

// relpOpen opens a RELP session on conn: the open command with the
// client's offers, and a 200 answer whose offers take relp_version and
// the syslog command.
func (c *Client) relpOpen(ctx context.Context, conn net.Conn) error {
	r := &c.relp
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := conn.SetDeadline(time.Now().Add(c.cfg.AckTimeout)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.rd = newRELPReader(conn, RELPMaxResponse)
	r.txnr = 1
	if len(r.sizes) != c.cfg.Window {
		r.sizes = make([]int, c.cfg.Window)
	}
	if _, err := conn.Write(appendRELPFrame(c.buf[:0], r.txnr, "open", []byte(relpOffers))); err != nil {
		return err
	}
	f, err := r.rd.Read()
	if err != nil {
		return err
	}
	if f.Txnr == 0 && string(f.Command) == "serverclose" {
		return errServerClose
	}
	if f.Txnr != r.txnr || string(f.Command) != "rsp" {
		return protocolErrorf("answer %d %q to open %d", f.Txnr, f.Command, r.txnr)
	}
	rsp, err := parseRELPResponse(f.Data)
	if err != nil {
		return err
	}
	if rsp.Code != 200 {
		return protocolErrorf("open refused: %d %s", rsp.Code, rsp.Text)
	}
	version, syslog := false, false
	for line := range bytes.SplitSeq(rsp.Data, []byte("\n")) {
		name, value, _ := bytes.Cut(line, []byte("="))
		switch string(name) {
		case "relp_version":
			version = true
		case "commands":
			for cmd := range bytes.SplitSeq(value, []byte(",")) {
				syslog = syslog || string(cmd) == "syslog"
			}
		}
	}
	if !version || !syslog {
		return protocolErrorf("open answered without relp_version or the syslog command: %q", rsp.Data)
	}
	r.txnr = nextTxnr(r.txnr)
	r.ack = r.txnr
	return nil
}

// sendRELP is Send over RELP. Messages go out in frames of one write per
// [Config.BatchBytes], at most [Config.Window] of them unanswered: when the
// window is full, Send reads answers until half of it is free, so that
// the server works on the other half meanwhile. Answers come in the order
// of the messages; a record is taken when its answer is 200. A record
// larger than MaxMessage is refused by the client once everything before
// it is answered; one the server refuses (any other code) is a
// *RefusedError with the server's answer. A broken connection, a
// serverclose, a protocol error or no answer within [Config.AckTimeout]
// closes the connection: the records not answered are not taken
// (ErrUnavailable) and go again on a new session. The server may have
// written some of them before it failed to answer: RELP delivers at least
// once, and a duplicate is possible, a loss is not.
//
// A session ends before its transaction numbers wrap: the specification
// has 999999999 followed by 1, but librelp follows it with 1000000000,
// which it cannot send or read (TXNR has at most 9 digits), and a server
// that expects another number than it gets breaks the session. After
// 999999999 messages Send closes the session and opens a new one, whose
// numbers start at 1 on both sides.
func (c *Client) sendRELP(ctx context.Context, recs []Record) (int, error) {
	taken, err := c.relpKnown(recs)
	if err != nil || taken == len(recs) {
		return taken, err
	}
	for {
		var more bool
		taken, more, err = c.relpSend(ctx, recs, taken)
		if err != nil || !more {
			return taken, err
		}
		// The session's numbers are used up, nothing is in flight.
		c.relpClose()
		c.conn.Close()
		c.conn = nil
		if err := c.connect(ctx); err != nil {
			return taken, err
		}
	}
}

// relpSend sends recs from taken on over the current session; more says
// that it stopped at the end of the session's transaction numbers, with
// every record before answered.
func (c *Client) relpSend(ctx context.Context, recs []Record, taken int) (int, bool, error) {
	r := &c.relp
	conn := c.conn
	stop := context.AfterFunc(ctx, func() {
		// Unblock a write or read in progress; Send sees ctx.Err after it.
		conn.SetDeadline(time.Unix(1, 0))
	})
	defer stop()
	last := r.last
	if last == 0 {
		last = relpMaxTxnr
	}
	first, next := taken, taken
	c.buf = c.buf[:0]
	var refused error
	more := false
	for next < len(recs) {
		if r.txnr > last || r.txnr == 1 {
			more = true
			break
		}
		if refused = c.tooLarge(&recs[next]); refused != nil {
			break
		}
		start := len(c.buf)
		c.buf = appendRELPFrame(c.buf, r.txnr, "syslog", c.msg)
		r.sizes[next%len(r.sizes)] = len(c.buf) - start
		r.txnr = nextTxnr(r.txnr)
		next++
		full := next-first >= c.cfg.Window
		if full || len(c.buf) >= c.cfg.BatchBytes {
			if err := c.relpWrite(ctx, next-first); err != nil {
				return first, false, err
			}
		}
		if full {
			if err := c.relpAwait(ctx, recs, &first, next, next-c.cfg.Window/2); err != nil {
				return first, false, err
			}
		}
	}
	if err := c.relpWrite(ctx, next-first); err != nil {
		return first, false, err
	}
	if err := c.relpAwait(ctx, recs, &first, next, next); err != nil {
		return first, false, err
	}
	if refused != nil {
		c.refused.Add(1)
		return first, false, refused
	}
	return first, more, nil
}

// relpKnown takes the leading records whose answers an earlier Send read.
func (c *Client) relpKnown(recs []Record) (int, error) {
	r := &c.relp
	taken := 0
	for len(r.known) > 0 && taken < len(recs) {
		k := r.known[0]
		if k.seq != recs[taken].Seq {
			r.known = r.known[:0]
			break
		}
		r.known = r.known[1:]
		if k.err != nil {
			c.refused.Add(1)
			return taken, k.err
		}
		c.sent.Add(1)
		c.bytes.Add(uint64(k.size))
		taken++
	}
	return taken, nil
}

// relpDeadline sets the connection's deadline d from now, after which a
// cancelled ctx is an error: the AfterFunc of a ctx cancelled before the
// deadline was set has been undone by it.
func (c *Client) relpDeadline(ctx context.Context, d time.Duration) error {
	if err := c.conn.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	return ctx.Err()
}

// relpWrite writes c.buf; unanswered is the number of records in flight,
// not taken if the write fails.
func (c *Client) relpWrite(ctx context.Context, unanswered int) error {
	if len(c.buf) == 0 {
		return nil
	}
	if err := c.relpDeadline(ctx, c.cfg.WriteTimeout); err != nil {
		return c.fail(ctx, "write", err, unanswered)
	}
	if _, err := c.conn.Write(c.buf); err != nil {
		return c.fail(ctx, "write", err, unanswered)
	}
	c.buf = c.buf[:0]
	return nil
}

// relpAwait reads answers to the records from *first until until, of the
// records up to sent in flight, advancing *first over each acknowledged.
// When the server refuses one, the answers to the others in flight are
// read into c.relp.known and the refusal returned.
func (c *Client) relpAwait(ctx context.Context, recs []Record, first *int, sent, until int) error {
	r := &c.relp
	for *first < until {
		i := *first
		code, text, err := c.relpAnswer(ctx, sent-i)
		if err != nil {
			return err
		}
		size := r.sizes[i%len(r.sizes)]
		if code != 200 {
			refused := relpRefused(&recs[i], size, code, text)
			r.known = r.known[:0]
			for j := i + 1; j < sent; j++ {
				code, text, err := c.relpAnswer(ctx, sent-j)
				if err != nil {
					r.known = r.known[:0]
					return err
				}
				k := relpKnown{seq: recs[j].Seq, size: r.sizes[j%len(r.sizes)]}
				if code != 200 {
					k.err = relpRefused(&recs[j], k.size, code, text)
				}
				r.known = append(r.known, k)
			}
			c.refused.Add(1)
			return refused
		}
		c.backoff = 0
		c.sent.Add(1)
		c.bytes.Add(uint64(size))
		*first = i + 1
	}
	return nil
}

func relpRefused(r *Record, size, code int, text []byte) error {
	return &RefusedError{Seq: r.Seq, Size: size, Reason: fmt.Sprintf("the relp server answered %d %s", code, text)}
}

// relpAnswer reads the answer to the oldest command in flight, of
// unanswered; an error has closed the connection.
func (c *Client) relpAnswer(ctx context.Context, unanswered int) (int, []byte, error) {
	r := &c.relp
	if r.rd.Buffered() == 0 {
		// About to wait: the wait is bounded from now. Answers already
		// read are taken without a deadline of their own (setting one is
		// the larger part of the cost of an answer otherwise).
		if err := c.relpDeadline(ctx, c.cfg.AckTimeout); err != nil {
			return 0, nil, c.fail(ctx, "read", err, unanswered)
		}
		quickAck(c.conn)
	}
	f, err := r.rd.Read()
	if err != nil {
		return 0, nil, c.fail(ctx, "read", err, unanswered)
	}
	if f.Txnr == 0 && string(f.Command) == "serverclose" {
		return 0, nil, c.fail(ctx, "read", errServerClose, unanswered)
	}
	if f.Txnr != r.ack || string(f.Command) != "rsp" {
		return 0, nil, c.fail(ctx, "read", protocolErrorf("frame %d %q, want the answer to %d", f.Txnr, f.Command, r.ack), unanswered)
	}
	rsp, err := parseRELPResponse(f.Data)
	if err != nil {
		return 0, nil, c.fail(ctx, "read", err, unanswered)
	}
	r.ack = nextTxnr(r.ack)
	return rsp.Code, rsp.Text, nil
}

// relpClose ends the session with a close command and waits a moment for
// its answer, so that the server logs a clean close rather than a broken
// connection. Nothing is in flight between Sends: nothing depends on it.
func (c *Client) relpClose() {
	r := &c.relp
	if c.conn.SetDeadline(time.Now().Add(min(c.cfg.AckTimeout, time.Second))) != nil {
		return
	}
	if _, err := c.conn.Write(appendRELPFrame(c.buf[:0], r.txnr, "close", nil)); err != nil {
		return
	}
	for {
		f, err := r.rd.Read()
		if err != nil || f.Txnr == r.txnr && string(f.Command) == "rsp" {
			return
		}
	}
}

// stale says whether the connection is over before a Send: closed by the
// server, or, for RELP, with something to read between Sends (nothing is
// in flight then: only a serverclose hint, or garbage, can be there).
func (c *Client) stale() bool {
	if c.target.Network != "relp" {
		return peerClosed(c.conn)
	}
	if c.relp.rd.Buffered() > 0 {
		return true
	}
	closed, readable := peek(c.conn)
	return closed || readable
}
