package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// DumpExpect lists the expectation table of the namespace netnsFD (0: the
// caller's) on a socket of its own (IPCTNL_MSG_EXP_GET with NLM_F_DUMP, of
// both families), and calls fn with each expectation, as an EventSnapshot
// stamped with its receive time. The event passed to fn is reused for the
// next expectation: fn copies what it keeps. When fn returns false,
// DumpExpect stops, discards the rest of the reply with the socket, and
// returns nil.
//
// Its reads are bounded as Dump's are: by ctx's deadline and by
// DumpIdleTimeout. Expectations that cannot be decoded are skipped, and
// DumpExpect then returns an error wrapping ErrDumpIncomplete and the
// first decode error.
func DumpExpect(ctx context.Context, netnsFD int, fn func(*model.ExpectEvent) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dump expectation table: %w", err)
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFD})
	if err != nil {
		return fmt.Errorf("dump expectation table: dial ctnetlink: %w", err)
	}
	defer conn.Close()
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlinkExp, ctnl.IPCTNLMsgExpGet)),
			Flags: netlink.HeaderFlags(ctnl.NLMFRequest | ctnl.NLMFDump),
		},
		// struct nfgenmsg alone: AF_UNSPEC lists both families.
		Data: ctnl.AppendDumpRequest(nil, &ctnl.DumpFilter{}),
	}
	d := expectDumper{fn: fn}
	r := d.reply()
	err = ctnl.Exchange(ctx, conn, req, &r, ctnl.Options{
		// Expectations are few and small; a datagram of a dump is at
		// most 32 KiB all the same.
		Buf:         make([]byte, ctnl.DefaultBufferSize),
		IdleTimeout: DumpIdleTimeout,
	})
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("dump expectation table: no reply for %v: %w", DumpIdleTimeout, err)
	}
	if err != nil {
		return fmt.Errorf("dump expectation table: %w", err)
	}
	return d.err()
}

// expectDumper follows the messages of one expectation dump reply.
type expectDumper struct {
	fn       func(*model.ExpectEvent) bool
	ev       model.ExpectEvent
	now      time.Time // when the datagram being decoded was received
	failed   int
	firstErr error
}

// reply is the ctnl.Reply that feeds d.
func (d *expectDumper) reply() ctnl.Reply {
	return ctnl.Reply{
		Message:  d.handle,
		Datagram: func([]byte) { d.now = time.Now() },
	}
}

// handle takes one data message of the reply, and reports whether to go
// on. The kernel lists each expectation as an IPCTNL_MSG_EXP_NEW
// (ctnetlink_exp_dump_table), which DecodeExpect reads as an EventNew.
func (d *expectDumper) handle(h ctnl.Header, msg []byte) (bool, error) {
	if h.Type != ctnl.NFNLType(ctnl.NFNLSubsysCTNetlinkExp, ctnl.IPCTNLMsgExpNew) {
		d.fail(fmt.Errorf("message type %#04x: %w", uint16(h.Type), ErrNotConntrack))
		return true, nil
	}
	if err := DecodeExpect(msg, &d.ev); err != nil {
		d.fail(err)
		return true, nil
	}
	d.ev.Type = model.EventSnapshot
	d.ev.Time = d.now
	// A dump's port id is the requester's own, not the program behind
	// the expectation.
	d.ev.Origin = model.Origin{}
	return d.fn(&d.ev), nil
}

func (d *expectDumper) fail(err error) {
	if d.failed == 0 {
		d.firstErr = err
	}
	d.failed++
}

// err is the error of a reply of which some messages were not decoded.
func (d *expectDumper) err() error {
	if d.failed > 0 {
		return fmt.Errorf("dump expectation table: %d expectations not decoded: %w", d.failed, errors.Join(ErrDumpIncomplete, d.firstErr))
	}
	return nil
}
