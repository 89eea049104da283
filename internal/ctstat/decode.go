package ctstat

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// none marks an attribute that maps to no counter.
const none = NumCounters

// cpuAttrCounter maps enum ctattr_stats_cpu to the counters. Attributes the
// kernel stopped filling (SEARCHED, NEW, DELETE, DELETE_LIST) map to none.
var cpuAttrCounter = [...]Counter{
	0:                          none,
	ctnl.CTAStatsSearched:      none,
	ctnl.CTAStatsFound:         Found,
	ctnl.CTAStatsNew:           none,
	ctnl.CTAStatsInvalid:       Invalid,
	ctnl.CTAStatsIgnore:        Ignore,
	ctnl.CTAStatsDelete:        none,
	ctnl.CTAStatsDeleteList:    none,
	ctnl.CTAStatsInsert:        Insert,
	ctnl.CTAStatsInsertFailed:  InsertFailed,
	ctnl.CTAStatsDrop:          Drop,
	ctnl.CTAStatsEarlyDrop:     EarlyDrop,
	ctnl.CTAStatsError:         Error,
	ctnl.CTAStatsSearchRestart: SearchRestart,
	ctnl.CTAStatsClashResolve:  ClashResolve,
	ctnl.CTAStatsChainTooLong:  ChainTooLong,
}

// ErrMalformed is returned for a reply from the kernel that cannot be
// decoded.
var ErrMalformed = errors.New("malformed ctnetlink reply")

// u32Attrs calls fn with the type (flags stripped) and value of each
// attribute of attrs that known accepts, which must be a big-endian u32, as
// the statistics are. The others, of types newer than this code, are
// skipped whatever their size.
func u32Attrs(attrs []byte, known func(ctnl.AttrType) bool, fn func(typ ctnl.AttrType, v uint32)) error {
	for b := attrs; len(b) > 0; {
		typ, v, rest, ok := ctnl.NextAttr(b)
		if !ok {
			return fmt.Errorf("%w: %w", ErrMalformed, ctnl.AttrError(b))
		}
		b = rest
		if !known(typ.Type()) {
			continue
		}
		if len(v) != 4 {
			return fmt.Errorf("%w: attribute %d of %d bytes, want 4", ErrMalformed, typ.Type(), len(v))
		}
		fn(typ.Type(), binary.BigEndian.Uint32(v))
	}
	return nil
}

// decodeGlobal decodes the attributes of an IPCTNL_MSG_CT_GET_STATS reply
// (the payload after struct nfgenmsg).
func decodeGlobal(attrs []byte) (count, max uint32, err error) {
	var haveCount, haveMax bool
	known := func(typ ctnl.AttrType) bool {
		return typ == ctnl.CTAStatsGlobalEntries || typ == ctnl.CTAStatsGlobalMaxEntries
	}
	err = u32Attrs(attrs, known, func(typ ctnl.AttrType, v uint32) {
		switch typ {
		case ctnl.CTAStatsGlobalEntries:
			count, haveCount = v, true
		case ctnl.CTAStatsGlobalMaxEntries:
			max, haveMax = v, true
		}
	})
	if err != nil {
		return 0, 0, fmt.Errorf("global statistics: %w", err)
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
	known := func(typ ctnl.AttrType) bool {
		return int(typ) < len(cpuAttrCounter) && cpuAttrCounter[typ] != none
	}
	err := u32Attrs(attrs, known, func(typ ctnl.AttrType, v uint32) {
		s[cpuAttrCounter[typ]] = uint64(v)
	})
	if err != nil {
		return CPUStats{}, fmt.Errorf("per-CPU statistics: %w", err)
	}
	return s, nil
}

// reply assembles the kernel's reply to one request: ctnl.Reply says where
// it ends (for IPCTNL_MSG_CT_GET_STATS, which Linux 6.18 answers with one
// NLM_F_MULTI message and no NLMSG_DONE, at the acknowledgement the request
// asks for), and reply keeps copies of its data messages' payloads and of
// the datagrams, for the capture tests.
type reply struct {
	ctnl.Reply
	typ  ctnl.HeaderType // the type of the reply's data messages
	data [][]byte        // payloads of the data messages, nfgenmsg included

	// datagrams are the datagrams received, as the kernel sent them.
	datagrams [][]byte
}

// newReply returns the reply to a request answered by messages of type
// typ.
func newReply(typ ctnl.HeaderType) *reply {
	r := &reply{typ: typ}
	r.Message = r.message
	r.Datagram = func(b []byte) { r.datagrams = append(r.datagrams, append([]byte(nil), b...)) }
	return r
}

func (r *reply) message(h ctnl.Header, msg []byte) (bool, error) {
	if h.Type != r.typ {
		return false, fmt.Errorf("%w: unexpected message type %#x", ErrMalformed, uint16(h.Type))
	}
	r.data = append(r.data, append([]byte(nil), ctnl.Payload(msg)...))
	return true, nil
}

// add takes one datagram. The reply is done at its end; an error from the
// kernel also ends it, and is returned (a syscall.Errno); anything else
// that does not parse is ErrMalformed.
func (r *reply) add(datagram []byte) error {
	return malformed(r.Feed(datagram))
}

// malformed wraps the wire layer's errors of a reply that does not parse
// in ErrMalformed.
func malformed(err error) error {
	if errors.Is(err, ctnl.ErrTruncated) || errors.Is(err, ctnl.ErrOverrun) {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return err
}

// decodeGlobalReply decodes the one data message of an
// IPCTNL_MSG_CT_GET_STATS reply.
func decodeGlobalReply(data [][]byte) (count, max uint32, err error) {
	if len(data) != 1 {
		return 0, 0, fmt.Errorf("%w: %d global statistics messages, want 1", ErrMalformed, len(data))
	}
	if len(data[0]) < ctnl.NFGenMsgLen {
		return 0, 0, fmt.Errorf("%w: short global statistics message", ErrMalformed)
	}
	return decodeGlobal(data[0][ctnl.NFGenMsgLen:])
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
		if len(d) < ctnl.NFGenMsgLen {
			return nil, CPUStats{}, fmt.Errorf("%w: short per-CPU statistics message", ErrMalformed)
		}
		s, err := decodeCPU(d[ctnl.NFGenMsgLen:])
		if err != nil {
			return nil, CPUStats{}, err
		}
		cpus = append(cpus, CPU{ID: binary.BigEndian.Uint16(d[2:4]), Stats: s})
		sum = sum.Add(s)
	}
	return cpus, sum, nil
}
