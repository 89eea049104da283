//go:build integration

package ctstat

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/nstest"
)

var update = flag.Bool("update", false, "capture testdata from the running kernel (as root)")

func writeHexDatagrams(path, comment string, datagrams [][]byte) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", comment)
	for _, d := range datagrams {
		b.WriteString(hex.EncodeToString(d))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// TestCaptureReplies records the kernel's replies to the two statistics
// requests in a namespace with known traffic, with conntrack-tools' view of
// the same counters, for the unit tests to decode:
//
//	go test -tags integration -run TestCaptureReplies -update ./pkg/ctstat
func TestCaptureReplies(t *testing.T) {
	if !*update {
		t.Skip("recaptures testdata only with -update")
	}
	nstest.RequireCommand(t, "conntrack", "ping")
	ns := nstest.New(t)
	ns.EnableTracking()

	ct := ns.Conntrack()
	for i := range 5 {
		f := conntrack.NewFlow(unix.IPPROTO_UDP, conntrack.StatusSeenReply|conntrack.StatusAssured|conntrack.StatusConfirmed,
			netip.MustParseAddr("10.9.0.1"), netip.AddrFrom4([4]byte{10, 9, 1, byte(i)}),
			40000, 53, 600, 0)
		if err := ct.Create(f); err != nil {
			t.Fatalf("create flow: %v", err)
		}
	}
	// An echo exchange: one insert, and lookups that find its entry.
	ns.Run("ping", "-c", "3", "-i", "0.01", "127.0.0.1")
	// An echo reply without a request cannot start a connection (invalid),
	// and an ICMP error about no known connection counts as an error.
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		if err := unix.Sendto(fd, icmpMessage(0, 0, []byte{0, 1, 0, 1}), 0, to); err != nil {
			return fmt.Errorf("send echo reply: %w", err)
		}
		// Port unreachable, quoting a UDP datagram 127.0.0.1:1111 ->
		// 127.0.0.1:2222 that was never sent.
		inner := []byte{
			0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
			0x04, 0x57, 0x08, 0xae, 0, 8, 0, 0,
		}
		binary.BigEndian.PutUint16(inner[10:], checksum(inner[:20]))
		if err := unix.Sendto(fd, icmpMessage(3, 3, append([]byte{0, 0, 0, 0}, inner...)), 0, to); err != nil {
			return fmt.Errorf("send port unreachable: %w", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	global, err := exchange(ctx, c, ctnl.IPCTNLMsgCtGetStats, ctnl.NLMFRequest|ctnl.NLMFAck)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := exchange(ctx, c, ctnl.IPCTNLMsgCtGetStatsCPU, ctnl.NLMFRequest|ctnl.NLMFDump)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing runs in the namespace any more: conntrack-tools sees the
	// same counters.
	stats := ns.Run("conntrack", "-S")
	count := ns.Run("conntrack", "-C")

	kernel := "captured from Linux " + unameRelease(t)
	must(t, writeHexDatagrams("testdata/get_stats.hex", "IPCTNL_MSG_CT_GET_STATS with NLM_F_ACK, "+kernel, global.datagrams))
	must(t, writeHexDatagrams("testdata/get_stats_cpu.hex", "IPCTNL_MSG_CT_GET_STATS_CPU dump, "+kernel, cpu.datagrams))
	must(t, os.WriteFile("testdata/conntrack-S.txt", []byte(stats), 0o644))
	must(t, os.WriteFile("testdata/conntrack-C.txt", []byte(count), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func unameRelease(t *testing.T) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

// icmpMessage returns an ICMP message of the given type and code, with its
// checksum.
func icmpMessage(typ, code byte, body []byte) []byte {
	m := append([]byte{typ, code, 0, 0}, body...)
	binary.BigEndian.PutUint16(m[2:], checksum(m))
	return m
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// exchange is exchangeBuf with a buffer of its own.
func exchange(ctx context.Context, c *netlink.Conn, msg ctnl.MsgType, flags ctnl.Flags) (*reply, error) {
	return exchangeBuf(ctx, c, msg, flags, make([]byte, maxDatagram))
}
