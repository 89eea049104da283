//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ctwatch/ctwatch/internal/nstest"
)

// filterEntries are conntrack -I arguments of entries made through
// ctnetlink, each with its own source port (or ICMP identifier): NAT set
// up by the kernel (--src-nat, --dst-nat), per-direction zones, ICMP, and a
// reply tuple that differs from the original without NAT (as IPVS makes
// them), which conntrack does not take for NAT.
var filterEntries = [][]string{
	{"-p", "tcp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "1000", "--dport", "80", "--state", "ESTABLISHED", "--src-nat", "192.168.9.9"},
	{"-p", "udp", "-s", "10.0.0.3", "-d", "10.0.0.4", "--sport", "1001", "--dport", "53", "--dst-nat", "10.1.1.1:5353"},
	{"-p", "tcp", "-s", "10.0.0.5", "-d", "10.0.0.6", "--sport", "1002", "--dport", "22", "--state", "ESTABLISHED", "--orig-zone", "7"},
	{"-p", "icmp", "-s", "10.0.0.7", "-d", "10.0.0.8", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "77"},
	{"-p", "tcp", "-s", "10.0.0.9", "-d", "10.0.0.10", "--sport", "1003", "--dport", "22", "--state", "ESTABLISHED",
		"--reply-src", "10.0.0.11", "--reply-dst", "10.0.0.9", "--reply-port-src", "2222", "--reply-port-dst", "1003"},
	{"-p", "tcp", "-s", "10.0.0.12", "-d", "10.0.0.13", "--sport", "1004", "--dport", "22", "--state", "ESTABLISHED", "--reply-zone", "8"},
	{"-p", "udp", "-s", "10.0.0.14", "-d", "10.0.0.15", "--sport", "1005", "--dport", "53", "--src-nat", "192.168.9.9:40000"},
	{"-p", "udp", "-s", "10.0.0.16", "-d", "10.0.0.17", "--sport", "1006", "--dport", "53"},
	{"-p", "icmp", "-s", "10.0.0.18", "-d", "10.0.0.19", "--icmp-type", "13", "--icmp-code", "0", "--icmp-id", "78"},
}

// TestWatchFilterMatchesConntrack runs `conntrack -E` with each of
// conntrack's filters and `ctwatch watch --format text` with the same
// filter beside it, on the same entries made through ctnetlink: they must
// print the same lines. Each case's last entry matches its filter and marks
// the end of what is compared.
func TestWatchFilterMatchesConntrack(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	for _, tt := range []struct {
		name       string
		ct, ours   []string // the filter flags of conntrack -E and of ctwatch
		end        []string // conntrack -I arguments of the last entry, matching
		minMatches int      // of filterEntries
	}{
		{"src-nat", []string{"--src-nat"}, nil, filterEntries[0], 2},
		{"src-nat address", []string{"--src-nat", "192.168.9.9"}, nil, filterEntries[0], 2},
		{"src-nat address and port", []string{"--src-nat", "192.168.9.9:40000"}, nil,
			[]string{"-p", "udp", "-s", "10.0.0.14", "-d", "10.0.0.20", "--sport", "4999", "--dport", "53", "--src-nat", "192.168.9.9:40000"}, 1},
		{"dst-nat", []string{"--dst-nat"}, nil, filterEntries[1], 1},
		{"dst-nat address and port", []string{"--dst-nat", "10.1.1.1:5353"}, nil, filterEntries[1], 1},
		{"any-nat", []string{"--any-nat"}, nil, filterEntries[1], 3},
		// conntrack 1.4.7 drops a value given with '=' (its
		// get_optional_arg returns none when getopt has set optarg):
		// it takes one only as the next argument.
		{"any-nat address", []string{"--any-nat", "10.1.1.1"}, []string{"--any-nat=10.1.1.1"}, filterEntries[1], 1},
		{"reply-src", []string{"--reply-src", "10.0.0.11"}, nil, filterEntries[4], 1},
		{"reply-dst", []string{"--reply-dst", "192.168.9.9"}, nil, filterEntries[0], 2},
		{"reply-port-src", []string{"-p", "tcp", "--reply-port-src", "2222"}, []string{"--proto", "tcp", "--reply-port-src", "2222"}, filterEntries[4], 1},
		{"reply-port-dst", []string{"-p", "udp", "--reply-port-dst", "40000"}, []string{"--proto", "udp", "--reply-dport", "40000"}, filterEntries[6], 1},
		{"orig-zone", []string{"--orig-zone", "7"}, nil, filterEntries[2], 1},
		{"reply-zone", []string{"--reply-zone", "8"}, nil, filterEntries[5], 1},
		{"icmp-type", []string{"-p", "icmp", "--icmp-type", "13"}, []string{"--proto", "icmp", "--icmp-type", "13"}, filterEntries[8], 1},
		{"icmp-id", []string{"-p", "icmp", "--icmp-id", "77"}, []string{"--proto", "icmp", "--icmp-id", "77"}, filterEntries[3], 1},
		{"mask-src", []string{"-s", "10.0.0.0", "--mask-src", "255.255.255.248"}, []string{"--src", "10.0.0.0", "--mask-src", "255.255.255.248"}, filterEntries[0], 4},
		{"mask-src non-contiguous", []string{"-s", "10.0.0.1", "--mask-src", "255.255.255.3"}, []string{"--src", "10.0.0.1", "--mask-src", "255.255.255.3"}, filterEntries[0], 3},
		{"src prefix", []string{"-s", "10.0.0.8/29"}, []string{"--src", "10.0.0.8/29"}, filterEntries[5], 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ours := tt.ours
			if ours == nil {
				ours = tt.ct
			}
			ns := nstest.New(t)
			ctOut := filepath.Join(t.TempDir(), "conntrack.txt")
			f, err := os.Create(ctOut)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ct := ns.Command(append([]string{"conntrack", "-E", "-e", "NEW"}, tt.ct...)...)
			ct.Stdout = f
			if err := ct.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ct.Process.Kill(); ct.Wait() })
			w := wtStart(t, append([]string{"watch", "--netns", ns.Name, "--format", "text", "--events", "new"}, ours...)...)
			wtPoll(t, "both listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 2 })

			for _, e := range filterEntries {
				ns.Run(append([]string{"conntrack", "-I", "-t", "100"}, e...)...)
			}
			// The end entry: filterEntries' own when it is not one of
			// them (a second entry with one tuple cannot be made), else
			// again after a delete.
			if slices.ContainsFunc(filterEntries, func(e []string) bool { return slices.Equal(e, tt.end) }) {
				ns.Run(append([]string{"conntrack", "-D"}, tt.end[:4]...)...)
			}
			ns.Run(append([]string{"conntrack", "-I", "-t", "100"}, tt.end...)...)

			// The end line is the last line with the end entry's
			// original tuple: it shows twice when it is one of
			// filterEntries.
			endKey, endID := entryKey(tt.end)
			count := func(lines []string) int {
				n := 0
				for _, l := range lines {
					if strings.Contains(l, endKey) && strings.Contains(l, endID) {
						n++
					}
				}
				return n
			}
			wantEnd := 1
			if slices.ContainsFunc(filterEntries, func(e []string) bool { return slices.Equal(e, tt.end) }) {
				wantEnd = 2
			}
			done := func(lines []string) bool { return count(lines) >= wantEnd }
			got := w.linesUntil(t, endKey, done)
			want := ctLinesUntil(t, ctOut, done)
			if len(want) < tt.minMatches+1 {
				t.Errorf("conntrack -E %s printed %d lines, want at least %d: the case tests less than it says:\n%s",
					strings.Join(tt.ct, " "), len(want), tt.minMatches+1, strings.Join(want, "\n"))
			}
			// The program names, which each finds on its own, are left
			// out (see wtComparable).
			if diff := wtComparableDiff(want, got); diff != "" {
				t.Errorf("ctwatch %s selects other entries than conntrack -E %s (-conntrack +ctwatch):\n%s",
					strings.Join(ours, " "), strings.Join(tt.ct, " "), diff)
			}
			ct.Process.Signal(syscall.SIGINT)
			w.stop()
		})
	}
}

// entryKey returns the text of the original tuple's addresses of conntrack
// -I arguments, as both print it, and of its source port or ICMP
// identifier.
func entryKey(args []string) (addrs, id string) {
	var src, dst string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-s":
			src = args[i+1]
		case "-d":
			dst = args[i+1]
		case "--sport":
			id = "sport=" + args[i+1] + " "
		case "--icmp-id":
			id = "id=" + args[i+1] + " "
		}
	}
	return "src=" + src + " dst=" + dst + " ", id
}

// TestWatchLabelFilterMatchesConntrack: conntrack -E --label and ctwatch
// --label, given the same connlabel file, select the same entries: those
// with every label named, whatever others they have.
func TestWatchLabelFilterMatchesConntrack(t *testing.T) {
	ns := nstest.New(t)
	// A ct label rule: ctnetlink can set labels in a namespace only once
	// one is loaded. No packet goes through it.
	ns.NFT(`table inet labels {
	chain out {
		type filter hook output priority -10; policy accept;
		udp dport 5005 ct label set 1
	}
}
`)
	conf := filepath.Join(t.TempDir(), "connlabel.conf")
	if err := os.WriteFile(conf, []byte(wlConf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctOut := filepath.Join(t.TempDir(), "conntrack.txt")
	f, err := os.Create(ctOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ct := wlConntrack(t, ns, conf, "-E", "-e", "NEW", "--label", "red,heartbeat")
	ct.Stdout = f
	if err := ct.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ct.Process.Kill(); ct.Wait() })
	// Repeated, as conntrack's -l red -l heartbeat. conntrack prints the
	// labels once --label has loaded its table, as -o labels does.
	w := wtStart(t, "watch", "--netns", ns.Name, "--format", "text", "--text-opts", "labels", "--events", "new",
		"--connlabel-file", conf, "--label", "red", "--label", "heartbeat")
	wtPoll(t, "both listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 2 })

	for i, labels := range []string{"red,heartbeat", "red", "blue,red,heartbeat", "", "heartbeat", "heartbeat,red"} {
		args := []string{"-I", "-p", "udp", "-s", "10.99.1.1", "-d", "10.99.1.2", "--sport", strconv.Itoa(7000 + i), "--dport", "53", "-t", "100"}
		if labels != "" {
			args = append(args, "--label-add", labels)
		}
		if out, err := wlConntrack(t, ns, conf, args...).CombinedOutput(); err != nil {
			t.Fatalf("conntrack %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	const end = "sport=7005 "
	got := w.linesUntil(t, end, lastContains(end))
	want := ctLinesUntil(t, ctOut, lastContains(end))
	if len(want) != 3 {
		t.Errorf("conntrack -E --label red,heartbeat printed %d lines, want 3:\n%s", len(want), strings.Join(want, "\n"))
	}
	if diff := wtComparableDiff(want, got); diff != "" {
		t.Errorf("ctwatch --label red --label heartbeat selects other entries than conntrack -E --label red,heartbeat (-conntrack +ctwatch):\n%s", diff)
	}
	ct.Process.Signal(syscall.SIGINT)
	w.stop()
}
