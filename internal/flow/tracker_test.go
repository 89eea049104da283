package flow

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
	"github.com/google/go-cmp/cmp"
)

// base is the time of the synthetic sequences' first event.
var base = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)

// at returns the conntrack -o timestamp prefix of an event s seconds after
// base.
func at(s float64) string {
	t := base.Add(time.Duration(s * float64(time.Second)))
	return fmt.Sprintf("[%d.%06d]\t", t.Unix(), t.Nanosecond()/1000)
}

// tcpLine builds a TCP event line of a flow 10.0.0.1:sport -> 10.0.0.2:80.
// flags holds the words after the reply tuple ([ASSURED], counters are
// given in counters: "" or "packets=1 bytes=60|packets=1 bytes=40").
func tcpLine(s float64, typ string, sport int, timeout, state string, unreplied bool, counters, tail string) string {
	oc, rc := "", ""
	if counters != "" {
		o, r, _ := strings.Cut(counters, "|")
		oc, rc = " "+o, " "+r
	}
	u := ""
	if unreplied {
		u = " [UNREPLIED]"
	}
	if timeout != "" {
		timeout += " "
	}
	return fmt.Sprintf("%s%s tcp      6 %s%s src=10.0.0.1 dst=10.0.0.2 sport=%d dport=80%s%s src=10.0.0.2 dst=10.0.0.1 sport=80 dport=%d%s id=%d %s",
		at(s), typ, timeout, state, sport, oc, u, sport, rc, 1000+sport, tail)
}

// udpLine builds a UDP event line of a flow 10.0.0.1:sport -> dst:53;
// counters are as for tcpLine.
func udpLine(s float64, typ string, sport int, dst string, timeout string, unreplied bool, counters, tail string) string {
	oc, rc := "", ""
	if counters != "" {
		o, r, _ := strings.Cut(counters, "|")
		oc, rc = " "+o, " "+r
	}
	u := ""
	if unreplied {
		u = " [UNREPLIED]"
	}
	if timeout != "" {
		timeout += " "
	}
	return fmt.Sprintf("%s%s udp      17 %ssrc=10.0.0.1 dst=%s sport=%d dport=53%s%s src=%s dst=10.0.0.1 sport=53 dport=%d%s id=%d %s",
		at(s), typ, timeout, dst, sport, oc, u, dst, sport, rc, 2000+sport, tail)
}

// observe feeds evs to tr, checking the invariants after each event, and
// returns the results.
func observe(tb testing.TB, tr *Tracker, evs []model.Event) []Result {
	tb.Helper()
	res := make([]Result, len(evs))
	for i := range evs {
		res[i] = tr.Observe(&evs[i])
		if err := tr.check(); err != nil {
			tb.Fatalf("after event %d: %v", i, err)
		}
	}
	return res
}

func TestOutcome(t *testing.T) {
	const acct = "packets=3 bytes=180|packets=2 bytes=120"
	tests := []struct {
		name  string
		lines []string
		want  string // the last event's lifecycle
	}{{
		name: "closed by FIN, expired in TIME_WAIT",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "60", "SYN_RECV", false, "", ""),
			tcpLine(0.002, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(1, "[UPDATE]", 1, "120", "FIN_WAIT", false, "", "[ASSURED]"),
			tcpLine(1.1, "[UPDATE]", 1, "120", "TIME_WAIT", false, "", "[ASSURED]"),
			tcpLine(121, "[DESTROY]", 1, "", "TIME_WAIT", false, acct, "[ASSURED]"),
		},
		want: `{"path":["SYN_SENT","SYN_RECV","ESTABLISHED","FIN_WAIT","TIME_WAIT"],"duration_s":121,"reply_after_s":0.001,"assured_after_s":0.002,"outcome":"closed","seen_from":"new","orig_packets":3,"orig_bytes":180,"reply_packets":2,"reply_bytes":120}`,
	}, {
		name: "closed: both FINs, then a RST in TIME_WAIT",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(1, "[UPDATE]", 1, "30", "LAST_ACK", false, "", "[ASSURED]"),
			tcpLine(1.1, "[UPDATE]", 1, "10", "CLOSE", false, "", "[ASSURED]"),
			tcpLine(11, "[DESTROY]", 1, "", "CLOSE", false, "", "[ASSURED]"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED","LAST_ACK","CLOSE"],"duration_s":11,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"closed","seen_from":"new"}`,
	}, {
		name: "closed, then deleted in TIME_WAIT: closed wins",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(1, "[UPDATE]", 1, "120", "TIME_WAIT", false, "", "[ASSURED]"),
			tcpLine(2, "[DESTROY]", 1, "119", "TIME_WAIT", false, "", "[ASSURED] [USERSPACE] portid=77"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED","TIME_WAIT"],"duration_s":2,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"closed","seen_from":"new"}`,
	}, {
		name: "reset after established",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(5, "[UPDATE]", 1, "10", "CLOSE", false, "", "[ASSURED]"),
			tcpLine(15, "[DESTROY]", 1, "", "CLOSE", false, "", "[ASSURED]"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED","CLOSE"],"duration_s":15,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"reset","seen_from":"new"}`,
	}, {
		name: "reset after a single FIN",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(5, "[UPDATE]", 1, "120", "FIN_WAIT", false, "", "[ASSURED]"),
			tcpLine(6, "[UPDATE]", 1, "10", "CLOSE", false, "", "[ASSURED]"),
			tcpLine(16, "[DESTROY]", 1, "", "CLOSE", false, "", "[ASSURED]"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED","FIN_WAIT","CLOSE"],"duration_s":16,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"reset","seen_from":"new"}`,
	}, {
		name: "rejected: SYN answered by RST, killed at once",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.0002, "[DESTROY]", 1, "120", "CLOSE", true, "packets=1 bytes=60|packets=1 bytes=40", ""),
		},
		want: `{"path":["SYN_SENT","CLOSE"],"duration_s":0.0002,"outcome":"rejected","seen_from":"new","orig_packets":1,"orig_bytes":60,"reply_packets":1,"reply_bytes":40}`,
	}, {
		name: "rejected without accounting",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.0002, "[DESTROY]", 1, "120", "CLOSE", true, "", ""),
		},
		want: `{"path":["SYN_SENT","CLOSE"],"duration_s":0.0002,"outcome":"rejected","seen_from":"new"}`,
	}, {
		name: "the originator's own RST in SYN_SENT: unreplied",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.5, "[DESTROY]", 1, "120", "CLOSE", true, "packets=2 bytes=100|packets=0 bytes=0", ""),
		},
		want: `{"path":["SYN_SENT","CLOSE"],"duration_s":0.5,"outcome":"unreplied","seen_from":"new","orig_packets":2,"orig_bytes":100,"reply_packets":0,"reply_bytes":0}`,
	}, {
		name: "rejected after SYN_RECV",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "60", "SYN_RECV", false, "", ""),
			tcpLine(0.002, "[UPDATE]", 1, "10", "CLOSE", false, "", ""),
			tcpLine(10, "[DESTROY]", 1, "", "CLOSE", false, "", ""),
		},
		want: `{"path":["SYN_SENT","SYN_RECV","CLOSE"],"duration_s":10,"reply_after_s":0.001,"outcome":"rejected","seen_from":"new"}`,
	}, {
		name: "SYN never answered, expired: unreplied",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(120, "[DESTROY]", 1, "", "SYN_SENT", true, "", ""),
		},
		want: `{"path":["SYN_SENT"],"duration_s":120,"outcome":"unreplied","seen_from":"new"}`,
	}, {
		name: "half-open SYN_RECV expired: timeout",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "60", "SYN_RECV", false, "", ""),
			tcpLine(60, "[DESTROY]", 1, "", "SYN_RECV", false, "", ""),
		},
		want: `{"path":["SYN_SENT","SYN_RECV"],"duration_s":60,"reply_after_s":0.001,"outcome":"timeout","seen_from":"new"}`,
	}, {
		name: "established, deleted by conntrack -D",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(3, "[DESTROY]", 1, "431997", "ESTABLISHED", false, "", "[ASSURED] [USERSPACE] portid=4242 progname=conntrack"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED"],"duration_s":3,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"deleted","seen_from":"new"}`,
	}, {
		name: "established, killed by the kernel: unknown",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(3, "[DESTROY]", 1, "431997", "ESTABLISHED", false, "", "[ASSURED]"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED"],"duration_s":3,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"unknown","seen_from":"new"}`,
	}, {
		name: "established, expired when idle: timeout",
		lines: []string{
			tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
			tcpLine(0.001, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(432000, "[DESTROY]", 1, "", "ESTABLISHED", false, "", "[ASSURED]"),
		},
		want: `{"path":["SYN_SENT","ESTABLISHED"],"duration_s":432000,"reply_after_s":0.001,"assured_after_s":0.001,"outcome":"timeout","seen_from":"new"}`,
	}, {
		name: "an expiry reported with timeout 0 (older kernels): timeout",
		lines: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(0.01, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
			udpLine(30, "[DESTROY]", 1, "10.0.0.9", "0", false, "", ""),
		},
		want: `{"duration_s":30,"reply_after_s":0.01,"outcome":"timeout","seen_from":"new"}`,
	}, {
		name: "UDP unanswered, expired: unreplied",
		lines: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(30, "[DESTROY]", 1, "10.0.0.9", "", true, "", ""),
		},
		want: `{"duration_s":30,"outcome":"unreplied","seen_from":"new"}`,
	}, {
		name: "UDP unanswered, deleted: deleted",
		lines: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(1, "[DESTROY]", 1, "10.0.0.9", "29", true, "", "[USERSPACE] portid=99"),
		},
		want: `{"duration_s":1,"outcome":"deleted","seen_from":"new"}`,
	}, {
		name: "UDP unanswered, dropped early by the kernel: unreplied",
		lines: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(1, "[DESTROY]", 1, "10.0.0.9", "29", true, "", ""),
		},
		want: `{"duration_s":1,"outcome":"unreplied","seen_from":"new"}`,
	}, {
		name: "UDP answered and assured, expired: timeout",
		lines: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(0.0003, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
			udpLine(2.5, "[UPDATE]", 1, "10.0.0.9", "120", false, "", "[ASSURED]"),
			udpLine(122.5, "[DESTROY]", 1, "10.0.0.9", "", false, "", "[ASSURED]"),
		},
		want: `{"duration_s":122.5,"reply_after_s":0.0003,"assured_after_s":2.5,"outcome":"timeout","seen_from":"new"}`,
	}, {
		name: "first seen on an UPDATE: lower bounds",
		lines: []string{
			tcpLine(10, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
			tcpLine(11, "[UPDATE]", 1, "10", "CLOSE", false, "", "[ASSURED]"),
			tcpLine(21, "[DESTROY]", 1, "", "CLOSE", false, "", "[ASSURED]"),
		},
		want: `{"path":["ESTABLISHED","CLOSE"],"duration_s":11,"outcome":"reset","seen_from":"event","lower_bound":true}`,
	}, {
		name: "first seen on its DESTROY, with the kernel's timestamps: exact",
		lines: []string{
			tcpLine(21, "[DESTROY]", 1, "", "TIME_WAIT", false, "", "[ASSURED] [start=Sun Nov 22 03:59:00 2026] [stop=Sun Nov 22 04:00:21 2026]"),
		},
		want: `{"path":["TIME_WAIT"],"duration_s":81,"outcome":"closed","seen_from":"event"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(testConfig())
			res := observe(t, tr, parseLines(t, tt.lines...))
			last := res[len(res)-1]
			if diff := cmp.Diff(tt.want, jsonOf(&last.Flow)); diff != "" {
				t.Errorf("lifecycle (-want +got):\n%s", diff)
			}
			if tr.Len() != 0 {
				t.Errorf("Len() = %d after the DESTROY, want 0", tr.Len())
			}
		})
	}
}

func TestTransition(t *testing.T) {
	syn := tcpLine(0, "[NEW]", 1, "120", "SYN_SENT", true, "", "")
	tests := []struct {
		name        string
		events      []model.Event // the last one is checked
		wantChanged bool
		want        string // the transition, "" when none
	}{{
		name: "the reply clears UNREPLIED",
		events: parseLines(t, syn,
			tcpLine(0.0004, "[UPDATE]", 1, "60", "SYN_RECV", false, "", "")),
		wantChanged: true,
		want:        `{"from":"SYN_SENT","to":"SYN_RECV","gained":[],"lost":["UNREPLIED"],"after_s":0.0004}`,
	}, {
		name: "UDP assured, no state",
		events: parseLines(t,
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(0.001, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
			udpLine(2.2, "[UPDATE]", 1, "10.0.0.9", "120", false, "", "[ASSURED]")),
		wantChanged: true,
		want:        `{"gained":["ASSURED"],"lost":[],"after_s":2.2}`,
	}, {
		name: "only the timeout changed",
		events: parseLines(t, syn,
			tcpLine(0.0004, "[UPDATE]", 1, "60", "SYN_RECV", false, "", ""),
			tcpLine(0.5, "[UPDATE]", 1, "59", "SYN_RECV", false, "", "")),
	}, {
		name: "the mark changed",
		events: parseLines(t,
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "mark=42"),
			udpLine(1, "[UPDATE]", 1, "10.0.0.9", "30", true, "", "mark=43 [USERSPACE] portid=5")),
		wantChanged: true,
		want:        `{"gained":[],"lost":[],"changed":["mark"],"after_s":1}`,
	}, {
		name: "an event without the mark is no change",
		events: parseLines(t,
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "mark=42"),
			udpLine(1, "[UPDATE]", 1, "10.0.0.9", "30", true, "", "")),
	}, {
		name: "labels and offload",
		events: parseLines(t,
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", false, "", "labels=red"),
			udpLine(1, "[UPDATE]", 1, "10.0.0.9", "30", false, "", "[OFFLOAD] labels=red,blue")),
		wantChanged: true,
		want:        `{"gained":["OFFLOAD"],"lost":[],"changed":["labels"],"after_s":1}`,
	}, {
		name: "other status bits by name, DYING ignored",
		events: func() []model.Event {
			evs := parseLines(t,
				udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
				udpLine(1, "[DESTROY]", 1, "10.0.0.9", "", false, "", "[ASSURED]"))
			evs[0].Entry.Status |= model.StatusConfirmed | model.StatusHelper
			evs[1].Entry.Status |= model.StatusConfirmed | model.StatusSrcNATDone | model.StatusDying
			return evs
		}(),
		wantChanged: true,
		want:        `{"gained":["ASSURED","SRC_NAT_DONE"],"lost":["UNREPLIED","HELPER"],"after_s":1}`,
	}, {
		name: "a DESTROY that changes nothing has no transition",
		events: parseLines(t,
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(30, "[DESTROY]", 1, "10.0.0.9", "", true, "", "")),
		wantChanged: true,
	}, {
		name: "a DESTROY that shows missed changes",
		events: parseLines(t, syn,
			tcpLine(9, "[DESTROY]", 1, "", "CLOSE", false, "", "[ASSURED]")),
		wantChanged: true,
		want:        `{"from":"SYN_SENT","to":"CLOSE","gained":["ASSURED"],"lost":["UNREPLIED"],"after_s":9}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := observe(t, New(testConfig()), tt.events)
			last := res[len(res)-1]
			if !last.Known {
				t.Fatal("Known = false for a tracked flow")
			}
			got := ""
			if last.HasTransition {
				got = jsonOf(&last.Transition)
			}
			if last.Changed != tt.wantChanged {
				t.Errorf("Changed = %v, want %v", last.Changed, tt.wantChanged)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("transition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownFlows(t *testing.T) {
	tr := New(testConfig())
	evs := parseLines(t,
		tcpLine(10, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),
		tcpLine(11, "[UPDATE]", 1, "120", "FIN_WAIT", false, "", "[ASSURED]"),
		tcpLine(20, "[DESTROY]", 2, "", "CLOSE", false, "", "[ASSURED]"),
		tcpLine(21, "[DESTROY]", 2, "", "CLOSE", false, "", "[ASSURED]"),
	)
	res := observe(t, tr, evs)
	type summary struct {
		Known, Changed, HasTransition bool
		Len                           int
		SeenFrom                      string
	}
	got := []summary{}
	for i, r := range res {
		s := summary{Known: r.Known, Changed: r.Changed, HasTransition: r.HasTransition}
		if evs[i].Type == model.EventDestroy {
			s.SeenFrom = r.Flow.SeenFrom.String()
		}
		got = append(got, s)
	}
	// Lens are checked through Stats below; the per-event Len is not kept.
	want := []summary{
		{Known: false, Changed: true},
		{Known: true, Changed: true, HasTransition: true},
		{Known: false, Changed: true, SeenFrom: "event"},
		{Known: false, Changed: true, SeenFrom: "event"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	st := tr.Stats()
	if st.Tracked != 1 || st.Adopted != 1 || st.Ended != 2 || st.Tombstones != 1 {
		t.Errorf("Stats() = %+v, want 1 tracked, 1 adopted, 2 ended, 1 tombstone", st)
	}
}

func TestOutOfOrder(t *testing.T) {
	tr := New(testConfig())
	res := observe(t, tr, parseLines(t,
		tcpLine(1, "[NEW]", 1, "120", "SYN_SENT", true, "", ""),
		tcpLine(0.5, "[UPDATE]", 1, "60", "SYN_RECV", false, "", ""), // earlier than the NEW
		tcpLine(2, "[DESTROY]", 1, "", "SYN_RECV", false, "", ""),
		tcpLine(1.5, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"), // overtaken by the DESTROY
		tcpLine(3, "[UPDATE]", 1, "432000", "ESTABLISHED", false, "", "[ASSURED]"),   // the flow again, NEW lost
	))
	if got := jsonOf(&res[1].Transition); got != `{"from":"SYN_SENT","to":"SYN_RECV","gained":[],"lost":["UNREPLIED"],"after_s":0}` {
		t.Errorf("transition of an UPDATE older than the NEW: %s", got)
	}
	if got := jsonOf(&res[2].Flow); got != `{"path":["SYN_SENT","SYN_RECV"],"duration_s":1,"reply_after_s":0,"outcome":"timeout","seen_from":"new"}` {
		t.Errorf("lifecycle: %s", got)
	}
	if res[3].Known || res[3].Changed || tr.Stats().Stale != 1 {
		t.Errorf("stale UPDATE: Known %v, Changed %v, Stale %d; want false, false, 1", res[3].Known, res[3].Changed, tr.Stats().Stale)
	}
	if res[4].Known || !res[4].Changed || tr.Len() != 1 || tr.Stats().Adopted != 1 {
		t.Errorf("later UPDATE: Known %v, Changed %v, Len %d, Adopted %d; want false, true, 1, 1", res[4].Known, res[4].Changed, tr.Len(), tr.Stats().Adopted)
	}
}

func TestIDReuse(t *testing.T) {
	tr := New(testConfig())
	evs := parseLines(t,
		udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(0.1, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
		// Its DESTROY is lost; the same tuple and id come back.
		udpLine(60, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
	)
	res := observe(t, tr, evs)
	if res[1].Ended != nil {
		t.Fatal("an UPDATE reported an inferred end")
	}
	ended := res[2].Ended
	if ended == nil {
		t.Fatal("a NEW for a live key reported no inferred end")
	}
	if diff := cmp.Diff(`{"duration_s":0.1,"reply_after_s":0.1,"outcome":"unknown","seen_from":"new","inferred":true}`, jsonOf(&ended.Flow)); diff != "" {
		t.Errorf("inferred lifecycle (-want +got):\n%s", diff)
	}
	if !ended.Time.Equal(evs[2].Time) {
		t.Errorf("inferred end time %v, want the NEW's %v", ended.Time, evs[2].Time)
	}
	if got := ended.Event(); got.Type != model.EventDestroy || got.Entry.ID != evs[0].Entry.ID {
		t.Errorf("Event() = %v id %d, want a destroy of id %d", got.Type, got.Entry.ID, evs[0].Entry.ID)
	}
	if res[2].Known {
		t.Error("the new flow is Known")
	}
	if tr.Len() != 1 || tr.Stats().Inferred != 1 {
		t.Errorf("Len() = %d, Inferred = %d, want 1, 1", tr.Len(), tr.Stats().Inferred)
	}
}

// TestDumpMerge: a flow created while the startup dump ran is both in the
// dump and announced by a queued NEW. The NEW merges into the seeded flow
// instead of ending it; once a live event touched the flow, a NEW for its
// key is again a re-creation.
func TestDumpMerge(t *testing.T) {
	tr := New(testConfig())
	dumped := parseLines(t, udpLine(1, "", 1, "10.0.0.9", "30", true, "", ""))[0]
	dumped.Type = model.EventSnapshot
	tr.Seed(&dumped)
	evs := parseLines(t,
		udpLine(0.5, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(0.7, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
		udpLine(2, "[DESTROY]", 1, "10.0.0.9", "", false, "", ""),
	)
	res := observe(t, tr, evs)
	if !res[0].Merged || !res[0].Known || res[0].Ended != nil {
		t.Fatalf("NEW of a dumped flow: Merged %v, Known %v, Ended %v; want merged, known, no end", res[0].Merged, res[0].Known, res[0].Ended)
	}
	// The NEW gives the flow its exact start: the lifecycle is no longer a
	// lower bound and counts from the NEW.
	if diff := cmp.Diff(`{"duration_s":1.5,"reply_after_s":0.2,"outcome":"timeout","seen_from":"new"}`, jsonOf(&res[2].Flow)); diff != "" {
		t.Errorf("lifecycle (-want +got):\n%s", diff)
	}
	if st := tr.Stats(); st.Merged != 1 || st.Inferred != 0 {
		t.Errorf("Merged %d, Inferred %d; want 1, 0", st.Merged, st.Inferred)
	}

	// A seeded flow that saw a live event is no longer the dump's alone.
	tr = New(testConfig())
	tr.Seed(&dumped)
	evs = parseLines(t,
		udpLine(1.5, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
		udpLine(60, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
	)
	res = observe(t, tr, evs)
	if res[1].Merged || res[1].Ended == nil {
		t.Errorf("NEW after a live event: Merged %v, Ended %v; want a re-creation with an inferred end", res[1].Merged, res[1].Ended)
	}
}

func TestUnrepliedRecord(t *testing.T) {
	tr := New(testConfig())
	evs := parseLines(t, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "mark=7"))
	observe(t, tr, evs)
	var got []string
	tr.Expire(base.Add(5*time.Second), func(u Unreplied) {
		var buf bytes.Buffer
		NewEncoder(&buf, func() time.Time { return u.Time }).Unreplied(&u)
		got = append(got, strings.TrimSpace(buf.String()))
	})
	want := []string{`{"level":"warn","time":"2026-11-22T04:00:05.000000000Z","event":"unreplied","seq":1,"run":"run-1","host":{"name":"host-1"},"flows":1,"family":"ipv4","proto":"udp","protonum":17,` +
		`"orig":{"src":"10.0.0.1","dst":"10.0.0.9","sport":1,"dport":53},"reply":{"src":"10.0.0.9","dst":"10.0.0.1","sport":53,"dport":1},"community_id":"1:whqK3rWKHAvvKsiX9vzePm3EDmc=",` +
		`"unreplied":true,"assured":false,"status":[],"mark":7,"id":2001,` +
		`"first_seen":"2026-11-22T04:00:00.000000000Z","age_s":5,"repeats":1,"repeats_since":"2026-11-22T04:00:00.000000000Z","seen_from":"new",` +
		`"hint":"no reply yet: the peer is down or unreachable, the reply is dropped (by a firewall, or by conntrack as INVALID: see nf_conntrack_log_invalid), or it takes another path; traffic that must bypass conntrack (heartbeats) belongs in the raw table with NOTRACK"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unreplied record (-want +got):\n%s", diff)
	}
}

func TestSeed(t *testing.T) {
	t.Run("without the kernel's start: lower bounds", func(t *testing.T) {
		tr := New(testConfig())
		snap := parseLines(t, tcpLine(0, "", 1, "431000", "ESTABLISHED", false, "packets=10 bytes=1000|packets=9 bytes=900", "[ASSURED]"))[0]
		snap.Time = base
		tr.Seed(&snap)
		res := observe(t, tr, parseLines(t,
			tcpLine(1, "[UPDATE]", 1, "120", "FIN_WAIT", false, "", "[ASSURED]"),
			tcpLine(2, "[UPDATE]", 1, "120", "TIME_WAIT", false, "", "[ASSURED]"),
			tcpLine(122, "[DESTROY]", 1, "", "TIME_WAIT", false, "packets=20 bytes=2000|packets=19 bytes=1900", "[ASSURED]"),
		))
		if !res[0].Known || !res[0].HasTransition {
			t.Errorf("the UPDATE of a seeded flow: Known %v, HasTransition %v", res[0].Known, res[0].HasTransition)
		}
		want := `{"path":["ESTABLISHED","FIN_WAIT","TIME_WAIT"],"duration_s":122,"outcome":"closed","seen_from":"snapshot","lower_bound":true,"orig_packets":20,"orig_bytes":2000,"reply_packets":19,"reply_bytes":1900}`
		if diff := cmp.Diff(want, jsonOf(&res[2].Flow)); diff != "" {
			t.Errorf("lifecycle (-want +got):\n%s", diff)
		}
	})
	t.Run("with the kernel's start: exact", func(t *testing.T) {
		tr := New(testConfig())
		snap := parseLines(t, udpLine(0, "", 1, "10.0.0.9", "25", true, "", "[start=Sun Nov 22 03:59:58 2026]"))[0]
		snap.Time = base
		tr.Seed(&snap)
		var ages []float64
		tr.Expire(base.Add(3*time.Second), func(u Unreplied) {
			ages = append(ages, u.Age.Seconds())
			if u.LowerBound || u.SeenFrom != SeenFromSnapshot {
				t.Errorf("LowerBound %v, SeenFrom %v, want false, snapshot", u.LowerBound, u.SeenFrom)
			}
		})
		if diff := cmp.Diff([]float64{5}, ages); diff != "" {
			t.Errorf("unreplied ages (-want +got):\n%s", diff)
		}
		res := observe(t, tr, parseLines(t,
			udpLine(30, "[DESTROY]", 1, "10.0.0.9", "", true, "", "[start=Sun Nov 22 03:59:58 2026] [stop=Sun Nov 22 04:00:29 2026]")))
		if diff := cmp.Diff(`{"duration_s":31,"outcome":"unreplied","seen_from":"snapshot"}`, jsonOf(&res[0].Flow)); diff != "" {
			t.Errorf("lifecycle (-want +got):\n%s", diff)
		}
	})
	t.Run("a tracked flow keeps its history", func(t *testing.T) {
		tr := New(testConfig())
		observe(t, tr, parseLines(t, udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", "")))
		snap := parseLines(t, udpLine(0, "", 1, "10.0.0.9", "29", false, "packets=1 bytes=40|packets=1 bytes=40", ""))[0]
		snap.Time = base.Add(time.Second)
		tr.Seed(&snap)
		res := observe(t, tr, parseLines(t, udpLine(30, "[DESTROY]", 1, "10.0.0.9", "", false, "", "")))
		// The reply came between the NEW and the dump, when is unknown.
		if diff := cmp.Diff(`{"duration_s":30,"outcome":"timeout","seen_from":"new","orig_packets":1,"orig_bytes":40,"reply_packets":1,"reply_bytes":40}`, jsonOf(&res[0].Flow)); diff != "" {
			t.Errorf("lifecycle (-want +got):\n%s", diff)
		}
	})
	t.Run("a flow that ended after the dump began is not revived", func(t *testing.T) {
		tr := New(testConfig())
		observe(t, tr, parseLines(t, udpLine(2, "[DESTROY]", 1, "10.0.0.9", "", false, "", "")))
		snap := parseLines(t, udpLine(0, "", 1, "10.0.0.9", "29", false, "", ""))[0]
		snap.Time = base.Add(time.Second)
		tr.Seed(&snap)
		if tr.Len() != 0 {
			t.Errorf("Len() = %d, want 0", tr.Len())
		}
		snap.Time = base.Add(3 * time.Second) // a later dump: a new flow
		tr.Seed(&snap)
		if tr.Len() != 1 {
			t.Errorf("Len() = %d, want 1", tr.Len())
		}
	})
}

func TestReconcile(t *testing.T) {
	tr := New(testConfig())
	observe(t, tr, parseLines(t,
		udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),  // gone, DESTROY lost
		udpLine(0, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),  // present in the dump
		udpLine(0, "[NEW]", 4, "10.0.0.9", "30", true, "", ""),  // ends while the dump runs
		udpLine(12, "[NEW]", 3, "10.0.0.9", "30", true, "", ""), // began after the dump did
		udpLine(12, "[DESTROY]", 4, "10.0.0.9", "", true, "", ""),
	))
	dump := parseLines(t,
		udpLine(0, "", 2, "10.0.0.9", "20", false, "packets=1 bytes=40|packets=1 bytes=40", ""),
		udpLine(0, "", 4, "10.0.0.9", "20", true, "", ""),
		udpLine(0, "", 5, "10.0.0.9", "20", true, "", "[start=Sun Nov 22 04:00:09 2026]"), // unknown to the tracker
	)
	present := func(yield func(*model.Entry) bool) {
		for i := range dump {
			if !yield(&dump[i].Entry) {
				return
			}
		}
	}
	var inferred []string
	tr.Reconcile(present, base.Add(10*time.Second), func(in Inferred) {
		inferred = append(inferred, fmt.Sprintf("%d %s", in.Entry.Orig.SrcPort, jsonOf(&in.Flow)))
	})
	if err := tr.check(); err != nil {
		t.Fatal(err)
	}
	want := []string{`1 {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`}
	if diff := cmp.Diff(want, inferred); diff != "" {
		t.Errorf("inferred ends (-want +got):\n%s", diff)
	}
	if tr.Len() != 3 {
		t.Errorf("Len() = %d, want 3 (flows 2, 3 and 5)", tr.Len())
	}
	// A second dump that lists none of them ends them all, with what the
	// first dump said.
	inferred = nil
	tr.Reconcile(func(func(*model.Entry) bool) {}, base.Add(20*time.Second), func(in Inferred) {
		inferred = append(inferred, fmt.Sprintf("%d %s", in.Entry.Orig.SrcPort, jsonOf(&in.Flow)))
	})
	want = []string{
		`2 {"duration_s":0,"outcome":"unknown","seen_from":"new","inferred":true,"orig_packets":1,"orig_bytes":40,"reply_packets":1,"reply_bytes":40}`,
		`3 {"duration_s":0,"outcome":"unreplied","seen_from":"new","inferred":true}`,
		`5 {"duration_s":1,"outcome":"unreplied","seen_from":"snapshot","inferred":true}`,
	}
	if diff := cmp.Diff(want, inferred); diff != "" {
		t.Errorf("inferred ends (-want +got):\n%s", diff)
	}
	if st := tr.Stats(); st.Tracked != 0 || st.Inferred != 4 || st.Seeded != 1 {
		t.Errorf("Stats() = %+v, want 0 tracked, 4 inferred, 1 seeded", st)
	}
}

// TestReconcileHalves: a DESTROY that waited in the event socket while the
// dump ran ends its flow as reported; the sweep infers only the ends that
// no event brought.
func TestReconcileHalves(t *testing.T) {
	tr := New(testConfig())
	observe(t, tr, parseLines(t,
		udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""), // deleted before the dump; DESTROY queued
		udpLine(0, "[NEW]", 2, "10.0.0.9", "30", true, "", ""), // gone, DESTROY lost
	))
	tr.BeginReconcile(func(func(*model.Entry) bool) {}, base.Add(10*time.Second))
	if tr.Stats().Inferred != 0 {
		t.Fatalf("BeginReconcile inferred %d ends, want none before EndReconcile", tr.Stats().Inferred)
	}
	res := observe(t, tr, parseLines(t,
		udpLine(9, "[DESTROY]", 1, "10.0.0.9", "", true, "", ""),
		udpLine(11, "[NEW]", 3, "10.0.0.9", "30", true, "", ""), // began after the dump did
	))
	if !res[0].Known || res[0].Flow.Inferred || res[0].Flow.SeenFrom != SeenFromNew {
		t.Errorf("the queued DESTROY: known %v, flow %+v; want the tracked flow's reported end", res[0].Known, res[0].Flow)
	}
	var inferred []uint16
	tr.EndReconcile(func(in Inferred) { inferred = append(inferred, in.Entry.Orig.SrcPort) })
	if diff := cmp.Diff([]uint16{2}, inferred); diff != "" {
		t.Errorf("inferred ends (-want +got):\n%s", diff)
	}
	if err := tr.check(); err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 1 {
		t.Errorf("Len() = %d, want 1 (flow 3)", tr.Len())
	}
	// Without a BeginReconcile, EndReconcile ends nothing, not even a flow
	// last seen before the previous dump began, which a sweep would end.
	observe(t, tr, parseLines(t, udpLine(5, "[NEW]", 4, "10.0.0.9", "30", true, "", "")))
	tr.EndReconcile(func(in Inferred) { t.Errorf("EndReconcile alone inferred %v", in.Entry.Orig) })
	if tr.Len() != 2 {
		t.Errorf("Len() = %d, want 2 (flows 3 and 4)", tr.Len())
	}
}

func TestPath(t *testing.T) {
	var r record
	states := []model.State{1, 2, 2, 3}
	for i := 0; i < 30; i++ {
		states = append(states, model.State(4+i%2))
	}
	states = append(states, 7, 200)
	for _, s := range states {
		r.pushState(s)
	}
	p := r.pathValue()
	want := []model.State{1, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 15}
	if diff := cmp.Diff(want, p.States()); diff != "" {
		t.Errorf("path (-want +got):\n%s", diff)
	}
	if !p.Truncated() {
		t.Error("Truncated() = false")
	}
	l := Lifecycle{Proto: model.ProtoTCP, Path: p}
	if got, want := jsonOf(&l), `{"path":["SYN_SENT","SYN_RECV","ESTABLISHED","FIN_WAIT","CLOSE_WAIT","FIN_WAIT","CLOSE_WAIT","FIN_WAIT","CLOSE_WAIT","FIN_WAIT","CLOSE_WAIT","FIN_WAIT","CLOSE_WAIT","FIN_WAIT","CLOSE_WAIT","15"],"path_truncated":true,"outcome":"unknown","seen_from":"new"}`; got != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
}

// TestDumpBeyondBound: a dump that lists more entries than MaxFlows, as a
// big table under a small --max-flows does at every reconciliation, evicts
// none of the flows the events brought, again and again; what it cannot
// track it counts.
func TestDumpBeyondBound(t *testing.T) {
	cfg := testConfig()
	cfg.MaxFlows = 10
	tr := New(cfg)
	var live []string
	for p := 1; p <= 5; p++ {
		live = append(live, udpLine(0, "[NEW]", p, "10.0.0.9", "30", true, "", ""))
	}
	observe(t, tr, parseLines(t, live...))
	// The dump lists the 5 live flows and 95 others.
	var lines []string
	for p := 1; p <= 100; p++ {
		lines = append(lines, udpLine(0, "", p, "10.0.0.9", "20", true, "", ""))
	}
	dump := parseLines(t, lines...)
	present := func(yield func(*model.Entry) bool) {
		for i := range dump {
			if !yield(&dump[i].Entry) {
				return
			}
		}
	}
	for round := 1; round <= 3; round++ {
		var inferred int
		tr.Reconcile(present, base.Add(time.Duration(round)*10*time.Second), func(Inferred) { inferred++ })
		if err := tr.check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st := tr.Stats()
		type counts struct {
			Tracked, Inferred                   int
			Evicted, Seeded, SkippedFull, Ended uint64
		}
		// The first dump seeds 5 entries to reach the bound and skips 90;
		// each later one skips 90 again and changes nothing else.
		want := counts{Tracked: 10, Seeded: 5, SkippedFull: 90 * uint64(round)}
		got := counts{Tracked: st.Tracked, Inferred: inferred, Evicted: st.Evicted, Seeded: st.Seeded, SkippedFull: st.SkippedFull, Ended: st.Ended}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round %d (-want +got):\n%s", round, diff)
		}
	}
	// The flows the events brought are all still tracked: their DESTROYs
	// end them with the lifecycle that began at their NEW.
	for p := 1; p <= 5; p++ {
		res := observe(t, tr, parseLines(t, udpLine(40, "[DESTROY]", p, "10.0.0.9", "", true, "", "")))
		if res[0].Flow.SeenFrom != SeenFromNew {
			t.Errorf("flow %d ends seen from %v, want new (it was evicted)", p, res[0].Flow.SeenFrom)
		}
	}
}
