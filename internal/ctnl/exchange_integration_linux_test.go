//go:build integration

package ctnl_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/internal/nstest"
)

// request is a ctnetlink request of message m with no attributes.
func request(m ctnl.MsgType, f ctnl.Flags) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, m)), Flags: netlink.HeaderFlags(f)},
		Data:   []byte{unix.AF_UNSPEC, ctnl.NFNetlinkV0, 0, 0},
	}
}

func dial(t *testing.T) *netlink.Conn {
	t.Helper()
	nstest.RequireRoot(t)
	ns := nstest.New(t)
	ns.EnableTracking()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.FD})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestExchangeEnds checks the three ways a reply ends on this kernel: the
// acknowledgement after IPCTNL_MSG_CT_GET_STATS's one NLM_F_MULTI message,
// the NLMSG_DONE of a dump, and the NLMSG_DONE of an empty table's dump.
func TestExchangeEnds(t *testing.T) {
	c := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name    string
		req     netlink.Message
		typ     ctnl.MsgType
		minData int
		maxData int
	}{
		{"global statistics", request(ctnl.IPCTNLMsgCtGetStats, ctnl.NLMFRequest|ctnl.NLMFAck), ctnl.IPCTNLMsgCtGetStats, 1, 1},
		{"per-CPU statistics", request(ctnl.IPCTNLMsgCtGetStatsCPU, ctnl.NLMFRequest|ctnl.NLMFDump), ctnl.IPCTNLMsgCtGetStatsCPU, 1, 4096},
		{"empty table", request(ctnl.IPCTNLMsgCtGet, ctnl.NLMFRequest|ctnl.NLMFDump), ctnl.IPCTNLMsgCtNew, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			r := ctnl.Reply{Message: func(h ctnl.Header, msg []byte) (bool, error) {
				if h.Type != ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, tt.typ) {
					t.Errorf("message type %#x", uint16(h.Type))
				}
				n++
				return true, nil
			}}
			if err := ctnl.Exchange(ctx, c, tt.req, &r, ctnl.Options{}); err != nil {
				t.Fatal(err)
			}
			if !r.Done || n < tt.minData || n > tt.maxData {
				t.Errorf("done %v after %d data messages, want done after %d to %d", r.Done, n, tt.minData, tt.maxData)
			}
		})
	}
}

// TestExchangeBounded sends IPCTNL_MSG_CT_GET_STATS without NLM_F_ACK,
// whose reply Linux 6.18 never ends, and checks that each bound stops the
// wait: ctx's deadline, the idle timeout, and ctx's cancellation.
func TestExchangeBounded(t *testing.T) {
	c := dial(t)
	req := request(ctnl.IPCTNLMsgCtGetStats, ctnl.NLMFRequest)
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r := ctnl.Reply{Message: func(ctnl.Header, []byte) (bool, error) { return true, nil }}
		if err := ctnl.Exchange(ctx, c, req, &r, ctnl.Options{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		r := ctnl.Reply{Message: func(ctnl.Header, []byte) (bool, error) { return true, nil }}
		err := ctnl.Exchange(context.Background(), c, req, &r, ctnl.Options{IdleTimeout: 200 * time.Millisecond})
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("error = %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancelled once the one data message has come: the read after it
		// would wait for ever.
		r := ctnl.Reply{Message: func(ctnl.Header, []byte) (bool, error) {
			cancel()
			return true, nil
		}}
		if err := ctnl.Exchange(ctx, c, req, &r, ctnl.Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}
