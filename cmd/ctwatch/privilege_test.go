package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestNeedPrivilege(t *testing.T) {
	denied := fmt.Errorf("subscribe to conntrack events: join conntrack groups: %w",
		os.NewSyscallError("setsockopt", syscall.EPERM))
	err := needPrivilege("watching conntrack events", denied)
	var pe *privilegeError
	if !errors.As(err, &pe) {
		t.Fatalf("needPrivilege(EPERM) = %v, want a *privilegeError", err)
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("%v: the errno is lost", err)
	}
	msg := err.Error()
	for _, want := range []string{"watching conntrack events needs CAP_NET_ADMIN (operation not permitted)", "setcap cap_net_admin+ep ", "AmbientCapabilities=CAP_NET_ADMIN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "setsockopt") || strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line naming the capability, not the socket call", msg)
	}
	other := fmt.Errorf("subscribe: %w", syscall.ENOBUFS)
	if got := needPrivilege("watching", other); got != other {
		t.Errorf("needPrivilege(ENOBUFS) = %v, want the error unchanged", got)
	}
}
