//go:build integration

package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// Helpers of the health, stats and doctor tests that talk ctnetlink
// directly: bulk creation of entries (a table of 262144 entries is filled in
// seconds, where one request per entry would take minutes under -race) and a
// bounded dump for health.Monitor.

// bulkFlow is a UDP entry to create: ASSURED and with a reply seen, so that
// the kernel can never early-drop it to make room.
type bulkFlow struct {
	src, dst     netip.Addr
	sport, dport uint16
}

const (
	// IPS_SEEN_REPLY|IPS_ASSURED|IPS_CONFIRMED. ctnetlink marks a new
	// entry confirmed before applying CTA_STATUS and refuses (EBUSY) a
	// status that would change that bit, so it must be asked for.
	bulkStatus = ctnl.IPSSeenReply | ctnl.IPSAssured | ctnl.IPSConfirmed
	// bulkTimeout outlives any test.
	bulkTimeout = 3600
)

// bulkBatch is how many requests go in one sendmsg; their acknowledgements
// must fit the socket's receive buffer.
const bulkBatch = 256

// createBulk creates flows in ns's table, in order, until the table is full.
// It returns how many it created and whether the kernel refused one for
// want of room (ENOMEM); any other refusal fails the test.
func createBulk(t testing.TB, ns *nstest.NS, flows []bulkFlow) (created int, full bool) {
	t.Helper()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD})
	if err != nil {
		t.Fatalf("dial ctnetlink: %v", err)
	}
	defer c.Close()
	if err := c.SetReadBuffer(4 << 20); err != nil {
		t.Fatalf("set receive buffer: %v", err)
	}
	for start := 0; start < len(flows); start += bulkBatch {
		batch := flows[start:min(start+bulkBatch, len(flows))]
		msgs := make([]netlink.Message, len(batch))
		for i, f := range batch {
			msgs[i] = newFlowMessage(t, f)
		}
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		sent, err := c.SendMessages(msgs)
		if err != nil {
			t.Fatalf("send create requests: %v", err)
		}
		codes, err := receiveAcks(c, sent)
		if err != nil {
			t.Fatalf("create entries: %v", err)
		}
		for i, code := range codes {
			switch code {
			case 0:
				created++
			case syscall.ENOMEM:
				full = true
			default:
				t.Fatalf("create entry %d (%+v): %v", start+i, batch[i], code)
			}
		}
		if full {
			return created, true
		}
	}
	return created, false
}

// appendUDP4Tuples appends the CTA_TUPLE_ORIG and CTA_TUPLE_REPLY nests
// of an IPv4 UDP entry without NAT, from src:sport to dst:dport, to b.
func appendUDP4Tuples(b []byte, src, dst [4]byte, sport, dport uint16) []byte {
	tuple := func(b []byte, typ ctnl.AttrType, src, dst [4]byte, sport, dport uint16) []byte {
		b, tup := ctnl.BeginNest(b, typ)
		b, ip := ctnl.BeginNest(b, ctnl.CTATupleIP)
		b = ctnl.AppendAttr(b, ctnl.CTAIPV4Src, src[:])
		b = ctnl.AppendAttr(b, ctnl.CTAIPV4Dst, dst[:])
		b = ctnl.EndNest(b, ip)
		b, proto := ctnl.BeginNest(b, ctnl.CTATupleProto)
		b = ctnl.AppendU8(b, ctnl.CTAProtoNum, unix.IPPROTO_UDP)
		b = ctnl.AppendU16(b, ctnl.CTAProtoSrcPort, sport)
		b = ctnl.AppendU16(b, ctnl.CTAProtoDstPort, dport)
		b = ctnl.EndNest(b, proto)
		return ctnl.EndNest(b, tup)
	}
	b = tuple(b, ctnl.CTATupleOrig, src, dst, sport, dport)
	return tuple(b, ctnl.CTATupleReply, dst, src, dport, sport)
}

// newFlowMessage is an IPCTNL_MSG_CT_NEW request for f.
func newFlowMessage(t testing.TB, f bulkFlow) netlink.Message {
	attrs := appendUDP4Tuples(nil, f.src.As4(), f.dst.As4(), f.sport, f.dport)
	attrs = ctnl.AppendU32(attrs, ctnl.CTAStatus, uint32(bulkStatus))
	attrs = ctnl.AppendU32(attrs, ctnl.CTATimeout, bulkTimeout)
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)),
			Flags: netlink.Request | netlink.Create | netlink.Excl | netlink.Acknowledge,
		},
		Data: append([]byte{unix.AF_INET, ctnl.NFNetlinkV0, 0, 0}, attrs...),
	}
}

// receiveAcks reads the acknowledgement or error of each sent request and
// returns their codes (0 for success), in the order of sent. It reads the
// socket itself because netlink.Conn.Receive turns the first error into its
// result and loses which request it answered.
func receiveAcks(c *netlink.Conn, sent []netlink.Message) ([]syscall.Errno, error) {
	index := make(map[uint32]int, len(sent))
	for i, m := range sent {
		index[m.Header.Sequence] = i
	}
	codes := make([]syscall.Errno, len(sent))
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	for left := len(sent); left > 0; {
		var n int
		var rerr error
		if err := raw.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return !errors.Is(rerr, unix.EAGAIN)
		}); err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		if rerr != nil {
			return nil, fmt.Errorf("receive: %w", rerr)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			i, ok := index[m.Header.Seq]
			if !ok || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code < 0 {
				codes[i] = syscall.Errno(-code)
			}
			delete(index, m.Header.Seq)
			left--
		}
	}
	return codes, nil
}

// dumpFunc dumps ns's table for health.Monitor: each entry is decoded by
// ti-mo/conntrack and handed over as a model.Entry. The dump is bounded by
// ctx; when fn stops it, the socket's deadline is moved to now so that the
// rest of the dump is abandoned rather than read.
func dumpFunc(ns *nstest.NS) health.DumpFunc {
	return func(ctx context.Context, fn func(*model.Entry) bool) error {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD})
		if err != nil {
			return fmt.Errorf("dial ctnetlink: %w", err)
		}
		defer c.Close()
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(30 * time.Second)
		}
		if err := c.SetDeadline(deadline); err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
		defer stop()
		req := netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtGet)), Flags: netlink.Request | netlink.Dump},
			Data:   []byte{unix.AF_INET, 0, 0, 0},
		}
		if _, err := c.Send(req); err != nil {
			return fmt.Errorf("request dump: %w", err)
		}
		for m, err := range c.ReceiveIter() {
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("receive dump: %w", err)
			}
			var ev conntrack.Event
			if err := ev.Unmarshal(m); err != nil {
				return fmt.Errorf("decode dumped entry: %w", err)
			}
			e := flowEntry(ev.Flow)
			if !fn(&e) {
				c.SetReadDeadline(time.Unix(1, 0))
				return nil
			}
		}
		return nil
	}
}

// flowEntry converts the parts of a ti-mo flow that health looks at.
func flowEntry(f *conntrack.Flow) model.Entry {
	fam := model.FamilyIPv4
	if f.TupleOrig.IP.SourceAddress.Is6() {
		fam = model.FamilyIPv6
	}
	return model.Entry{
		Family: fam,
		Proto:  model.Proto(f.TupleOrig.Proto.Protocol),
		Status: model.Status(f.Status),
		Orig: model.Tuple{
			Src: f.TupleOrig.IP.SourceAddress, Dst: f.TupleOrig.IP.DestinationAddress,
			SrcPort: f.TupleOrig.Proto.SourcePort, DstPort: f.TupleOrig.Proto.DestinationPort,
		},
		Reply: model.Tuple{
			Src: f.TupleReply.IP.SourceAddress, Dst: f.TupleReply.IP.DestinationAddress,
			SrcPort: f.TupleReply.Proto.SourcePort, DstPort: f.TupleReply.Proto.DestinationPort,
		},
	}
}
