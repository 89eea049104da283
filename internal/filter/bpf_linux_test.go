package filter

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestBPFKernelAttaches attaches every test program to a real ctnetlink
// socket (no privilege needed to attach): the kernel's own checks accept
// what checkClassic accepts.
func TestBPFKernelAttaches(t *testing.T) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		t.Skipf("no netlink socket: %v", err)
	}
	defer unix.Close(fd)
	var ports []string
	for p := 1; p < 3800; p += 2 { // --port tests both ports: twice the jumps
		ports = append(ports, strconv.Itoa(p))
	}
	all := append(append([]Spec(nil), specs...), Spec{Port: strings.Join(ports, ",")})
	for _, s := range all {
		f, prog := compile(t, s)
		if err := attach(fd, prog); err != nil {
			t.Errorf("%s (%d instructions): %v", shorten(f.String()), len(prog), err)
		}
	}
}

func attach(fd int, prog []bpf.RawInstruction) error {
	p := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &p)
}
