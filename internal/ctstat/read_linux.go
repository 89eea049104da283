package ctstat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

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

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return Reading{}, fmt.Errorf("set netlink deadline: %w", err)
	}
	// A deadline in the past wakes a blocked receive at once.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var r Reading
	fail := func(what string, err error) (Reading, error) {
		if ctx.Err() != nil {
			return Reading{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return Reading{}, fmt.Errorf("%s: %w", what, err)
	}

	global, err := exchange(c, ipctnlMsgCtGetStats, netlink.Request|netlink.Acknowledge)
	if err != nil {
		return fail("get conntrack table statistics", err)
	}
	if r.Count, r.Max, err = decodeGlobalReply(global.data); err != nil {
		return fail("get conntrack table statistics", err)
	}
	perCPU, err := exchange(c, ipctnlMsgCtGetStatsCPU, netlink.Request|netlink.Dump)
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
// reply. It reads the socket itself, through its syscall.RawConn, because
// netlink.Conn.Receive keeps waiting after a NLM_F_MULTI message that no
// NLMSG_DONE follows, which is how the kernel answers
// IPCTNL_MSG_CT_GET_STATS. The socket's deadline bounds the wait.
func exchange(c *netlink.Conn, msg uint16, flags netlink.HeaderFlags) (*reply, error) {
	typ := uint16(nfnlSubsysCtnetlink<<8) | msg
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags},
		// struct nfgenmsg: AF_UNSPEC, NFNETLINK_V0, resource id 0.
		Data: []byte{unix.AF_UNSPEC, 0, 0, 0},
	}
	sent, err := c.Send(req)
	if err != nil {
		return nil, err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &reply{seq: sent.Header.Sequence, typ: typ}
	buf := make([]byte, maxDatagram)
	for !r.done {
		var n, rflags int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			for {
				n, _, rflags, _, rerr = unix.Recvmsg(int(fd), buf, nil, unix.MSG_DONTWAIT)
				if !errors.Is(rerr, unix.EINTR) {
					break
				}
			}
			// false waits for the socket to become readable.
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		if rerr != nil {
			return nil, fmt.Errorf("receive: %w", rerr)
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return nil, fmt.Errorf("%w: datagram larger than %d bytes", ErrMalformed, len(buf))
		}
		// The payloads the reply keeps point into the datagram: give it
		// its own memory.
		dg := append([]byte(nil), buf[:n]...)
		r.datagrams = append(r.datagrams, dg)
		if err := r.add(dg); err != nil {
			return nil, err
		}
	}
	return r, nil
}
