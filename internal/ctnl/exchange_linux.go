package ctnl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds an Exchange whose context has no deadline and
// whose Options set no IdleTimeout: every netlink request must end, and on
// some kernels some replies never do.
const DefaultTimeout = 5 * time.Second

// DefaultBufferSize is the receive buffer Exchange allocates when Options
// give none. The kernel sizes dump datagrams to at most 32 KiB (or a page,
// when larger).
const DefaultBufferSize = 64 << 10

// Options tune an Exchange.
type Options struct {
	// Buf receives each datagram of the reply. A datagram larger than Buf
	// fails the exchange (ErrTruncated) rather than be silently cut. Nil:
	// Exchange allocates DefaultBufferSize bytes.
	Buf []byte
	// IdleTimeout, if not zero, bounds the wait for each datagram, as well
	// as ctx's deadline: a dump streams without pause, so a silence that
	// long means a reply that ended in a way Reply did not recognise.
	IdleTimeout time.Duration
}

// Exchange sends req on c (the connection numbers it when its
// Header.Sequence is 0), sets r.Seq to its sequence number, and feeds the
// datagrams of the reply to r until r is done or fails.
//
// c is the caller's, and so is the goroutine: Exchange must be the only
// reader of c meanwhile. Every read and the write are bounded by ctx's
// deadline, by o.IdleTimeout, and by DefaultTimeout when neither is set;
// ctx's cancellation interrupts a blocked read through a past deadline.
// The error of an exchange cut short by ctx wraps ctx.Err(); a deadline
// reached wraps os.ErrDeadlineExceeded.
//
// It reads the socket itself, through its syscall.RawConn, because
// netlink.Conn.Receive keeps waiting after an NLM_F_MULTI message that no
// NLMSG_DONE follows (Linux 6.18's answer to IPCTNL_MSG_CT_GET_STATS), and
// so that a reply's datagrams are read into one reused buffer.
func Exchange(ctx context.Context, c *netlink.Conn, req netlink.Message, r *Reply, o Options) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	// With neither bound, the whole exchange gets DefaultTimeout.
	var overall time.Time
	if _, ok := ctx.Deadline(); !ok && o.IdleTimeout == 0 {
		overall = time.Now().Add(DefaultTimeout)
	}
	deadline := func() time.Time {
		d := overall
		if o.IdleTimeout > 0 {
			d = time.Now().Add(o.IdleTimeout)
		}
		if cd, ok := ctx.Deadline(); ok && (d.IsZero() || cd.Before(d)) {
			d = cd
		}
		return d
	}
	// A deadline in the past wakes a blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return fmt.Errorf("%s: %w", what, err)
	}

	if err := c.SetWriteDeadline(deadline()); err != nil {
		return fail("set netlink write deadline", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	sent, err := c.Send(req)
	if err != nil {
		return fail("send request", err)
	}
	r.Seq = sent.Header.Sequence

	buf := o.Buf
	if buf == nil {
		buf = make([]byte, DefaultBufferSize)
	}
	for !r.Done {
		if err := c.SetReadDeadline(deadline()); err != nil {
			return fail("set netlink read deadline", err)
		}
		// A cancellation that came before the deadline above was set had
		// its past deadline overwritten.
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := recv(raw, buf)
		if err != nil {
			return fail("receive", err)
		}
		if err := r.Feed(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// recv reads one datagram into buf, waiting (within the socket's read
// deadline) until one arrives. A datagram larger than buf is an error
// wrapping ErrTruncated.
func recv(raw syscall.RawConn, buf []byte) (int, error) {
	var n, flags int
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		for {
			n, _, flags, _, rerr = unix.Recvmsg(int(fd), buf, nil, unix.MSG_DONTWAIT)
			if !errors.Is(rerr, unix.EINTR) {
				break
			}
		}
		// false waits for the socket to become readable.
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, os.NewSyscallError("recvmsg", rerr)
	}
	if flags&unix.MSG_TRUNC != 0 {
		return 0, fmt.Errorf("datagram larger than %d bytes: %w", len(buf), ErrTruncated)
	}
	return n, nil
}
