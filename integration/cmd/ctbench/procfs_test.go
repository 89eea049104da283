//go:build integration

package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A /proc/PID/stat line of a process whose name holds a space and a ')'.
const statLine = "4242 (ctw atch) x) S 1 4242 4242 0 -1 4194560 1337 0 0 0 250 75 0 0 20 0 9 0 123456 1234567 890 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{name: "name with space and parenthesis", in: statLine, want: procStat{UserTicks: 250, SysTicks: 75}},
		{name: "plain", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 7 3 0 0", want: procStat{UserTicks: 7, SysTicks: 3}},
		{name: "no name", in: "1 init S 0 1 1 0 -1 0 0 0 0 0 7 3", wantErr: true},
		{name: "truncated", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 7", wantErr: true},
		{name: "not a number", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 x 3", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, errFormat) {
					t.Fatalf("parseStat(%q) error = %v, want errFormat", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStat (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "status", in: "Name:\tctwatch\nVmPeak:\t 1250000 kB\nVmHWM:\t   16384 kB\nVmRSS:\t   12000 kB\n", want: 16 << 20},
		{name: "missing", in: "Name:\tkthreadd\nState:\tS (sleeping)\n", wantErr: true},
		{name: "no unit", in: "VmHWM:\t16384\n", wantErr: true},
		{name: "not a number", in: "VmHWM:\tlots kB\n", wantErr: true},
		{name: "overflow", in: "VmHWM:\t99999999999999999999 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, errFormat) {
					t.Fatalf("error = %v, want errFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseVmHWM (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIO(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procIO
		wantErr bool
	}{
		{
			name: "io",
			in:   "rchar: 1000\nwchar: 123456\nsyscr: 10\nsyscw: 789\nread_bytes: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n",
			want: procIO{SyscR: 10, SyscW: 789, WChar: 123456},
		},
		{name: "missing syscw", in: "rchar: 1\nwchar: 2\nsyscr: 3\n", wantErr: true},
		{name: "missing syscr", in: "wchar: 2\nsyscw: 3\n", wantErr: true},
		{name: "not a number", in: "wchar: 2\nsyscr: 1\nsyscw: x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIO([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, errFormat) {
					t.Fatalf("error = %v, want errFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseIO (-want +got):\n%s", diff)
			}
		})
	}
}

// netlinkTable is /proc/net/netlink with a route socket, ctwatch's event
// socket (groups NEW, UPDATE, DESTROY; 2,560 bytes queued; 17 drops) and
// ulogd's (NEW and DESTROY).
const netlinkTable = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
000000000cad9be4 0   0          00000000 0        0        0     2        0        219239
000000008a0ebd31 12  19349      00000007 2560     0        0     2        17       219261
00000000aa0ebd31 12  4294963175 00000005 0        0        0     2        0        219262
`

func TestParseNetlinkTable(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []netlinkSocket
		wantErr bool
	}{{
		name: "table",
		in:   netlinkTable,
		want: []netlinkSocket{
			{Protocol: 0, Inode: 219239},
			{Protocol: 12, PortID: 19349, Groups: 7, Rmem: 2560, Drops: 17, Inode: 219261},
			// An autobound socket's port ID is negative, printed unsigned.
			{Protocol: 12, PortID: 4294963175, Groups: 5, Inode: 219262},
		},
	}, {
		name: "two rows",
		in:   "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n1 12 5 00000004 0 0 0 2 3 99\n2 16 0 00000000 0 0 0 2 0 100\n",
		want: []netlinkSocket{
			{Protocol: 12, PortID: 5, Groups: 4, Drops: 3, Inode: 99},
			{Protocol: 16, Inode: 100},
		},
	}, {
		name: "header only",
		in:   "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n",
	}, {
		name:    "short row",
		in:      "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n1 12 5 00000004 0 0 0\n",
		wantErr: true,
	}, {
		name:    "groups not hex",
		in:      "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n1 12 5 0000000g 0 0 0 2 0 99\n",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetlinkTable([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, errFormat) {
					t.Fatalf("error = %v, want errFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseNetlinkTable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		link   string
		want   uint64
		wantOK bool
	}{
		{link: "socket:[219261]", want: 219261, wantOK: true},
		{link: "pipe:[219261]"},
		{link: "/dev/null"},
		{link: "socket:[]"},
		{link: "socket:[12"},
		{link: "socket:[-1]"},
	}
	for _, tt := range tests {
		got, ok := socketInode(tt.link)
		if diff := cmp.Diff([2]any{tt.want, tt.wantOK}, [2]any{got, ok}); diff != "" {
			t.Errorf("socketInode(%q) (-want +got):\n%s", tt.link, diff)
		}
	}
}

func TestProcessCPUClock(t *testing.T) {
	tests := []struct {
		pid  int
		want int32
	}{
		// ~1 << 3 | 2: the kernel's MAKE_PROCESS_CPUCLOCK(1, CPUCLOCK_SCHED).
		{pid: 1, want: -14},
		{pid: 4242, want: -33942},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, processCPUClock(tt.pid)); diff != "" {
			t.Errorf("processCPUClock(%d) (-want +got):\n%s", tt.pid, diff)
		}
	}
}

func TestParseCPUStat(t *testing.T) {
	in := "cpu  100 5 50 1000 10 1 4 2 0 0\ncpu0 60 5 30 400 4 1 2 1 0 0\ncpu1 40 0 20 600 6 0 2 1 0 0\nintr 12345\nctxt 999\n"
	all, per, err := parseCPUStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []cpuTimes{{Busy: 162, Total: 1172}, {Busy: 99, Total: 503}, {Busy: 63, Total: 669}}
	if diff := cmp.Diff(want, []cpuTimes{all, per[0], per[1]}); diff != "" {
		t.Errorf("parseCPUStat [all, cpu0, cpu1] (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"intr 1\n", "cpu 1 2 3\n", "cpu 1 2 3 4 5 6 7 x\n", "cpu 1 2 3 4 5 6 7 8\ncpuX 1 2 3 4 5 6 7 8\n"} {
		if _, _, err := parseCPUStat([]byte(bad)); !errors.Is(err, errFormat) {
			t.Errorf("parseCPUStat(%q) error = %v, want errFormat", bad, err)
		}
	}
}

func TestOtherShare(t *testing.T) {
	tests := []struct {
		name string
		d    cpuTimes
		ours int64
		want float64
	}{
		// 200 ticks (2 s) of two CPUs' time, 50 busy (0.5 s), ours 0.3 s.
		{name: "others", d: cpuTimes{Busy: 50, Total: 200}, ours: 3e8, want: 0.1},
		{name: "ours exceed the ticks", d: cpuTimes{Busy: 10, Total: 200}, ours: 3e8, want: 0},
		{name: "no time", d: cpuTimes{}, ours: 1, want: 0},
	}
	for _, tt := range tests {
		got := otherShare(tt.d, tt.ours)
		if diff := cmp.Diff(tt.want, got, cmpFloat); diff != "" {
			t.Errorf("%s: otherShare (-want +got):\n%s", tt.name, diff)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine))
	f.Add([]byte("1 (a) S"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := parseStat(data); err != nil && !errors.Is(err, errFormat) {
			t.Fatalf("error %v does not wrap errFormat", err)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("VmHWM:\t  16384 kB\n"), []byte("rchar: 1\nwchar: 2\nsyscr: 4\nsyscw: 3\n"))
	f.Fuzz(func(t *testing.T, status, io []byte) {
		if _, err := parseVmHWM(status); err != nil && !errors.Is(err, errFormat) {
			t.Fatalf("parseVmHWM error %v does not wrap errFormat", err)
		}
		if _, err := parseIO(io); err != nil && !errors.Is(err, errFormat) {
			t.Fatalf("parseIO error %v does not wrap errFormat", err)
		}
	})
}

func FuzzParseNetlinkTable(f *testing.F) {
	f.Add([]byte(netlinkTable))
	f.Add([]byte("sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n1 12 5 00000004 0 0 0 2 3 99\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		socks, err := parseNetlinkTable(data)
		if err != nil {
			if !errors.Is(err, errFormat) {
				t.Fatalf("error %v does not wrap errFormat", err)
			}
			return
		}
		for _, s := range socks {
			if s.Protocol < 0 {
				t.Fatalf("negative protocol %d", s.Protocol)
			}
		}
	})
}

func FuzzParseCPUStat(f *testing.F) {
	f.Add([]byte("cpu  100 5 50 1000 10 1 4 2 0 0\ncpu0 60 5 30 400 4 1 2 1 0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, _, err := parseCPUStat(data); err != nil && !errors.Is(err, errFormat) {
			t.Fatalf("error %v does not wrap errFormat", err)
		}
	})
}
