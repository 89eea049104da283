//go:build integration

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// runFloor is "ctbench floor": the least a monitor can do, run inside the
// namespace as one of the monitors and as the calibration listener. It
// joins the three conntrack event groups, reads one message per recvfrom(2)
// as every monitor here does, counts them by type, and writes the counts as
// JSON to -out when it is stopped (SIGINT or SIGTERM). With -match-dport,
// as the filter part's calibration listener, it also counts the messages
// whose original destination port is that port (floorCounts.Matching).
//
// The reads are raw blocking system calls, made without telling the Go
// scheduler: through the runtime (a blocking syscall.Recvfrom, or the
// netpoller), each wake-up costs 2 to 4 µs more on the benchmark's machine
// (the scheduler's hand-offs and sysmon's polling), which is the runtime's
// cost, not the kernel's. The floor is the kernel's cost of delivering the
// events plus the least a reader can add.
func runFloor(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctbench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bufSize := fs.Int64("buffer", 8<<20, "receive buffer in bytes (SO_RCVBUFFORCE; the kernel doubles it)")
	out := fs.String("out", "", "file to write the counts to")
	matchPort := fs.Int("match-dport", 0, "also count the messages whose original destination port is this one (0: no such count)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *out == "" || *bufSize <= 0 || *bufSize > 1<<30 || *matchPort < 0 || *matchPort > 65535 {
		return fmt.Errorf("%w: floor needs -out, a -buffer up to 1 GiB and a -match-dport up to 65535", errUsage)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("open ctnetlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, int(*bufSize)); err != nil {
		return fmt.Errorf("set receive buffer: %w", err)
	}
	// An overrun then costs the messages that did not fit, counted by the
	// socket, rather than an error in the middle of the count.
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1); err != nil {
		return fmt.Errorf("set NETLINK_NO_ENOBUFS: %w", err)
	}
	// The read times out so that a stop request is seen while no event
	// comes.
	tv := unix.NsecToTimeval(int64(100e6))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set receive timeout: %w", err)
	}
	const groups = ctnl.NFNetlinkConntrackNew | ctnl.NFNetlinkConntrackUpdate | ctnl.NFNetlinkConntrackDestroy
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		return fmt.Errorf("join conntrack groups: %w", err)
	}

	var c floorCounts
	if *matchPort != 0 {
		c.Matching = &eventCounts{}
	}
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		switch errno {
		case 0:
			countEventMessages(&c.eventCounts, buf[:n])
			if c.Matching != nil {
				countMatchingMessages(c.Matching, buf[:n], uint16(*matchPort))
			}
		case unix.EAGAIN, unix.EINTR:
			// The receive timeout: with one CPU, the goroutine that
			// cancels ctx on a signal runs only if this one yields.
			runtime.Gosched()
		default:
			return fmt.Errorf("receive: %w", errno)
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode counts: %w", err)
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}
