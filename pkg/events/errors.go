package events

import (
	"errors"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// ErrTruncated is returned (wrapped) for a netlink message or attribute
// whose length does not fit the bytes received.
var ErrTruncated = ctnl.ErrTruncated

// ErrNotConntrack is returned (wrapped) by DecodeFast for a message that
// is not a ctnetlink conntrack entry message (IPCTNL_MSG_CT_NEW or
// IPCTNL_MSG_CT_DELETE).
var ErrNotConntrack = errors.New("not a ctnetlink conntrack message")

// ErrMalformed is returned (wrapped, with the decoder's own error) for a
// ctnetlink message whose attributes cannot be decoded.
var ErrMalformed = errors.New("malformed ctnetlink message")
