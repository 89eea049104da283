package flow

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUnrepliedDetector(t *testing.T) {
	type warning struct {
		Sport   uint16
		AgeS    float64
		Repeats int
		Since   float64 // seconds after base
	}
	// expire is a step that runs the detector s seconds after base.
	expire := func(s float64) string { return fmt.Sprintf("expire %v", s) }
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []string // event lines and expire steps
		want  []warning
	}{{
		name: "once, after the delay",
		steps: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			expire(4.999), expire(5), expire(6), expire(60),
		},
		want: []warning{{Sport: 1, AgeS: 5, Repeats: 1}},
	}, {
		name: "not for an answered flow",
		steps: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(4, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""),
			expire(60),
		},
	}, {
		name: "not for a flow that ended",
		steps: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(1, "[DESTROY]", 1, "10.0.0.9", "", true, "", ""),
			expire(60),
		},
	}, {
		name:  "disabled",
		cfg:   func(c *Config) { c.UnrepliedAfter = 0 },
		steps: []string{udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""), expire(60)},
	}, {
		name: "a heartbeat's repeats",
		steps: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(1, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
			udpLine(2, "[NEW]", 3, "10.0.0.8", "30", true, "", ""), // another destination
			udpLine(3, "[NEW]", 4, "10.0.0.9", "30", true, "", ""),
			expire(5.5), expire(8),
		},
		want: []warning{
			{Sport: 1, AgeS: 5.5, Repeats: 1},
			{Sport: 2, AgeS: 7, Repeats: 2},
			{Sport: 3, AgeS: 6, Repeats: 1, Since: 2},
			{Sport: 4, AgeS: 5, Repeats: 3},
		},
	}, {
		name: "a run ends after the window",
		cfg:  func(c *Config) { c.RepeatWindow = time.Minute },
		steps: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			udpLine(50, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
			udpLine(111, "[NEW]", 3, "10.0.0.9", "30", true, "", ""),
			expire(200),
		},
		want: []warning{
			{Sport: 1, AgeS: 200, Repeats: 1},
			{Sport: 2, AgeS: 150, Repeats: 2},
			{Sport: 3, AgeS: 89, Repeats: 1, Since: 111},
		},
	}, {
		name: "a reply from the destination ends the run",
		steps: []string{
			udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
			expire(5),
			udpLine(6, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
			udpLine(6.1, "[UPDATE]", 2, "10.0.0.9", "30", false, "", ""),
			udpLine(7, "[NEW]", 3, "10.0.0.9", "30", true, "", ""),
			expire(20),
		},
		want: []warning{
			{Sport: 1, AgeS: 5, Repeats: 1},
			{Sport: 3, AgeS: 13, Repeats: 1, Since: 7},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			tr := New(cfg)
			var got []warning
			emit := func(u Unreplied) {
				got = append(got, warning{Sport: u.Entry.Orig.SrcPort, AgeS: u.Age.Seconds(), Repeats: u.Repeats,
					Since: u.RepeatsSince.Sub(base).Seconds()})
			}
			for _, step := range tt.steps {
				if v, ok := strings.CutPrefix(step, "expire "); ok {
					var s float64
					fmt.Sscan(v, &s)
					tr.Expire(base.Add(time.Duration(s*float64(time.Second))), emit)
				} else {
					observe(t, tr, parseLines(t, step))
				}
				if err := tr.check(); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if st := tr.Stats(); st.UnrepliedWarnings != uint64(len(tt.want)) {
				t.Errorf("Stats().UnrepliedWarnings = %d, want %d", st.UnrepliedWarnings, len(tt.want))
			}
		})
	}
}

func TestDestinationsBound(t *testing.T) {
	cfg := testConfig()
	cfg.MaxDestinations = 2
	tr := New(cfg)
	observe(t, tr, parseLines(t,
		udpLine(0, "[NEW]", 1, "10.0.0.7", "30", true, "", ""),
		udpLine(0, "[NEW]", 2, "10.0.0.8", "30", true, "", ""),
		udpLine(0, "[NEW]", 3, "10.0.0.9", "30", true, "", ""),
		udpLine(1, "[NEW]", 4, "10.0.0.7", "30", true, "", ""),
	))
	var repeats []int
	tr.Expire(base.Add(time.Minute), func(u Unreplied) { repeats = append(repeats, u.Repeats) })
	// 10.0.0.7 was forgotten to make room for 10.0.0.9.
	if diff := cmp.Diff([]int{1, 1, 1, 1}, repeats); diff != "" {
		t.Errorf("repeats (-want +got):\n%s", diff)
	}
	if st := tr.Stats(); st.Destinations != 2 || st.DestinationsEvicted != 2 {
		t.Errorf("Stats() = %+v, want 2 destinations, 2 evicted", st)
	}
}

// TestNextExpiry holds NextExpiry to the oldest unanswered flow's due time,
// to the end of an interval holding summarised flows, and to nothing once
// neither waits.
func TestNextExpiry(t *testing.T) {
	type due struct {
		OK   bool
		AtS  float64 // seconds after base
		Step string
	}
	at := func(tr *Tracker, step string) due {
		d, ok := tr.NextExpiry()
		if !ok {
			return due{Step: step}
		}
		return due{OK: true, AtS: d.Sub(base).Seconds(), Step: step}
	}
	cfg := testConfig()
	cfg.UnrepliedBurst = 1
	tr := New(cfg)
	var got []due
	got = append(got, at(tr, "empty"))
	observe(t, tr, parseLines(t,
		udpLine(1, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(2, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
		udpLine(3, "[NEW]", 3, "10.0.0.9", "30", true, "", ""),
	))
	got = append(got, at(tr, "three unanswered"))
	observe(t, tr, parseLines(t, udpLine(3.5, "[UPDATE]", 1, "10.0.0.9", "30", false, "", "")))
	got = append(got, at(tr, "the first answered"))
	now := base.Add(10 * time.Second)
	tr.ExpireSummary(now, func(*UnrepliedSummary) {})
	tr.Expire(now, func(Unreplied) {})
	// One warned within the burst, the other summarised into the
	// interval that opened at 10 s.
	got = append(got, at(tr, "one summarised"))
	end := now.Add(cfg.UnrepliedInterval)
	tr.ExpireSummary(end, func(*UnrepliedSummary) {})
	got = append(got, at(tr, "summary out"))
	iv := cfg.UnrepliedInterval.Seconds()
	want := []due{
		{Step: "empty"},
		{OK: true, AtS: 1 + cfg.UnrepliedAfter.Seconds(), Step: "three unanswered"},
		{OK: true, AtS: 2 + cfg.UnrepliedAfter.Seconds(), Step: "the first answered"},
		{OK: true, AtS: 10 + iv, Step: "one summarised"},
		{Step: "summary out"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("next expiry (-want +got):\n%s", diff)
	}
}
