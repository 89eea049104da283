package ctstat

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
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

// bucketsSysctl is the hash table's size, which every reading carries.
const bucketsSysctl = "net.netfilter.nf_conntrack_buckets"

// Read takes one reading of the connection-tracking table of the network
// namespace ns (nil is the caller's own): the entry count and
// limit, the per-CPU counters and their sum, and nf_conntrack_buckets.
// The requests are bounded by ctx's deadline, or DefaultTimeout when it has
// none, and abandoned when ctx is cancelled. It opens and closes a socket
// of its own: a caller reading periodically keeps a [Reader] instead.
func Read(ctx context.Context, ns *netns.Handle) (Reading, error) {
	r := NewReader(ns)
	defer r.Close()
	return r.Read(ctx)
}

// Reader takes readings of one namespace's table over one ctnetlink socket
// and one open descriptor of nf_conntrack_buckets, kept between readings:
// a periodic reading then costs its requests only, not a socket's dial and
// close nor a thread's switch into the namespace. It is owned by one
// goroutine: Read and Close must not be called concurrently.
type Reader struct {
	ns *netns.Handle
	// c is the socket, nil until the first Read and after a failed one:
	// a request abandoned at its deadline may still be answered, and a
	// fresh socket never mistakes that late answer for the next one's.
	c *netlink.Conn
	// buckets holds the descriptor of nf_conntrack_buckets, opened in ns
	// (/proc/sys/net resolves against the opener's namespace, and the
	// open file stays bound to it); -1 until opened. It is a separate
	// object so that a Reader dropped without Close still has it closed
	// (the socket's own file closes itself the same way).
	buckets *fdBox
	buf     []byte
}

// fdBox holds a descriptor, -1 for none.
type fdBox struct{ fd int }

func (b *fdBox) close() error {
	if b.fd < 0 {
		return nil
	}
	err := unix.Close(b.fd)
	b.fd = -1
	return err
}

// NewReader returns a Reader of the namespace ns (nil is the caller's own).
// It opens nothing until the first Read; ns must stay open while it is used.
func NewReader(ns *netns.Handle) *Reader {
	rd := &Reader{ns: ns, buckets: &fdBox{fd: -1}}
	runtime.AddCleanup(rd, func(b *fdBox) { _ = b.close() }, rd.buckets)
	return rd
}

// Read takes one reading, as the package's Read does, dialling the socket
// and opening the sysctl on first use or after a failure.
func (rd *Reader) Read(ctx context.Context) (Reading, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	fail := func(what string, err error) (Reading, error) {
		rd.closeConn()
		if ctx.Err() != nil {
			return Reading{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return Reading{}, fmt.Errorf("%s: %w", what, err)
	}
	if rd.c == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: rd.ns.FD()})
		if err != nil {
			return Reading{}, fmt.Errorf("dial ctnetlink: %w", err)
		}
		rd.c = c
	}
	if rd.buf == nil {
		rd.buf = make([]byte, maxDatagram)
	}

	var r Reading
	global, err := rd.exchange(ctx, ctnl.IPCTNLMsgCtGetStats, ctnl.NLMFRequest|ctnl.NLMFAck)
	if err != nil {
		return fail("get conntrack table statistics", err)
	}
	if r.Count, r.Max, err = decodeGlobalReply(global.data); err != nil {
		return fail("get conntrack table statistics", err)
	}
	perCPU, err := rd.exchange(ctx, ctnl.IPCTNLMsgCtGetStatsCPU, ctnl.NLMFRequest|ctnl.NLMFDump)
	if err != nil {
		return fail("get conntrack per-CPU statistics", err)
	}
	if r.PerCPU, r.Sum, err = decodeCPUReply(perCPU.data); err != nil {
		return fail("get conntrack per-CPU statistics", err)
	}
	buckets, err := rd.readBuckets()
	if err != nil {
		return Reading{}, err
	}
	r.Buckets = uint32(buckets)
	r.Time = time.Now()
	return r, nil
}

// readBuckets reads nf_conntrack_buckets through the kept descriptor.
func (rd *Reader) readBuckets() (int64, error) {
	b := rd.buckets
	if b.fd < 0 {
		path, err := sysctl.Path(bucketsSysctl)
		if err != nil {
			return 0, err
		}
		err = rd.ns.Do(func() error {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return &fs.PathError{Op: "open", Path: path, Err: err}
			}
			b.fd = fd
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("sysctl %s: %w", bucketsSysctl, err)
		}
	}
	var v [32]byte
	n, err := unix.Pread(b.fd, v[:], 0)
	if err != nil {
		_ = b.close()
		return 0, fmt.Errorf("sysctl %s: %w", bucketsSysctl, err)
	}
	buckets, err := sysctl.ParseInt(strings.TrimSpace(string(v[:n])))
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %w", bucketsSysctl, err)
	}
	return buckets, nil
}

// closeConn closes the socket, for the next Read to dial afresh.
func (rd *Reader) closeConn() error {
	if rd.c == nil {
		return nil
	}
	err := rd.c.Close()
	rd.c = nil
	return err
}

// Close closes the socket and the sysctl's descriptor. The Reader may be
// used again afterwards: it opens them anew.
func (rd *Reader) Close() error {
	err := rd.closeConn()
	return errors.Join(err, rd.buckets.close())
}

// exchange is exchangeBuf on the Reader's socket and buffer.
func (rd *Reader) exchange(ctx context.Context, msg ctnl.MsgType, flags ctnl.Flags) (*reply, error) {
	return exchangeBuf(ctx, rd.c, msg, flags, rd.buf)
}

// exchangeBuf sends one ctnetlink request of type msg and receives its
// whole reply into buf (maxDatagram long; the reply keeps copies), within
// ctx's deadline.
func exchangeBuf(ctx context.Context, c *netlink.Conn, msg ctnl.MsgType, flags ctnl.Flags, buf []byte) (*reply, error) {
	typ := ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, msg)
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.HeaderFlags(flags)},
		// struct nfgenmsg: AF_UNSPEC, NFNETLINK_V0, resource id 0.
		Data: []byte{unix.AF_UNSPEC, ctnl.NFNetlinkV0, 0, 0},
	}
	r := newReply(typ)
	if err := ctnl.Exchange(ctx, c, req, &r.Reply, ctnl.Options{Buf: buf}); err != nil {
		return nil, malformed(err)
	}
	return r, nil
}
