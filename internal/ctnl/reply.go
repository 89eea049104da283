package ctnl

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrOverrun is returned (wrapped) for an NLMSG_OVERRUN in a reply: data
// the kernel could not deliver.
var ErrOverrun = errors.New("netlink overrun")

// Reply follows the reply to one request, datagram by datagram (Feed),
// and says where it ends: at NLMSG_DONE (the end of a dump), at an
// acknowledgement (an NLMSG_ERROR of code 0, which ends the reply to a
// request flagged NLM_F_ACK), or at an error from the kernel. The
// acknowledgement matters on Linux 6.18, where IPCTNL_MSG_CT_GET_STATS is
// answered with one message flagged NLM_F_MULTI and no NLMSG_DONE after
// it: a request that asks for an acknowledgement knows where such a reply
// ends.
//
// Feed is the part of Exchange that needs no socket, so that captured
// replies can be replayed through it.
type Reply struct {
	// Seq is the request's sequence number. Messages of other numbers (a
	// late answer to an earlier request on the same socket) are skipped.
	Seq uint32
	// Message is called with each of the reply's data messages (header
	// included; it aliases the datagram, which the next Feed may
	// overwrite). Returning false ends the reply; an error fails it.
	Message func(h Header, msg []byte) (more bool, err error)
	// Datagram, if not nil, is called with each datagram Feed takes,
	// before its messages.
	Datagram func(b []byte)
	// Done is set once the reply has ended; Feed then skips everything.
	Done bool
}

// Feed takes one datagram of the reply. Its error wraps ErrTruncated (a
// message or error code that does not fit), ErrOverrun, a Message error,
// or the kernel's syscall.Errno (from an NLMSG_ERROR, or the status of an
// NLMSG_DONE); a kernel error ends the reply.
func (r *Reply) Feed(datagram []byte) error {
	if r.Datagram != nil {
		r.Datagram(datagram)
	}
	for b := datagram; len(b) > 0 && !r.Done; {
		msg, rest, err := NextMessage(b)
		if err != nil {
			return err
		}
		b = rest
		h := ParseHeader(msg)
		if h.Seq != r.Seq {
			continue
		}
		switch h.Type {
		case NLMsgNoop:
		case NLMsgError, NLMsgDone:
			r.Done = true
			code, err := ErrorCode(Payload(msg))
			if err != nil {
				if h.Type == NLMsgDone {
					// NLMSG_DONE need not carry a status.
					return nil
				}
				return fmt.Errorf("netlink error message: %w", err)
			}
			if code < 0 {
				if h.Type == NLMsgDone {
					return fmt.Errorf("kernel ended the dump with: %w", syscall.Errno(-code))
				}
				return syscall.Errno(-code)
			}
		case NLMsgOverrun:
			return ErrOverrun
		default:
			more, err := r.Message(h, msg)
			if err != nil {
				return err
			}
			if !more {
				r.Done = true
			}
		}
	}
	return nil
}
