package doctor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// EffectiveCaps reads the calling process's effective capability set
// (capget(2)): the capabilities the kernel checks when ctwatch asks for
// conntrack's data or enters another namespace.
func EffectiveCaps() Caps {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return Caps{Err: fmt.Errorf("capget: %w", err)}
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(uint(c)%32)) != 0 }
	return Caps{NetAdmin: has(unix.CAP_NET_ADMIN), SysAdmin: has(unix.CAP_SYS_ADMIN)}
}
