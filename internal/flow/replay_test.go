package flow

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// loadSequence reads a recorded event sequence: conntrack -E text (any -o
// form model.ParseText reads) or, for .jsonl files, ctwatch JSON records.
// Comment lines carry the recording's provenance and are skipped.
func loadSequence(tb testing.TB, path string) []model.Event {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var evs []model.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if model.IsSkippable(line) {
			continue
		}
		var ev model.Event
		if strings.HasSuffix(path, ".jsonl") {
			ev, err = ParseRecord([]byte(line))
		} else {
			ev, _, err = model.ParseText(line, time.UTC)
		}
		if err != nil {
			tb.Fatalf("%s:%d: %v", path, n, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return evs
}

// parseLines parses conntrack -E text lines written in a test.
func parseLines(tb testing.TB, lines ...string) []model.Event {
	tb.Helper()
	evs := make([]model.Event, 0, len(lines))
	for _, l := range lines {
		ev, _, err := model.ParseText(l, time.UTC)
		if err != nil {
			tb.Fatalf("%q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// recorder writes the records the watch loop writes for what the tracker
// reports, with the encoder the loop uses.
type recorder struct {
	enc Encoder
	log zerolog.Logger // for the tracker's stats, which ctwatch does not write
	now time.Time      // the encoder's clock
}

// newRecorder returns a recorder writing into w.
func newRecorder(w io.Writer) *recorder {
	r := &recorder{log: zerolog.New(w)}
	r.enc = NewEncoder(w, func() time.Time { return r.now })
	return r
}

// event writes an event's record: with "transition" when a tracked flow
// changed, with "flow" on DESTROY; an UPDATE that changed nothing is not
// written (--updates changes). An inferred end the event revealed comes
// first.
func (r *recorder) event(ev *model.Event, res *Result) {
	if res.Ended != nil {
		r.inferred(*res.Ended)
	}
	if ev.Type == model.EventUpdate && !res.Changed {
		return
	}
	r.enc.Entry(ev, res)
}

func (r *recorder) inferred(in Inferred) {
	r.enc.Inferred(&in)
}

func (r *recorder) unreplied(u Unreplied) {
	// The watch loop's clock is the detector's now.
	r.now = u.Time
	r.enc.Unreplied(&u)
}

// summary writes an unreplied summary in the shape of the tracker's stats:
// the record schema of summaries is internal/record's.
func (r *recorder) summary(s *UnrepliedSummary) {
	z := r.log.Warn().Str("event", "unreplied_summary").Time("time", s.Time).Time("since", s.Since).
		Uint64("flows", s.Flows).Int("destinations", s.Destinations)
	a := zerolog.Arr()
	for _, d := range s.Top {
		a.Str(fmt.Sprintf("%s %s:%d %d", d.Proto, d.Addr, d.Port, d.Flows))
	}
	z.Array("top", a).Send()
}

func (r *recorder) stats(s Stats) {
	r.log.Info().Str("event", "stats").Int("tracked", s.Tracked).Int("tombstones", s.Tombstones).
		Uint64("new", s.New).Uint64("adopted", s.Adopted).Uint64("seeded", s.Seeded).
		Uint64("ended", s.Ended).Uint64("inferred", s.Inferred).Uint64("evicted", s.Evicted).
		Uint64("unchanged", s.Unchanged).Uint64("stale", s.Stale).Uint64("unreplied_warnings", s.UnrepliedWarnings).Uint64("unreplied_summarised", s.UnrepliedSummarised).
		Int("destinations", s.Destinations).Send()
}

// tick is how often the watch loop runs the unreplied detector.
const tick = 250 * time.Millisecond

// replay feeds evs to tr as the watch loop would, running the unreplied
// detector every tick of the events' clock, and writes the records to rec.
// A minute after the last event it reconciles with an empty dump, as if
// the table had been found empty: flows still tracked end as inferred.
func replay(tr *Tracker, evs []model.Event, rec *recorder) {
	var next time.Time // the detector's next tick
	advance := func(to time.Time) {
		if next.IsZero() {
			next = to.Truncate(tick).Add(tick)
		}
		for ; !next.After(to); next = next.Add(tick) {
			tr.ExpireSummary(next, rec.summary)
			tr.Expire(next, rec.unreplied)
		}
	}
	var last time.Time
	for i := range evs {
		ev := &evs[i]
		if !ev.Time.IsZero() {
			advance(ev.Time)
			last = ev.Time
		}
		res := tr.Observe(ev)
		rec.event(ev, &res)
	}
	end := last.Add(time.Minute)
	advance(end)
	tr.Reconcile(func(func(*model.Entry) bool) {}, end, rec.inferred)
	tr.FlushSummary(end, rec.summary)
	rec.stats(tr.Stats())
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.MaxFlows = 1024
	return cfg
}

// TestGolden replays every recorded sequence under testdata/sequences and
// compares the records written with testdata/golden/NAME.jsonl.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/sequences/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no sequences")
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			rec := newRecorder(&buf)
			replay(New(testConfig()), loadSequence(t, path), rec)
			golden := filepath.Join("testdata", "golden", name+".jsonl")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(buf.String(), "\n")); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
