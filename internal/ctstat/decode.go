package ctstat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
)

// ctnetlink's message types and attributes (linux/netfilter/nfnetlink.h and
// nfnetlink_conntrack.h).
const (
	nfnlSubsysCtnetlink = 1

	ipctnlMsgCtGetStatsCPU = 4 // IPCTNL_MSG_CT_GET_STATS_CPU
	ipctnlMsgCtGetStats    = 5 // IPCTNL_MSG_CT_GET_STATS

	ctaStatsGlobalEntries    = 1 // CTA_STATS_GLOBAL_ENTRIES
	ctaStatsGlobalMaxEntries = 2 // CTA_STATS_GLOBAL_MAX_ENTRIES

	// nfgenmsgLen is the size of struct nfgenmsg, which starts every
	// nfnetlink message's payload: family, version, resource id.
	nfgenmsgLen = 4
	// nlmsghdrLen is the size of struct nlmsghdr.
	nlmsghdrLen = 16

	// Netlink's own message types (linux/netlink.h).
	nlmsgNoop    = 1
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmsgOverrun = 4
)

// none marks an attribute that maps to no counter.
const none = NumCounters

// cpuAttrCounter maps enum ctattr_stats_cpu to the counters. Attributes the
// kernel stopped filling (SEARCHED, NEW, DELETE, DELETE_LIST) map to none.
var cpuAttrCounter = [...]Counter{
	0:  none,          // CTA_STATS_UNSPEC
	1:  none,          // CTA_STATS_SEARCHED (obsolete)
	2:  Found,         // CTA_STATS_FOUND
	3:  none,          // CTA_STATS_NEW (obsolete)
	4:  Invalid,       // CTA_STATS_INVALID
	5:  Ignore,        // CTA_STATS_IGNORE (no longer filled)
	6:  none,          // CTA_STATS_DELETE (obsolete)
	7:  none,          // CTA_STATS_DELETE_LIST (obsolete)
	8:  Insert,        // CTA_STATS_INSERT
	9:  InsertFailed,  // CTA_STATS_INSERT_FAILED
	10: Drop,          // CTA_STATS_DROP
	11: EarlyDrop,     // CTA_STATS_EARLY_DROP
	12: Error,         // CTA_STATS_ERROR
	13: SearchRestart, // CTA_STATS_SEARCH_RESTART
	14: ClashResolve,  // CTA_STATS_CLASH_RESOLVE (Linux 5.10)
	15: ChainTooLong,  // CTA_STATS_CHAIN_TOOLONG (Linux 5.15)
}

// ErrMalformed is returned for a reply from the kernel that cannot be
// decoded.
var ErrMalformed = errors.New("malformed ctnetlink reply")

// decodeGlobal decodes the attributes of an IPCTNL_MSG_CT_GET_STATS reply
// (the payload after struct nfgenmsg).
func decodeGlobal(attrs []byte) (count, max uint32, err error) {
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ad.ByteOrder = binary.BigEndian
	var haveCount, haveMax bool
	for ad.Next() {
		switch ad.Type() {
		case ctaStatsGlobalEntries:
			count, haveCount = ad.Uint32(), true
		case ctaStatsGlobalMaxEntries:
			max, haveMax = ad.Uint32(), true
		}
	}
	if err := ad.Err(); err != nil {
		return 0, 0, fmt.Errorf("%w: global statistics: %v", ErrMalformed, err)
	}
	if !haveCount || !haveMax {
		return 0, 0, fmt.Errorf("%w: global statistics lack the entry count or limit", ErrMalformed)
	}
	return count, max, nil
}

// decodeCPU decodes the attributes of one IPCTNL_MSG_CT_GET_STATS_CPU reply
// (the payload after struct nfgenmsg). Attributes it does not know, from
// kernels newer than this code, are skipped.
func decodeCPU(attrs []byte) (CPUStats, error) {
	var s CPUStats
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		t := int(ad.Type())
		if t >= len(cpuAttrCounter) || cpuAttrCounter[t] == none {
			continue
		}
		s[cpuAttrCounter[t]] = uint64(ad.Uint32())
	}
	if err := ad.Err(); err != nil {
		return CPUStats{}, fmt.Errorf("%w: per-CPU statistics: %v", ErrMalformed, err)
	}
	return s, nil
}

// message is one netlink message of a datagram.
type message struct {
	typ, flags uint16
	seq        uint32
	payload    []byte
}

// splitMessages splits a datagram into its netlink messages. The header's
// fields are in host byte order.
func splitMessages(b []byte) ([]message, error) {
	var msgs []message
	for len(b) > 0 {
		if len(b) < nlmsghdrLen {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
		}
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < nlmsghdrLen || l > len(b) {
			return nil, fmt.Errorf("%w: message length %d of %d bytes", ErrMalformed, l, len(b))
		}
		msgs = append(msgs, message{
			typ:     binary.NativeEndian.Uint16(b[4:6]),
			flags:   binary.NativeEndian.Uint16(b[6:8]),
			seq:     binary.NativeEndian.Uint32(b[8:12]),
			payload: b[nlmsghdrLen:l],
		})
		// Messages are aligned to 4 bytes; the last may lack its padding.
		next := (l + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
	}
	return msgs, nil
}

// reply assembles the kernel's reply to one request from the datagrams
// received, ignoring messages that answer other requests (a late
// acknowledgement of an earlier one).
type reply struct {
	seq   uint32
	typ   uint16   // the type of the reply's data messages
	data  [][]byte // payloads of the data messages, nfgenmsg included
	done  bool
	errno syscall.Errno

	// datagrams are the datagrams received, as the kernel sent them.
	datagrams [][]byte
}

// add takes one datagram. The reply is done at NLMSG_DONE (the end of a
// dump), or at an acknowledgement: for IPCTNL_MSG_CT_GET_STATS the kernel
// sends one message flagged NLM_F_MULTI and never a NLMSG_DONE, so the
// request asks for an acknowledgement to know where the reply ends. An error
// from the kernel also ends it, and is returned.
func (r *reply) add(datagram []byte) error {
	msgs, err := splitMessages(datagram)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.seq != r.seq {
			continue
		}
		if r.done {
			// An acknowledgement after a NLMSG_DONE ends nothing more.
			continue
		}
		switch m.typ {
		case nlmsgNoop:
		case nlmsgError, nlmsgDone:
			r.done = true
			if len(m.payload) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.payload[:4])); code < 0 {
					r.errno = syscall.Errno(-code)
				}
			} else if m.typ == nlmsgError {
				return fmt.Errorf("%w: short error message", ErrMalformed)
			}
			if r.errno != 0 {
				return r.errno
			}
		case nlmsgOverrun:
			return fmt.Errorf("%w: overrun", ErrMalformed)
		case r.typ:
			r.data = append(r.data, m.payload)
		default:
			return fmt.Errorf("%w: unexpected message type %#x", ErrMalformed, m.typ)
		}
	}
	return nil
}

// decodeGlobalReply decodes the one data message of an
// IPCTNL_MSG_CT_GET_STATS reply.
func decodeGlobalReply(data [][]byte) (count, max uint32, err error) {
	if len(data) != 1 {
		return 0, 0, fmt.Errorf("%w: %d global statistics messages, want 1", ErrMalformed, len(data))
	}
	if len(data[0]) < nfgenmsgLen {
		return 0, 0, fmt.Errorf("%w: short global statistics message", ErrMalformed)
	}
	return decodeGlobal(data[0][nfgenmsgLen:])
}

// decodeCPUReply decodes the messages of an IPCTNL_MSG_CT_GET_STATS_CPU
// dump, one per possible CPU, whose number is the nfgenmsg resource id
// (big-endian).
func decodeCPUReply(data [][]byte) ([]CPU, CPUStats, error) {
	if len(data) == 0 {
		return nil, CPUStats{}, fmt.Errorf("%w: no per-CPU statistics", ErrMalformed)
	}
	cpus := make([]CPU, 0, len(data))
	var sum CPUStats
	for _, d := range data {
		if len(d) < nfgenmsgLen {
			return nil, CPUStats{}, fmt.Errorf("%w: short per-CPU statistics message", ErrMalformed)
		}
		s, err := decodeCPU(d[nfgenmsgLen:])
		if err != nil {
			return nil, CPUStats{}, err
		}
		cpus = append(cpus, CPU{ID: binary.BigEndian.Uint16(d[2:4]), Stats: s})
		sum = sum.Add(s)
	}
	return cpus, sum, nil
}
