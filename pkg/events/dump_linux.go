package events

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// DumpIdleTimeout bounds the wait for each datagram of a dump's reply. The
// kernel streams a dump without pause, so a silence this long means the
// reply ended in a way the reader did not recognise, and the dump fails
// rather than hang (ctx's deadline, when earlier, applies too).
const DumpIdleTimeout = 5 * time.Second

// ErrDumpIncomplete is returned (wrapped) by Dump when some entries of the
// reply could not be decoded; the others were streamed.
var ErrDumpIncomplete = errors.New("dump incomplete")

// Dump lists the conntrack table of the namespace netnsFD (0: the caller's)
// on a socket of its own, and calls fn with each entry, as an
// EventSnapshot stamped with its receive time. The event passed to fn is
// reused for the next entry: fn copies what it keeps. When fn returns
// false, Dump stops, discards the rest of the reply with the socket, and
// returns nil.
//
// Every read is bounded by ctx's deadline and by DumpIdleTimeout, so that a
// reply the kernel ends oddly (an ACK rather than NLMSG_DONE, or nothing)
// cannot hang the caller; ctx's cancellation interrupts a read too. The
// error of a dump cut short by ctx wraps ctx.Err(). Entries that cannot be
// decoded are skipped, and Dump then returns an error wrapping
// ErrDumpIncomplete and the first decode error.
func Dump(ctx context.Context, netnsFD int, fn func(*model.Event) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dump conntrack table: %w", err)
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFD})
	if err != nil {
		return fmt.Errorf("dump conntrack table: dial ctnetlink: %w", err)
	}
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("dump conntrack table: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	// struct nfgenmsg: AF_UNSPEC lists both families.
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(nfnlSubsysCTNetlink<<8 | ipctnlMsgCtGet),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	if err := conn.SetWriteDeadline(ioDeadline(ctx)); err != nil {
		return fmt.Errorf("dump conntrack table: %w", err)
	}
	if req, err = conn.Send(req); err != nil {
		return fmt.Errorf("dump conntrack table: send request: %w", err)
	}

	d := dumper{fn: fn, seq: req.Header.Sequence}
	buf := make([]byte, recvBufferSize)
	for !d.done {
		if err := conn.SetReadDeadline(ioDeadline(ctx)); err != nil {
			return fmt.Errorf("dump conntrack table: %w", err)
		}
		// A cancellation that came before the deadline above was set had
		// its past deadline overwritten.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dump conntrack table: %w", err)
		}
		n, err := recvBlocking(raw, buf)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("dump conntrack table: %w", ctx.Err())
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("dump conntrack table: no reply for %v: %w", DumpIdleTimeout, err)
			}
			return fmt.Errorf("dump conntrack table: %w", err)
		}
		now := time.Now()
		if err := forEachMessage(buf[:n], func(msg netlink.Message, raw []byte) bool {
			return d.handle(msg, raw, now)
		}); err != nil {
			return fmt.Errorf("dump conntrack table: %w", err)
		}
		if d.err != nil {
			return fmt.Errorf("dump conntrack table: %w", d.err)
		}
	}
	if d.failed > 0 {
		return fmt.Errorf("dump conntrack table: %d entries not decoded: %w", d.failed, errors.Join(ErrDumpIncomplete, d.firstErr))
	}
	return nil
}

// DumpAll is Dump collecting every entry.
func DumpAll(ctx context.Context, netnsFD int) ([]model.Event, error) {
	var evs []model.Event
	err := Dump(ctx, netnsFD, func(ev *model.Event) bool {
		e := *ev
		e.Entry.Labels = append([]string(nil), ev.Entry.Labels...)
		evs = append(evs, e)
		return true
	})
	return evs, err
}

// ioDeadline is the deadline of one read or write: DumpIdleTimeout from
// now, or ctx's deadline if earlier.
func ioDeadline(ctx context.Context) time.Time {
	d := time.Now().Add(DumpIdleTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// dumper follows the messages of one dump reply.
type dumper struct {
	fn       func(*model.Event) bool
	seq      uint32
	ev       model.Event
	done     bool
	err      error
	failed   int
	firstErr error
}

// handle takes one message of the reply, raw its bytes, and reports
// whether to go on.
func (d *dumper) handle(msg netlink.Message, raw []byte, now time.Time) bool {
	if msg.Header.Sequence != d.seq {
		return true // not ours: nothing else should arrive on this socket
	}
	switch msg.Header.Type {
	case netlink.Done:
		// NLMSG_DONE carries the dump's final status.
		if len(msg.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(msg.Data)); code != 0 {
				d.err = fmt.Errorf("kernel ended the dump with: %w", syscall.Errno(-code))
			}
		}
		d.done = true
		return false
	case netlink.Error:
		if len(msg.Data) < 4 {
			d.err = fmt.Errorf("netlink error message of %d bytes: %w", len(msg.Data), ErrTruncated)
		} else if code := int32(binary.NativeEndian.Uint32(msg.Data)); code != 0 {
			d.err = syscall.Errno(-code)
		}
		// An ACK (error 0) ends the reply as well.
		d.done = true
		return false
	case netlink.Noop, netlink.Overrun:
		return true
	}
	if uint16(msg.Header.Type) != nfnlSubsysCTNetlink<<8|ipctnlMsgCtNew {
		d.fail(fmt.Errorf("message type %#04x: %w", uint16(msg.Header.Type), ErrNotConntrack))
		return true
	}
	// A dump of a million entries is decoded at startup and, under
	// nf_conntrack_events=2, at every reconciliation: the lean decoder's
	// cost matters here as much as on the event path.
	if err := DecodeFast(raw, &d.ev); err != nil {
		d.fail(err)
		return true
	}
	d.ev.Type = model.EventSnapshot
	d.ev.Origin = model.Origin{}
	if d.ev.Time.IsZero() {
		d.ev.Time = now
	}
	if !d.fn(&d.ev) {
		d.done = true
		return false
	}
	return true
}

func (d *dumper) fail(err error) {
	if d.failed == 0 {
		d.firstErr = err
	}
	d.failed++
}

// recvBlocking reads one datagram, waiting (within the socket's read
// deadline) until one arrives.
func recvBlocking(raw syscall.RawConn, buf []byte) (int, error) {
	var n int
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		for {
			var err error
			n, _, _, _, err = unix.Recvmsg(int(fd), buf, nil, unix.MSG_DONTWAIT)
			switch err {
			case nil:
				return true
			case unix.EAGAIN:
				return false
			case unix.EINTR:
				continue
			}
			rerr = os.NewSyscallError("recvmsg", err)
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}
