//go:build integration

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parsers of the /proc files the harness reads. They are pure (bytes in,
// values out) so that they are unit-tested and fuzzed without a kernel.

// errFormat is wrapped by every parser error: the file did not have the
// layout the kernel documents.
var errFormat = errors.New("unexpected format")

// procStat is what the harness takes from /proc/PID/stat: the CPU time of
// the whole thread group, exited threads included, in clock ticks.
type procStat struct {
	UserTicks uint64
	SysTicks  uint64
}

// parseStat parses /proc/PID/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from its last ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name: %w", errFormat)
	}
	f := strings.Fields(string(data[i+1:]))
	// After the name: state (field 3) ... utime (14), stime (15).
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return procStat{}, fmt.Errorf("stat: %d fields after the name: %w", len(f), errFormat)
	}
	u, err := strconv.ParseUint(f[utime], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat: utime: %w", errors.Join(errFormat, err))
	}
	s, err := strconv.ParseUint(f[stime], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat: stime: %w", errors.Join(errFormat, err))
	}
	return procStat{UserTicks: u, SysTicks: s}, nil
}

// parseVmHWM returns the peak resident set size in bytes from
// /proc/PID/status ("VmHWM:     1234 kB").
func parseVmHWM(data []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmHWM %q: %w", rest, errFormat)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || kb > 1<<53 {
			return 0, fmt.Errorf("status: VmHWM %q: %w", rest, errFormat)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("status: no VmHWM line: %w", errFormat)
}

// procIO is what the harness takes from /proc/PID/io: read(2)- and
// write(2)-family calls (not recvmsg and sendmsg) and the bytes written.
// The kernel sums them over the thread group, exited threads included.
type procIO struct {
	SyscR uint64
	SyscW uint64
	WChar uint64
}

// parseIO parses /proc/PID/io.
func parseIO(data []byte) (procIO, error) {
	var io procIO
	var haveR, haveW, haveC bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch key {
		case "syscr":
			dst, haveR = &io.SyscR, true
		case "syscw":
			dst, haveW = &io.SyscW, true
		case "wchar":
			dst, haveC = &io.WChar, true
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return procIO{}, fmt.Errorf("io: %s: %w", key, errors.Join(errFormat, err))
		}
		*dst = n
	}
	if !haveR || !haveW || !haveC {
		return procIO{}, fmt.Errorf("io: no syscr, syscw or wchar line: %w", errFormat)
	}
	return io, nil
}

// netlinkSocket is a row of /proc/net/netlink: the kernel's own view of a
// netlink socket, with its receive queue and drop counter.
type netlinkSocket struct {
	Protocol int
	PortID   uint32
	// Groups is the bitmask of the first 32 multicast groups joined: bit
	// g-1 for group g (1 conntrack NEW, 2 UPDATE, 3 DESTROY).
	Groups uint32
	// Rmem is the bytes waiting in the receive queue.
	Rmem uint64
	// Drops counts messages the kernel could not queue (SK_MEMINFO_DROPS).
	Drops uint64
	Inode uint64
}

// parseNetlinkTable parses /proc/net/netlink:
//
//	sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
//	0000000012345678 12  4321       00000007 0        0        0     2        0        98765
func parseNetlinkTable(data []byte) ([]netlinkSocket, error) {
	var socks []netlinkSocket
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (i == 0 && f[0] == "sk") {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("netlink line %d %q: %w", i+1, line, errFormat)
		}
		var s netlinkSocket
		var errs []error
		num := func(str string, base, bits int) uint64 {
			v, err := strconv.ParseUint(str, base, bits)
			errs = append(errs, err)
			return v
		}
		s.Protocol = int(num(f[1], 10, 31))
		s.PortID = uint32(num(f[2], 10, 32))
		s.Groups = uint32(num(f[3], 16, 32))
		s.Rmem = num(f[4], 10, 64)
		s.Drops = num(f[8], 10, 64)
		s.Inode = num(f[9], 10, 64)
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("netlink line %d %q: %w", i+1, line, errors.Join(errFormat, err))
		}
		socks = append(socks, s)
	}
	return socks, nil
}

// socketInode returns the inode of a /proc/PID/fd link to a socket
// ("socket:[98765]"); ok is false for any other link.
func socketInode(link string) (inode uint64, ok bool) {
	rest, found := strings.CutPrefix(link, "socket:[")
	if !found {
		return 0, false
	}
	num, found := strings.CutSuffix(rest, "]")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// processCPUClock is the clock ID of another process's CPU-time clock
// (MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) in the kernel): the sum of
// its threads' scheduler run time, live and exited, user and system, in
// nanoseconds. /proc/PID/stat has the same sum but only in clock ticks
// (10 ms), too coarse for a run of a few hundred milliseconds of CPU.
func processCPUClock(pid int) int32 {
	const cpuclockSched = 2
	return int32(^uint32(pid)<<3 | cpuclockSched)
}

// cpuTimes is one CPU's (or all CPUs') time from /proc/stat, in clock
// ticks.
type cpuTimes struct {
	// Busy is user, nice, system, irq, softirq and steal time: the CPU
	// was not available to anyone else (steal is the hypervisor's).
	Busy uint64
	// Total is Busy plus idle and iowait.
	Total uint64
}

// sub returns t − o.
func (t cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{Busy: t.Busy - o.Busy, Total: t.Total - o.Total}
}

// parseCPUStat parses the cpu lines of /proc/stat: all is the "cpu" line,
// perCPU the "cpuN" lines by N.
func parseCPUStat(data []byte) (all cpuTimes, perCPU map[int]cpuTimes, err error) {
	perCPU = make(map[int]cpuTimes)
	haveAll := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		// user nice system idle iowait irq softirq steal: the kernel has
		// printed at least these since 2.6.11.
		if len(f) < 9 {
			return cpuTimes{}, nil, fmt.Errorf("stat line %q: %w", line, errFormat)
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return cpuTimes{}, nil, fmt.Errorf("stat line %q: %w", line, errors.Join(errFormat, err))
			}
			v[i] = n
		}
		busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		t := cpuTimes{Busy: busy, Total: busy + v[3] + v[4]}
		if f[0] == "cpu" {
			all, haveAll = t, true
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil || n < 0 {
			return cpuTimes{}, nil, fmt.Errorf("stat line %q: %w", line, errFormat)
		}
		perCPU[n] = t
	}
	if !haveAll {
		return cpuTimes{}, nil, fmt.Errorf("stat: no cpu line: %w", errFormat)
	}
	return all, perCPU, nil
}

// userHZ is the unit of /proc/stat's times: USER_HZ, 100 on every Linux
// architecture Go supports.
const userHZ = 100

// otherShare is the share of the CPUs' time d that was busy but not with
// ours nanoseconds of the benchmark's own processes.
func otherShare(d cpuTimes, ours int64) float64 {
	if d.Total == 0 {
		return 0
	}
	busy := float64(d.Busy) * 1e9 / userHZ
	return max(0, busy-float64(ours)) / (float64(d.Total) * 1e9 / userHZ)
}
