package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/ctstat"
)

// healthy is an input every check passes.
func healthy() Input {
	return Input{
		Caps: Caps{NetAdmin: true, SysAdmin: true},
		Stats: &ctstat.Reading{
			Count: 1000, Max: 262144, Buckets: 262144,
			Sum: ctstat.CPUStats{ctstat.Found: 50, ctstat.Insert: 1200},
		},
		Sysctls: Sysctls{
			Events:         Value{N: 1},
			Acct:           Value{N: 1},
			Timestamp:      Value{N: 1},
			Max:            Value{N: 262144},
			Buckets:        Value{N: 262144},
			TCPEstablished: Value{N: 3600},
			UDP:            Value{N: 30},
			UDPStream:      Value{N: 120},
			RmemMax:        Value{N: 16 << 20},
		},
		RcvBuf: 8 << 20,
	}
}

func TestRun(t *testing.T) {
	missing := fmt.Errorf("sysctl x: %w", fs.ErrNotExist)
	tests := []struct {
		name   string
		modify func(*Input)
		// want are the checks that do not pass; every other must be OK.
		want map[string]Status
	}{
		{name: "healthy", modify: func(*Input) {}},
		{name: "no CAP_NET_ADMIN", modify: func(in *Input) { in.Caps = Caps{}; in.Sysctls.RmemMax.N = 4 << 20 },
			want: map[string]Status{"privileges": Fail, "receive_buffer": Warn}},
		{name: "no CAP_NET_ADMIN but rmem_max suffices", modify: func(in *Input) { in.Caps = Caps{} },
			want: map[string]Status{"privileges": Fail}},
		{name: "CAP_NET_ADMIN bypasses a low rmem_max", modify: func(in *Input) { in.Sysctls.RmemMax.N = 212992 }},
		{name: "rmem_max unreadable without the capability", modify: func(in *Input) { in.Caps = Caps{}; in.Sysctls.RmemMax.Err = missing },
			want: map[string]Status{"privileges": Fail, "receive_buffer": Warn}},
		{name: "capabilities unreadable", modify: func(in *Input) { in.Caps = Caps{Err: syscall.EINVAL} },
			want: map[string]Status{"privileges": Warn, "receive_buffer": OK}},
		{name: "other namespace without CAP_SYS_ADMIN", modify: func(in *Input) { in.OtherNamespace = true; in.Caps.SysAdmin = false },
			want: map[string]Status{"privileges": Fail}},
		{name: "other namespace with CAP_SYS_ADMIN", modify: func(in *Input) { in.OtherNamespace = true }},
		{name: "statistics refused", modify: func(in *Input) { in.Stats, in.StatsErr = nil, fmt.Errorf("get: %w", syscall.EPERM) },
			want: map[string]Status{"conntrack": Fail, "engaged": Warn, "table_fill": Warn, "drops": Warn}},
		{name: "ctnetlink missing", modify: func(in *Input) { in.Stats, in.StatsErr = nil, syscall.EOPNOTSUPP },
			want: map[string]Status{"conntrack": Fail, "engaged": Warn, "table_fill": Warn, "drops": Warn}},
		{name: "statistics time out", modify: func(in *Input) { in.Stats, in.StatsErr = nil, errors.New("i/o timeout") },
			want: map[string]Status{"conntrack": Fail, "engaged": Warn, "table_fill": Warn, "drops": Warn}},
		{name: "not engaged", modify: func(in *Input) { in.Stats.Count = 0; in.Stats.Sum = ctstat.CPUStats{} },
			want: map[string]Status{"engaged": Warn}},
		{name: "engaged by counters alone", modify: func(in *Input) { in.Stats.Count = 0; in.Stats.Sum = ctstat.CPUStats{ctstat.Invalid: 1} }},
		{name: "engaged by entries alone", modify: func(in *Input) { in.Stats.Sum = ctstat.CPUStats{} }},
		{name: "events off", modify: func(in *Input) { in.Sysctls.Events.N = 0 }, want: map[string]Status{"events": Fail}},
		{name: "events auto", modify: func(in *Input) { in.Sysctls.Events.N = 2 }, want: map[string]Status{"events": Warn}},
		{name: "events unreadable", modify: func(in *Input) { in.Sysctls.Events.Err = missing }, want: map[string]Status{"events": Warn}},
		{name: "accounting off", modify: func(in *Input) { in.Sysctls.Acct.N = 0 }, want: map[string]Status{"accounting": Warn}},
		{name: "timestamps off", modify: func(in *Input) { in.Sysctls.Timestamp.N = 0 }, want: map[string]Status{"timestamps": Warn}},
		{name: "fill below 80 %", modify: func(in *Input) { in.Stats.Count = 209714 }},
		{name: "fill at 80 %", modify: func(in *Input) { in.Stats.Count = 209716 }, want: map[string]Status{"table_fill": Warn}},
		{name: "fill at 95 %", modify: func(in *Input) { in.Stats.Count = 249037 }, want: map[string]Status{"table_fill": Fail}},
		{name: "full", modify: func(in *Input) { in.Stats.Count = 262144 }, want: map[string]Status{"table_fill": Fail}},
		{name: "no limit", modify: func(in *Input) { in.Stats.Max = 0; in.Sysctls.Max.N = 0 }},
		{name: "8 entries per bucket", modify: func(in *Input) { in.Stats.Max = 8 * 262144 }},
		{name: "more than 8 entries per bucket", modify: func(in *Input) { in.Stats.Max = 8*262144 + 1 }, want: map[string]Status{"hash_size": Warn}},
		{name: "buckets from the sysctl when the reading lacks them", modify: func(in *Input) { in.Stats.Buckets = 0; in.Sysctls.Buckets.N = 1024 },
			want: map[string]Status{"hash_size": Warn}},
		{name: "max and buckets from sysctls without a reading", modify: func(in *Input) {
			in.Stats, in.StatsErr = nil, syscall.EPERM
			in.Sysctls.Max.N = 1 << 20
			in.Sysctls.Buckets.N = 1 << 16
		}, want: map[string]Status{"conntrack": Fail, "engaged": Warn, "table_fill": Warn, "drops": Warn, "hash_size": Warn}},
		{name: "buckets unreadable", modify: func(in *Input) { in.Stats.Buckets = 0; in.Sysctls.Buckets.Err = missing }, want: map[string]Status{"hash_size": Warn}},
		{name: "chains too long", modify: func(in *Input) { in.Stats.Sum[ctstat.ChainTooLong] = 3 }, want: map[string]Status{"hash_size": Warn}},
		{name: "drops", modify: func(in *Input) { in.Stats.Sum[ctstat.Drop] = 7 }, want: map[string]Status{"drops": Warn}},
		{name: "early drops", modify: func(in *Input) { in.Stats.Sum[ctstat.EarlyDrop] = 7 }, want: map[string]Status{"drops": Warn}},
		{name: "failed insertions", modify: func(in *Input) { in.Stats.Sum[ctstat.InsertFailed] = 7 }, want: map[string]Status{"drops": Warn}},
		{name: "tcp timeout at one day", modify: func(in *Input) { in.Sysctls.TCPEstablished.N = 86400 }},
		{name: "tcp timeout at the kernel's default", modify: func(in *Input) { in.Sysctls.TCPEstablished.N = 432000 }, want: map[string]Status{"tcp_timeout": Warn}},
		{name: "udp timeout long", modify: func(in *Input) { in.Sysctls.UDP.N = 180 }, want: map[string]Status{"udp_timeouts": Warn}},
		{name: "udp stream timeout long", modify: func(in *Input) { in.Sysctls.UDPStream.N = 3600 }, want: map[string]Status{"udp_timeouts": Warn}},
		{name: "udp stream timeout unreadable", modify: func(in *Input) { in.Sysctls.UDPStream.Err = missing }, want: map[string]Status{"udp_timeouts": Warn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := healthy()
			stats := *in.Stats
			in.Stats = &stats
			tt.modify(&in)
			r := Run(in)

			want := map[string]Status{}
			worst := OK
			for _, c := range r.Checks {
				want[c.Name] = OK
			}
			for name, s := range tt.want {
				want[name] = s
				worst = max(worst, s)
			}
			got := map[string]Status{}
			for _, c := range r.Checks {
				got[c.Name] = c.Status
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if r.Status != worst {
				t.Errorf("report status %v, want %v", r.Status, worst)
			}
			for _, c := range r.Checks {
				if !strings.HasSuffix(c.Found, ".") || c.Found[0] == ' ' {
					t.Errorf("%s: found is not a sentence: %q", c.Name, c.Found)
				}
				if (c.Status == OK) != (c.Fix == "") {
					t.Errorf("%s: status %v with fix %q", c.Name, c.Status, c.Fix)
				}
			}
		})
	}
}

func TestRunOrderAndNames(t *testing.T) {
	var got []string
	for _, c := range Run(healthy()).Checks {
		got = append(got, c.Name)
	}
	want := []string{"privileges", "conntrack", "engaged", "events", "accounting", "timestamps",
		"receive_buffer", "table_fill", "hash_size", "drops", "tcp_timeout", "udp_timeouts"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCheckText(t *testing.T) {
	in := healthy()
	in.Sysctls.TCPEstablished.N = 432000
	in.Sysctls.Events.N = 2
	in.Stats.Count = 230000
	got := map[string]Check{}
	for _, c := range Run(in).Checks {
		got[c.Name] = c
	}
	want := map[string]Check{
		"tcp_timeout": {
			Name: "tcp_timeout", Status: Warn,
			Found: "nf_conntrack_tcp_timeout_established is 432000 s (5 days): connections that die silently (a crashed peer, a lost NAT mapping) hold their entries that long.",
			Fix:   "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_established=86400 or lower, above your longest TCP idle time.",
		},
		"events": {
			Name: "events", Status: Warn,
			Found: "nf_conntrack_events is 2 (auto): entries created while no conntrack event listener existed anywhere on the host get no events, so flows begun before ctwatch started never report updates or their end.",
			Fix:   "sysctl -w net.netfilter.nf_conntrack_events=1 (a few bytes per entry).",
		},
		"table_fill": {
			Name: "table_fill", Status: Warn,
			Found: "The table holds 230000 of nf_conntrack_max 262144 entries (87.7 %): when full, the kernel drops new flows' packets.",
			Fix:   "Raise net.netfilter.nf_conntrack_max (and nf_conntrack_buckets), lower the timeouts, or exempt traffic with a notrack rule in the raw table.",
		},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, got[name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestReportJSON(t *testing.T) {
	r := Report{Checks: []Check{{Name: "a", Status: OK, Found: "Fine."}, {Name: "b", Status: Fail, Found: "Bad.", Fix: "Mend."}}, Status: Fail}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"checks":[{"name":"a","status":"ok","found":"Fine."},{"name":"b","status":"fail","found":"Bad.","fix":"Mend."}],"status":"fail"}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	var s Status
	if err := s.UnmarshalText([]byte("bad")); err == nil {
		t.Error("UnmarshalText accepted an unknown status")
	}
}

func TestSysctlsFrom(t *testing.T) {
	vals := map[string]int64{}
	for i, n := range SysctlNames {
		vals[n] = int64(i + 1)
	}
	errMissing := fmt.Errorf("sysctl: %w", fs.ErrNotExist)
	got := SysctlsFrom(func(name string) (int64, error) {
		if name == SysctlRmemMax {
			return 0, errMissing
		}
		return vals[name], nil
	})
	want := Sysctls{
		Events: Value{N: 1}, Acct: Value{N: 2}, Timestamp: Value{N: 3}, Max: Value{N: 4}, Buckets: Value{N: 5},
		TCPEstablished: Value{N: 6}, UDP: Value{N: 7}, UDPStream: Value{N: 8}, RmemMax: Value{Err: errMissing},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSecondsAndBytesText(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{secondsText(432000), "432000 s (5 days)"},
		{secondsText(86400), "86400 s (1 day)"},
		{secondsText(7200), "7200 s (2 hours)"},
		{secondsText(120), "120 s (2 minutes)"},
		{secondsText(30), "30 s"},
		{secondsText(90), "90 s"},
		{bytesText(8 << 20), "8 MiB"},
		{bytesText(212992), "208 KiB"},
		{bytesText(1000), "1000 bytes"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
