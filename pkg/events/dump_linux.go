package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
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
	return DumpNamed(ctx, netnsFD, nil, fn)
}

// DumpNamed is Dump writing labels by the names of names, as
// Config.Labels does for events: a bit's name, or its number in decimal
// where names has none.
func DumpNamed(ctx context.Context, netnsFD int, names *model.LabelNames, fn func(*model.Event) bool) error {
	return DumpFiltered(ctx, netnsFD, names, DumpFilter{}, fn)
}

// DumpFiltered is DumpNamed asking the kernel to list only the entries
// filter selects. A filter that does not validate is an error wrapping
// ErrInvalidDumpFilter, and nothing is dumped; one the kernel refuses
// fails the dump with an error wrapping ErrFilterRefused.
func DumpFiltered(ctx context.Context, netnsFD int, names *model.LabelNames, filter DumpFilter, fn func(*model.Event) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dump conntrack table: %w", err)
	}
	if err := filter.Validate(); err != nil {
		return fmt.Errorf("dump conntrack table: %w", err)
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFD})
	if err != nil {
		return fmt.Errorf("dump conntrack table: dial ctnetlink: %w", err)
	}
	defer conn.Close()

	// struct nfgenmsg and the filter's attributes: the zero filter is
	// AF_UNSPEC, both families, and no attribute.
	wire := filter.wire()
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtGet)),
			Flags: netlink.HeaderFlags(ctnl.NLMFRequest | ctnl.NLMFDump),
		},
		Data: ctnl.AppendDumpRequest(nil, &wire),
	}
	d := dumper{fn: fn, names: names}
	r := ctnl.Reply{
		Message:  d.handle,
		Datagram: func([]byte) { d.now = time.Now() },
	}
	err = ctnl.Exchange(ctx, conn, req, &r, ctnl.Options{
		Buf:         make([]byte, recvBufferSize),
		IdleTimeout: DumpIdleTimeout,
	})
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("dump conntrack table: no reply for %v: %w", DumpIdleTimeout, err)
	}
	var errno syscall.Errno
	if err != nil && !filter.IsZero() && d.entries == 0 && errors.As(err, &errno) {
		// ctnetlink_start parses the filter before the first entry: an
		// errno then is the filter's.
		return fmt.Errorf("dump conntrack table: %w: %w", ErrFilterRefused, err)
	}
	if err != nil {
		return fmt.Errorf("dump conntrack table: %w", err)
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

// dumper follows the messages of one dump reply.
type dumper struct {
	fn       func(*model.Event) bool
	names    *model.LabelNames
	ev       model.Event
	now      time.Time // when the datagram being decoded was received
	entries  int       // data messages taken, decoded or not
	failed   int
	firstErr error
}

// handle takes one data message of the reply (ctnl.Reply has taken the
// control messages), and reports whether to go on.
func (d *dumper) handle(h ctnl.Header, msg []byte) (bool, error) {
	d.entries++
	if h.Type != ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew) {
		d.fail(fmt.Errorf("message type %#04x: %w", uint16(h.Type), ErrNotConntrack))
		return true, nil
	}
	// A dump of a million entries is decoded at startup and, under
	// nf_conntrack_events=2, at every reconciliation: the lean decoder's
	// cost matters here as much as on the event path.
	if err := decodeFast(msg, &d.ev, d.names); err != nil {
		d.fail(err)
		return true, nil
	}
	d.ev.Type = model.EventSnapshot
	d.ev.Origin = model.Origin{}
	if d.ev.Time.IsZero() {
		d.ev.Time = d.now
	}
	return d.fn(&d.ev), nil
}

func (d *dumper) fail(err error) {
	if d.failed == 0 {
		d.firstErr = err
	}
	d.failed++
}
