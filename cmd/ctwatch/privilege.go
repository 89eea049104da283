package main

import (
	"errors"
	"fmt"
	"os"
)

// privilegeError is a failure for want of CAP_NET_ADMIN, which the kernel
// demands for conntrack's events, dumps and statistics: it is said in one
// line that names the capability and how to grant it, instead of the
// socket call that failed.
type privilegeError struct {
	what string // what ctwatch could not do
	err  error
}

func (e *privilegeError) Error() string {
	bin, err := os.Executable()
	if err != nil {
		bin = "ctwatch"
	}
	return fmt.Sprintf("%s needs CAP_NET_ADMIN (%v): run as root, or grant the capability: "+
		"setcap cap_net_admin+ep %s, or AmbientCapabilities=CAP_NET_ADMIN in a systemd unit (see ctwatch doctor)",
		e.what, e.err, bin)
}

func (e *privilegeError) Unwrap() error { return e.err }

// needPrivilege returns err as a privilegeError when the kernel refused
// for want of privilege (EPERM, EACCES), and err itself otherwise.
func needPrivilege(what string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return &privilegeError{what: what, err: rootCause(err)}
	}
	return err
}

// rootCause is the innermost error of a chain of single wraps: the errno a
// socket call returned, not the call's description.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
