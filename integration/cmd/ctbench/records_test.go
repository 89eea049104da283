//go:build integration

package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		format recordFormat
		line   string
		want   eventKind
	}{
		{"ctwatch new", formatCtwatch, `{"level":"info","time":"2026-11-22T04:38:11.695473676Z","event":"new","family":"ipv4","proto":"tcp"}`, kindNew},
		{"ctwatch update", formatCtwatch, `{"level":"info","event":"update","transition":{"event":"x"}}`, kindUpdate},
		{"ctwatch destroy with flow", formatCtwatch, `{"level":"info","event":"destroy","flow":{"outcome":"refused"}}`, kindDestroy},
		{"ctwatch inferred destroy", formatCtwatch, `{"level":"info","event":"destroy","inferred":true,"flow":{}}`, kindInferred},
		{"ctwatch start", formatCtwatch, `{"level":"info","event":"start","version":"dev"}`, kindOther},
		{"ctwatch gap", formatCtwatch, `{"level":"warn","event":"gap","source":"kernel","lost":12}`, kindOther},
		{"ctwatch unterminated", formatCtwatch, `{"event":"new`, kindOther},
		{"ctwatch not JSON", formatCtwatch, `hello`, kindOther},

		{"conntrack new", formatConntrack, "    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=9 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9 dport=40000", kindNew},
		{"conntrack update", formatConntrack, " [UPDATE] udp      17 600 src=10.77.0.1 dst=10.78.0.1 sport=1024 dport=80 src=10.78.0.1 dst=10.77.0.1 sport=80 dport=1024 [ASSURED] mark=1", kindUpdate},
		{"conntrack destroy", formatConntrack, "[DESTROY] tcp      6 CLOSE src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=9", kindDestroy},
		{"conntrack timestamped", formatConntrack, "[1795323056.062749]	    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1", kindNew},
		{"conntrack summary", formatConntrack, "conntrack v1.4.7 (conntrack-tools): 12 flow events have been shown.", kindOther},
		{"conntrack tag late in the line", formatConntrack, "tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=40000 [NEW] ", kindOther},

		{"ulogd new", formatUlogd, `{"timestamp": "2026-11-22T04:50:56", "dvc": "Netfilter", "orig.l4.dport": 9, "ct.event": 1, "flow.start.sec": 1795323056}`, kindNew},
		{"ulogd update", formatUlogd, `{"ct.event": 2}`, kindUpdate},
		{"ulogd destroy", formatUlogd, `{"ct.mark": 0, "ct.id": 3871145846, "ct.event": 4, "flow.end.sec": 1795323056}`, kindDestroy},
		{"ulogd other number", formatUlogd, `{"ct.event": 14}`, kindOther},
		{"ulogd no event", formatUlogd, `{"ct.id": 1}`, kindOther},

		{"floor lines are no records", formatFloor, `{"new":1}`, kindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, classify(tt.format, []byte(tt.line))); diff != "" {
				t.Errorf("classify(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestCountRecords(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	tests := []struct {
		name    string
		format  recordFormat
		in      string
		want    eventCounts
		wantErr bool
	}{{
		name:   "ctwatch",
		format: formatCtwatch,
		in: `{"event":"start"}` + "\n" + `{"event":"dump"}` + "\n" +
			`{"event":"new"}` + "\n" + `{"event":"update"}` + "\n" + `{"event":"destroy"}` + "\n" +
			`{"event":"destroy","inferred":true}` + "\n",
		want: eventCounts{New: 1, Update: 1, Destroy: 1, Inferred: 1, Other: 2},
	}, {
		name:   "no final newline",
		format: formatConntrack,
		in:     "    [NEW] tcp\n[DESTROY] tcp",
		want:   eventCounts{New: 1, Destroy: 1},
	}, {
		name:   "a line longer than the buffer is skipped whole",
		format: formatConntrack,
		in:     "    [NEW] tcp\n" + long + "[DESTROY] tcp\n[DESTROY] tcp\n",
		want:   eventCounts{New: 1, Destroy: 1, Other: 1},
	}, {
		name:   "a long line at the end",
		format: formatConntrack,
		in:     "    [NEW] tcp\n" + long,
		want:   eventCounts{New: 1, Other: 1},
	}, {
		name:   "empty",
		format: formatUlogd,
	}, {
		name:   "floor summary",
		format: formatFloor,
		in:     `{"new":5,"update":4,"destroy":3,"other":2}` + "\n",
		want:   eventCounts{New: 5, Update: 4, Destroy: 3, Other: 2},
	}, {
		name:    "floor without summary",
		format:  formatFloor,
		in:      "",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := countRecords(tt.format, strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("countRecords (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCtwatchBuffer(t *testing.T) {
	out := `{"level":"info","time":"2026-12-04T14:00:00.000000000Z","event":"start","version":"dev","buffer_requested":67108864,"buffer_size":134217728}
{"level":"info","time":"2026-12-04T14:00:00.000000001Z","event":"dump","entries":0}
`
	got, err := ctwatchBuffer(strings.NewReader(out))
	if err != nil || got != 64<<20 {
		t.Errorf("ctwatchBuffer = %d, %v; want %d, nil", got, err, 64<<20)
	}
	for _, bad := range []string{"", `{"event":"dump"}` + "\n", "not json\n"} {
		if _, err := ctwatchBuffer(strings.NewReader(bad)); err == nil {
			t.Errorf("ctwatchBuffer(%q): no error", bad)
		}
	}
}

func TestSubscribed(t *testing.T) {
	c := eventCounts{New: 10, Update: 20, Destroy: 30, Other: 5}
	tests := []struct {
		groups uint32
		want   eventCounts
	}{
		{groups: 7, want: eventCounts{New: 10, Update: 20, Destroy: 30}},
		{groups: 5, want: eventCounts{New: 10, Destroy: 30}},
		{groups: 2 | 8, want: eventCounts{Update: 20}},
		{groups: 0},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, c.subscribed(tt.groups)); diff != "" {
			t.Errorf("subscribed(%#x) (-want +got):\n%s", tt.groups, diff)
		}
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {200000, "200,000"}, {1234567, "1,234,567"}, {-4500, "-4,500"}}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, formatCount(tt.n)); diff != "" {
			t.Errorf("formatCount(%d) (-want +got):\n%s", tt.n, diff)
		}
	}
}

func FuzzCountRecords(f *testing.F) {
	f.Add(uint8(formatCtwatch), []byte(`{"event":"new"}`+"\n"+`{"event":"destroy","inferred":true}`))
	f.Add(uint8(formatConntrack), []byte("    [NEW] tcp\n [UPDATE] udp\n"))
	f.Add(uint8(formatUlogd), []byte(`{"ct.event": 4}`))
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		ft := recordFormat(format % uint8(formatFloor))
		c, err := countRecords(ft, strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(data), "\n")
		if !strings.HasSuffix(string(data), "\n") && len(data) > 0 {
			lines++
		}
		if got := c.Events() + c.Inferred + c.Other; got != lines {
			t.Fatalf("counted %d records in %d lines", got, lines)
		}
	})
}
