package events

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// DefaultBatchSize is the largest number of messages in a Batch when
// Config.BatchSize is 0.
const DefaultBatchSize = 256

// recvBufferSize is the userspace buffer each recvmsg of a dump reads into:
// dump replies are at most 32 KiB per datagram however large the buffer.
const recvBufferSize = 64 << 10

// recvSlots is the largest number of datagrams the reader asks one
// recvmmsg for (fewer when Config.BatchSize is smaller). Its buffer takes
// recvSlots*recvSlotSize bytes.
const recvSlots = 64

// Config configures a Subscriber.
type Config struct {
	// NetNS is the descriptor of the network namespace to watch
	// (netns.Handle.FD()); 0 is the caller's own namespace.
	NetNS int
	// Types are the event types to subscribe to; 0 means the three of
	// connections (AllTypes). Expectation events (ExpectTypes) come only
	// when asked for, in Batch.Expects.
	Types Types
	// BufferSize is the socket's receive buffer in bytes; 0 keeps the
	// kernel's default (net.core.rmem_default). The kernel doubles the
	// value for its bookkeeping, and an event takes about 1280 bytes of
	// it. With CAP_NET_ADMIN the size is forced past net.core.rmem_max
	// (SO_RCVBUFFORCE); without, it is capped there.
	BufferSize int
	// BatchSize is the largest number of messages in a Batch; 0 means
	// DefaultBatchSize.
	BatchSize int
	// ReceiveTimeout is the longest Receive waits for a first datagram;
	// 0 means DefaultReceiveTimeout.
	ReceiveTimeout time.Duration
	// Clock gives the receive time of events the kernel did not
	// timestamp; nil means time.Now.
	Clock func() time.Time
	// Labels names the connlabel bits of the events (internal/connlabel
	// reads /etc/xtables/connlabel.conf into one): Entry.Labels holds a
	// bit's name, or its number in decimal where the table has none. Nil
	// writes every bit by number. The table is read, never changed.
	Labels *model.LabelNames
	// AllNetNS makes the socket listen to every network namespace
	// (NETLINK_LISTEN_ALL_NSID), not only its own (NetNS's): it also
	// receives the events of each namespace that has a namespace id in
	// the socket's namespace and over which the socket's creator has
	// CAP_NET_BROADCAST, and each event's NetNS says which namespace it
	// came from (see the package documentation). Without it, every
	// event's NetNS is the zero, local one, and the reader asks for no
	// control messages.
	AllNetNS bool
	// Filter is a classic BPF program attached to the socket
	// (SO_ATTACH_FILTER) before it joins the groups: the kernel drops
	// every message it refuses before it is queued, so a refused event is
	// neither received nor counted anywhere (not as a drop either: the
	// kernel has no counter for it). internal/filter's Filter.BPF writes
	// one for the watch's filter flags. Nil attaches nothing. It applies
	// to the events of every namespace with AllNetNS; dumps (Dump) use
	// sockets of their own and are not filtered.
	Filter []bpf.RawInstruction
}

// Subscriber owns a netlink socket subscribed to conntrack events. One
// goroutine reads it, with Receive; Stats, BufferSize and Close are safe to
// call from any goroutine.
type Subscriber struct {
	conn      *netlink.Conn
	raw       syscall.RawConn
	bufSize   int
	batchSize int
	clock     func() time.Time

	closed atomic.Bool
	// closeMu makes Close wait for an in-flight drop counter read, so that
	// the final reading it stores is the last.
	closeMu sync.Mutex

	received     atomic.Uint64
	expects      atomic.Uint64
	decodeErrors atomic.Uint64
	enobufs      atomic.Uint64
	kernelDrops  atomic.Uint64 // last SK_MEMINFO_DROPS read

	// nextSeq is the sequence number of the next event; only the reading
	// goroutine uses it.
	nextSeq uint64

	// mmsg is the reader's recvmmsg vector and buffer; only the reading
	// goroutine uses it.
	mmsg *mmsgBuffer
	// labels is Config.Labels.
	labels *model.LabelNames
	// allNetNS is Config.AllNetNS: mmsg has control slots, and each
	// datagram's namespace is read from them.
	allNetNS bool
	// recvTimeout is Config.ReceiveTimeout. fd is the detached socket's
	// descriptor once Receive took it out of the netpoller (-1 before, and
	// after Close); fdMu is held to use it, and taken exclusively to
	// change it. waiter is where Receive waits for it, once detached;
	// woken is set by Wake until a wait sees it.
	recvTimeout time.Duration
	detached    bool // owned by the reading goroutine
	fd          int
	waiter      atomic.Pointer[waiter]
	woken       atomic.Bool
	fdMu        sync.RWMutex
}

// Subscribe opens a NETLINK_NETFILTER socket in cfg.NetNS, sizes its
// receive buffer, sets NETLINK_NO_ENOBUFS (so that an overrun costs the
// events that did not fit, counted by the socket, rather than an error that
// the reader has to recover from), with cfg.AllNetNS sets
// NETLINK_LISTEN_ALL_NSID, attaches cfg.Filter, and joins the conntrack
// event groups of cfg.Types (and the expectation groups of its
// expectation types). Events are queued by the kernel from then on; call
// Receive to read them.
func Subscribe(cfg Config) (*Subscriber, error) {
	if cfg.Types&^(AllTypes|ExpectTypes) != 0 {
		return nil, fmt.Errorf("subscribe to types %#x: %w", uint8(cfg.Types), ErrInvalidTypes)
	}
	types := cfg.Types
	if types == 0 {
		types = AllTypes
	}
	s := &Subscriber{batchSize: cfg.BatchSize, clock: cfg.Clock, recvTimeout: cfg.ReceiveTimeout, labels: cfg.Labels, allNetNS: cfg.AllNetNS, fd: -1}
	if s.batchSize <= 0 {
		s.batchSize = DefaultBatchSize
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	ctrlSize := 0
	if s.allNetNS {
		ctrlSize = recvControlSize
	}
	s.mmsg = newMmsgBuffer(min(s.batchSize, recvSlots), recvSlotSize, ctrlSize)

	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: cfg.NetNS})
	if err != nil {
		return nil, fmt.Errorf("dial ctnetlink: %w", err)
	}
	s.conn = conn
	fail := func(err error) (*Subscriber, error) {
		conn.Close()
		return nil, err
	}
	if s.raw, err = conn.SyscallConn(); err != nil {
		return fail(fmt.Errorf("dial ctnetlink: %w", err))
	}
	if cfg.BufferSize > 0 {
		if err := setReceiveBuffer(s.raw, cfg.BufferSize); err != nil {
			return fail(fmt.Errorf("set receive buffer to %d bytes: %w", cfg.BufferSize, err))
		}
	}
	if s.bufSize, err = getsockoptInt(s.raw, unix.SOL_SOCKET, unix.SO_RCVBUF); err != nil {
		return fail(fmt.Errorf("read receive buffer size: %w", err))
	}
	if err := conn.SetOption(netlink.NoENOBUFS, true); err != nil {
		return fail(fmt.Errorf("set NETLINK_NO_ENOBUFS: %w", err))
	}
	if cfg.AllNetNS {
		// Before the groups are joined: no event is queued without
		// the control message that says its namespace.
		if err := conn.SetOption(netlink.ListenAllNSID, true); err != nil {
			return fail(fmt.Errorf("set NETLINK_LISTEN_ALL_NSID: %w", err))
		}
	}
	if cfg.Filter != nil {
		// Before the groups are joined: no event is queued unfiltered.
		if err := conn.SetBPF(cfg.Filter); err != nil {
			return fail(fmt.Errorf("attach the kernel filter (%d instructions): %w", len(cfg.Filter), err))
		}
	}
	// Joined last, so that no event is queued before the socket is ready.
	groups := []struct {
		t     Types
		group uint32
	}{
		{TypeNew, unix.NFNLGRP_CONNTRACK_NEW},
		{TypeUpdate, unix.NFNLGRP_CONNTRACK_UPDATE},
		{TypeDestroy, unix.NFNLGRP_CONNTRACK_DESTROY},
		{TypeExpectNew, unix.NFNLGRP_CONNTRACK_EXP_NEW},
		{TypeExpectDestroy, unix.NFNLGRP_CONNTRACK_EXP_DESTROY},
	}
	for _, g := range groups {
		if types&g.t == 0 {
			continue
		}
		if err := conn.JoinGroup(g.group); err != nil {
			return fail(fmt.Errorf("join conntrack groups: %w", err))
		}
	}
	return s, nil
}

// setReceiveBuffer sets SO_RCVBUFFORCE, which may exceed net.core.rmem_max,
// and falls back to SO_RCVBUF (capped there) without CAP_NET_ADMIN.
func setReceiveBuffer(raw syscall.RawConn, size int) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		if errors.Is(serr, unix.EPERM) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", serr)
}

func getsockoptInt(raw syscall.RawConn, level, opt int) (int, error) {
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		return 0, err
	}
	return v, os.NewSyscallError("getsockopt", serr)
}

// socketDrops reads the socket's SK_MEMINFO_DROPS.
func socketDrops(raw syscall.RawConn) (uint64, error) {
	var mem [unix.SK_MEMINFO_VARS]uint32
	var serr error
	err := raw.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mem))
		// Raw, like the reads (mmsgBuffer.recv): it never blocks, and
		// the loop's loss checks would otherwise wake sysmon.
		_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
		if errno != 0 {
			serr = errno
		}
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("getsockopt SO_MEMINFO", serr)
	}
	return uint64(mem[unix.SK_MEMINFO_DROPS]), nil
}

// ReadSize is the most messages one Receive reads: the batch size, or the
// recvmmsg vector when smaller. A read that returns fewer found the socket
// empty.
func (s *Subscriber) ReadSize() int { return min(s.batchSize, len(s.mmsg.hdrs)) }

// BufferSize returns the receive buffer size the kernel granted, as it
// reports it (twice the size asked for, which includes its bookkeeping).
func (s *Subscriber) BufferSize() int { return s.bufSize }

// Stats returns the subscriber's counters. KernelDrops is read from the
// socket (one getsockopt) while it is open, and is the last reading once it
// is closed.
func (s *Subscriber) Stats() Stats {
	s.refreshDrops()
	return Stats{
		Received:     s.received.Load(),
		Expects:      s.expects.Load(),
		DecodeErrors: s.decodeErrors.Load(),
		KernelDrops:  s.kernelDrops.Load(),
		ENOBUFS:      s.enobufs.Load(),
	}
}

func (s *Subscriber) refreshDrops() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return
	}
	if d, err := socketDrops(s.raw); err == nil {
		s.kernelDrops.Store(d)
	}
}

// Close closes the socket, after a last reading of its drop counter. A
// Receive in progress returns at once, with what it read. Closing twice is
// harmless.
func (s *Subscriber) Close() error {
	s.refreshDrops()
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if w := s.waiter.Load(); w != nil {
		// A wait in progress ends; the reader holds fdMu only to read,
		// which never blocks.
		if err := w.close(); err != nil {
			return fmt.Errorf("close ctnetlink socket's epoll instance: %w", err)
		}
	}
	if s.fd >= 0 {
		s.fdMu.Lock()
		defer s.fdMu.Unlock()
		err := unix.Close(s.fd)
		s.fd = -1
		if err != nil {
			return fmt.Errorf("close ctnetlink socket: %w", err)
		}
		return nil
	}
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("close ctnetlink socket: %w", err)
	}
	return nil
}

// handleDatagram decodes the messages of one datagram into b, labels by
// the names of names, stamping
// those the kernel did not timestamp with now, and returns how many
// messages it counts as received (a datagram cut short counts once more,
// as a failure of its own).
//
// It allocates nothing per message: DecodeFast reads straight from d into
// the batch's reused slots, and no closure or netlink.Message is built on
// the way.
func handleDatagram(d []byte, truncated bool, now time.Time, b *Batch, names *model.LabelNames) int {
	received := 0
	var err error
	for rest := d; len(rest) > 0; {
		var msg []byte
		if msg, rest, err = ctnl.NextMessage(rest); err != nil {
			break
		}
		received++
		if isExpectMessage(msg) {
			b.addExpect(msg, now)
			continue
		}
		n := len(b.Events)
		if n < cap(b.Events) {
			// Reuse the slot, and with it its Labels' backing array.
			b.Events = b.Events[:n+1]
		} else {
			b.Events = append(b.Events, model.Event{})
		}
		ev := &b.Events[n]
		if derr := decodeFast(msg, ev, names); derr != nil {
			b.Events = b.Events[:n]
			b.fail(derr, msg)
			continue
		}
		if ev.Time.IsZero() {
			ev.Time = now
		}
	}
	if err == nil && truncated {
		err = fmt.Errorf("datagram larger than %d bytes: %w", len(d), ErrTruncated)
	}
	if err != nil {
		received++
		b.fail(err, d)
	}
	return received
}

// addExpect decodes the expectation message msg into b's next Expects
// slot, stamped with now, or adds it to b's failures.
func (b *Batch) addExpect(msg []byte, now time.Time) {
	n := len(b.Expects)
	if n < cap(b.Expects) {
		b.Expects = b.Expects[:n+1]
	} else {
		b.Expects = append(b.Expects, ExpectEvent{})
	}
	x := &b.Expects[n]
	if err := DecodeExpect(msg, &x.ExpectEvent); err != nil {
		b.Expects = b.Expects[:n]
		b.fail(err, msg)
		return
	}
	x.At = len(b.Events)
	x.Time = now
}

// fail adds a failure with a copy of the bytes that could not be decoded.
func (b *Batch) fail(err error, raw []byte) {
	b.Failures = append(b.Failures, DecodeFailure{Err: err, Raw: append([]byte(nil), raw...)})
}
