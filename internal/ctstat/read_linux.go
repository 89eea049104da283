package ctstat

import (
	"context"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/sysctl"
)

// DefaultTimeout bounds Read when its context has no deadline: every
// netlink request must end, and on some kernels some replies never do.
const DefaultTimeout = 5 * time.Second

// maxDatagram is the receive buffer for one datagram. The kernel sizes dump
// datagrams to at most 32 KiB (or a page, when larger); a datagram that
// does not fit is reported as an error, never silently cut.
const maxDatagram = 64 << 10

// Read takes one reading of the connection-tracking table of the network
// namespace ns (nil is the caller's own): the entry count and
// limit, the per-CPU counters and their sum, and nf_conntrack_buckets.
// The requests are bounded by ctx's deadline, or DefaultTimeout when it has
// none, and abandoned when ctx is cancelled.
func Read(ctx context.Context, ns *netns.Handle) (Reading, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD()})
	if err != nil {
		return Reading{}, fmt.Errorf("dial ctnetlink: %w", err)
	}
	defer c.Close()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}

	var r Reading
	fail := func(what string, err error) (Reading, error) {
		if ctx.Err() != nil {
			return Reading{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return Reading{}, fmt.Errorf("%s: %w", what, err)
	}

	global, err := exchange(ctx, c, ctnl.IPCTNLMsgCtGetStats, ctnl.NLMFRequest|ctnl.NLMFAck)
	if err != nil {
		return fail("get conntrack table statistics", err)
	}
	if r.Count, r.Max, err = decodeGlobalReply(global.data); err != nil {
		return fail("get conntrack table statistics", err)
	}
	perCPU, err := exchange(ctx, c, ctnl.IPCTNLMsgCtGetStatsCPU, ctnl.NLMFRequest|ctnl.NLMFDump)
	if err != nil {
		return fail("get conntrack per-CPU statistics", err)
	}
	if r.PerCPU, r.Sum, err = decodeCPUReply(perCPU.data); err != nil {
		return fail("get conntrack per-CPU statistics", err)
	}
	buckets, err := sysctl.ReadInt(ns, "net.netfilter.nf_conntrack_buckets")
	if err != nil {
		return Reading{}, err
	}
	r.Buckets = uint32(buckets)
	r.Time = time.Now()
	return r, nil
}

// exchange sends one ctnetlink request of type msg and receives its whole
// reply, within ctx's deadline.
func exchange(ctx context.Context, c *netlink.Conn, msg ctnl.MsgType, flags ctnl.Flags) (*reply, error) {
	typ := ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, msg)
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.HeaderFlags(flags)},
		// struct nfgenmsg: AF_UNSPEC, NFNETLINK_V0, resource id 0.
		Data: []byte{unix.AF_UNSPEC, ctnl.NFNetlinkV0, 0, 0},
	}
	r := newReply(typ)
	if err := ctnl.Exchange(ctx, c, req, &r.Reply, ctnl.Options{Buf: make([]byte, maxDatagram)}); err != nil {
		return nil, malformed(err)
	}
	return r, nil
}
