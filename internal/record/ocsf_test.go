package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var ocsfNow = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

// ocsfEncoder returns an OCSF encoder writing to w at the given level.
func ocsfEncoder(w io.Writer, level zerolog.Level) *record.Encoder {
	return record.New(record.Config{Schema: record.OCSF, Log: zerolog.New(w).Level(level),
		Clock: func() time.Time { return ocsfNow }, Run: "run1", Host: "node1", Version: "v0.1.0"})
}

// ocsfCase writes one record.
type ocsfCase struct {
	name  string
	debug bool // the logger at debug level rather than info
	write func(*record.Encoder)
}

// destroyWith returns a tracked flow's DESTROY, its lifecycle's outcome
// set to o.
func destroyWith(o flow.Outcome) (model.Event, flow.Result) {
	evs, res := trackedFlow(model.TCPSynSent, model.TCPSynRecv, model.TCPEstablished, model.TCPFinWait, model.TCPLastAck, model.TCPTimeWait)
	ev, r := evs[len(evs)-1], res[len(res)-1]
	r.Flow.Outcome = o
	return ev, r
}

// ocsfCases covers every record kind and every classification of an
// entry.
func ocsfCases(t testing.TB) []ocsfCase {
	evs, res := trackedFlow(model.TCPSynSent, model.TCPSynRecv, model.TCPEstablished, model.TCPFinWait, model.TCPLastAck, model.TCPTimeWait)
	full := fullEvent()
	fullRes := flow.Result{Flow: flow.Lifecycle{Proto: model.ProtoTCP, Outcome: flow.OutcomeDeleted, SeenFrom: flow.SeenFromEvent,
		Duration: 99123 * time.Millisecond, DurationKnown: true, HasCounters: true, OrigPackets: 10, OrigBytes: 1000, ReplyPackets: 8, ReplyBytes: 9000}}
	icmp, _, err := model.ParseText("[1795318599.887116]\t    [NEW] ipv6     10 icmpv6   58 30 src=::1 dst=::1 type=128 code=0 id=2232 [UNREPLIED] src=::1 dst=::1 type=129 code=0 id=2232 id=2711846847", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	unknown, _, err := model.ParseText("unknown  253 599 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := evs[2]
	snapshot.Type = model.EventSnapshot
	snapshot.Entry.Fields |= model.FieldOrigCounters | model.FieldReplyCounters
	snapshot.Entry.Orig.Packets, snapshot.Entry.Orig.Bytes, snapshot.Entry.Reply.Packets, snapshot.Entry.Reply.Bytes = 3, 180, 2, 120

	cases := []ocsfCase{
		{name: "new", write: func(e *record.Encoder) { e.Entry(&evs[0], &res[0]) }},
		{name: "update", write: func(e *record.Encoder) { e.Entry(&evs[2], &res[2]) }},
		{name: "snapshot", write: func(e *record.Encoder) { e.Entry(&snapshot, nil) }},
		{name: "destroy every field", write: func(e *record.Encoder) { e.Entry(&full, &fullRes) }},
		{name: "destroy untracked", write: func(e *record.Encoder) { e.Entry(&evs[len(evs)-1], nil) }},
		{name: "icmpv6 new", write: func(e *record.Encoder) { e.Entry(&icmp, nil) }},
		{name: "sctp vtags", write: func(e *record.Encoder) { ev := sctpEvent(); e.Entry(&ev, nil) }},
		{name: "dccp role", write: func(e *record.Encoder) { ev := dccpEvent(); e.Entry(&ev, nil) }},
		{name: "parse unknown protocol", write: func(e *record.Encoder) { e.Event(&unknown) }},
		{name: "parse", write: func(e *record.Encoder) { e.Event(&full) }},
	}
	for _, o := range []flow.Outcome{flow.OutcomeClosed, flow.OutcomeTimeout, flow.OutcomeDeleted, flow.OutcomeUnknown,
		flow.OutcomeReset, flow.OutcomeUnreplied, flow.OutcomeRejected} {
		ev, r := destroyWith(o)
		cases = append(cases, ocsfCase{name: "destroy " + o.String(), write: func(e *record.Encoder) { e.Entry(&ev, &r) }})
	}
	inferred := flow.Inferred{Entry: evs[2].Entry, Time: ocsfNow, Reason: flow.InferReconcile, Flow: res[len(res)-1].Flow}
	inferred.Flow.Inferred, inferred.Flow.Outcome = true, flow.OutcomeTimeout
	inferredStart := inferred
	inferredStart.Entry.Fields |= model.FieldStart
	inferredStart.Entry.Start = flowStart
	unreplied := flow.Unreplied{Entry: icmp.Entry, Time: ocsfNow, FirstSeen: ocsfNow.Add(-30 * time.Second), Age: 30 * time.Second,
		Repeats: 3, RepeatsSince: ocsfNow.Add(-90 * time.Second), SeenFrom: flow.SeenFromSnapshot, LowerBound: true}
	delta := ctstat.CPUStats{}
	delta[ctstat.Drop], delta[ctstat.Invalid], delta[ctstat.Found] = 3, 1, 7
	healthAt := time.Date(2026, 11, 22, 10, 0, 0, 5, time.UTC)
	top := &health.Top{Src: []health.SrcCount{{Addr: addr("10.0.0.9"), Entries: 40}},
		DPort: []health.PortCount{{Proto: model.ProtoTCP, Port: 443, Entries: 30}}, Scanned: 100, Sampled: true}
	reading := ctstat.Reading{Time: healthAt, Count: 3, Max: 12, Buckets: 8,
		PerCPU: []ctstat.CPU{{ID: 0, Stats: ctstat.CPUStats{ctstat.Found: 1}}, {ID: 1, Stats: ctstat.CPUStats{ctstat.Drop: 2}}},
		Sum:    ctstat.CPUStats{ctstat.Found: 1, ctstat.Drop: 2}}
	cases = append(cases, []ocsfCase{
		{name: "inferred destroy", write: func(e *record.Encoder) { e.Inferred(&inferred) }},
		{name: "inferred destroy with start", write: func(e *record.Encoder) { e.Inferred(&inferredStart) }},
		{name: "unreplied", write: func(e *record.Encoder) { e.Unreplied(&unreplied) }},
		{name: "unreplied summary", write: func(e *record.Encoder) { s := scanSummary(ocsfNow); e.UnrepliedSummary(&s) }},
		{name: "unreplied summary capped", write: func(e *record.Encoder) { s := cappedSummary(ocsfNow); e.UnrepliedSummary(&s) }},
		{name: "start", write: func(e *record.Encoder) {
			e.Start(&record.Start{Version: "v0.1.0", NetNS: "ns1", Events: "new,destroy", BufferRequested: 1 << 20, BufferSize: 2 << 20,
				Filter: "proto tcp", Text: true, Updates: "changes", MaxFlows: 100, UnrepliedAfter: 1500 * time.Millisecond, CTEvents: 1,
				Metrics: "127.0.0.1:9100"})
		}},
		{name: "start defaults", write: func(e *record.Encoder) { e.Start(&record.Start{Version: "v0.1.0", CTEvents: -1}) }},
		{name: "start kernel filter", write: func(e *record.Encoder) {
			e.Start(&record.Start{Version: "v0.1.0", Filter: "--proto=udp --dport=694", FilterKernel: "--proto=udp --dport=694", FilterUser: "any", FilterProgram: 32, CTEvents: -1})
		}},
		{name: "stop", write: func(e *record.Encoder) {
			e.Stop(&record.Totals{New: 1, Update: 2, Destroy: 3, Snapshot: 4, Written: 5, Filtered: 6, Suppressed: 7, Merged: 8,
				LostKernel: 9, LostOutput: 11, DecodeErrors: 12, UnrepliedWarnings: 13, FlowsEvicted: 14, Inferred: 15,
				UnrepliedSummarised: 16})
		}},
		{name: "heartbeat", write: func(e *record.Encoder) {
			e.Heartbeat(&record.Heartbeat{Uptime: 90*time.Second + 1500*time.Microsecond, New: 1, Update: 2, Destroy: 3, Written: 10,
				LostKernel: 4, LostOutput: 5, QueueDepth: 6})
		}},
		{name: "events disabled", write: func(e *record.Encoder) { e.EventsDisabled() }},
		{name: "events on demand", write: func(e *record.Encoder) { e.EventsOnDemand() }},
		{name: "dump", write: func(e *record.Encoder) { e.Dump(&record.Dump{Entries: 3, Took: 250 * time.Millisecond}) }},
		{name: "dump expectations", write: func(e *record.Encoder) {
			e.Dump(&record.Dump{Entries: 3, Took: 250 * time.Millisecond, ExpectDumped: true, Expectations: 2})
		}},
		{name: "dump failed", write: func(e *record.Encoder) {
			e.Dump(&record.Dump{Entries: 1, Took: time.Second, Err: errors.New("dump: interrupted")})
		}},
		{name: "reconcile", debug: true, write: func(e *record.Encoder) {
			e.Reconcile(&record.Reconcile{Reason: "gap", Entries: 5, Inferred: 2, Took: 12 * time.Millisecond})
		}},
		{name: "reconcile failed", write: func(e *record.Encoder) {
			e.Reconcile(&record.Reconcile{Reason: "periodic", Err: errors.New("dump: timeout")})
		}},
		{name: "gap kernel", write: func(e *record.Encoder) { e.Gap(&record.Gap{Stage: record.StageKernel, Lost: 5, Total: 9, ENOBUFS: 2}) }},
		{name: "gap output", write: func(e *record.Encoder) { e.Gap(&record.Gap{Stage: record.StageOutput, Lost: 1, Total: 1}) }},
		{name: "decode error", write: func(e *record.Encoder) { e.DecodeError(errors.New("decode: short attribute"), []byte{1, 2, 0xff}) }},
		{name: "decode error debug", debug: true, write: func(e *record.Encoder) {
			e.DecodeError(errors.New("decode: short attribute"), []byte{1, 2, 0xff})
		}},
		{name: "flows evicted", write: func(e *record.Encoder) { e.FlowsEvicted(&record.FlowsEvicted{Evicted: 3, Total: 10, MaxFlows: 100}) }},
		{name: "stats error", write: func(e *record.Encoder) { e.StatsError(errors.New("stats: timeout")) }},
		{name: "health stats", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindStats, Time: healthAt, Count: 700, Max: 1000, Buckets: 256, Fill: 70,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true})
		}},
		{name: "health stats first", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindStats, Time: healthAt, Count: 1, Max: 3, Buckets: 256, Fill: 33.333333})
		}},
		{name: "table pressure", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindTablePressure, Time: healthAt, Count: 900, Max: 1000, Fill: 90, Threshold: 80, Top: top})
		}},
		{name: "table pressure full", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindTablePressure, Time: healthAt, Count: 1000, Max: 1000, Fill: 100, Threshold: 95,
				TopErr: errors.New("dump: timeout")})
		}},
		{name: "table pressure cleared", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindTablePressureCleared, Time: healthAt, Count: 700, Max: 1000, Fill: 70, Threshold: 80})
		}},
		{name: "drops", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindDrops, Time: healthAt, Count: 1000, Max: 1000, Fill: 100,
				Interval: 10 * time.Second, Delta: delta, HasDelta: true, Hint: "h"})
		}},
		{name: "not tracking", write: func(e *record.Encoder) {
			e.Health(&health.Record{Kind: health.KindNotTracking, Time: healthAt, Max: 1000, Hint: "h"})
		}},
		{name: "stats reading", write: func(e *record.Encoder) { e.Reading(&reading, false) }},
		{name: "stats reading per cpu", write: func(e *record.Encoder) { e.Reading(&reading, true) }},
	}...)
	return append(append(append(cases, faultOCSFCases()...), netnsOCSFCases(t)...), expectOCSFCases(t)...)
}

// writeOCSF returns what c writes, one record.
func writeOCSF(t testing.TB, c ocsfCase) []byte {
	t.Helper()
	var buf bytes.Buffer
	level := zerolog.InfoLevel
	if c.debug {
		level = zerolog.DebugLevel
	}
	c.write(ocsfEncoder(&buf, level))
	if n := len(linesOf(buf.Bytes())); n != 1 {
		t.Fatalf("%s: %d records, want 1: %s", c.name, n, buf.Bytes())
	}
	return buf.Bytes()
}

// TestOCSFGolden pins every record kind's OCSF form in
// testdata/ocsf-golden (rewritten with -update).
func TestOCSFGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range ocsfCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := writeOCSF(t, c)
			var indented bytes.Buffer
			if err := json.Indent(&indented, got, "", "  "); err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			name := strings.ReplaceAll(c.name, " ", "_") + ".json"
			if seen[name] {
				t.Fatalf("two cases named %s", name)
			}
			seen[name] = true
			path := filepath.Join("testdata", "ocsf-golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), indented.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestOCSFFixtures checks every record kind against the OCSF reference.
func TestOCSFFixtures(t *testing.T) {
	ref := loadOCSFRef(t)
	for _, c := range ocsfCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := writeOCSF(t, c)
			rec, err := decodeJSON(got)
			if err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			if errs := ref.check(rec); len(errs) > 0 {
				t.Errorf("%s\n%s", strings.Join(errs, "\n"), got)
			}
		})
	}
}

// TestOCSFFixtureCheck makes sure the fixture check fails where it should:
// a check that passes everything proves nothing.
func TestOCSFFixtureCheck(t *testing.T) {
	ref := loadOCSFRef(t)
	var buf bytes.Buffer
	ev, res := destroyWith(flow.OutcomeClosed)
	ocsfEncoder(&buf, zerolog.InfoLevel).Entry(&ev, &res)
	tests := []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"unknown attribute", func(m map[string]any) { m["level"] = "info" }, "network_activity.level: no such attribute"},
		{"time in seconds", func(m map[string]any) { m["time"] = json.Number("1795322291") }, "network_activity.time: 1795322291 outside"},
		{"port out of range", func(m map[string]any) { m["src_endpoint"].(map[string]any)["port"] = json.Number("70000") }, "src_endpoint.port: 70000 outside"},
		{"required missing", func(m map[string]any) { delete(m, "severity_id") }, "network_activity.severity_id: required"},
		{"required in object", func(m map[string]any) { delete(m["connection_info"].(map[string]any), "direction_id") }, "direction_id: required"},
		{"enum value", func(m map[string]any) { m["activity_id"] = json.Number("8"); m["type_uid"] = json.Number("400108") }, "activity_id: 8 is not among"},
		{"other without caption", func(m map[string]any) {
			m["activity_id"], m["type_uid"] = json.Number("99"), json.Number("400199")
			delete(m, "activity_name")
		}, "99 Other without a caption"},
		{"type_uid", func(m map[string]any) { m["type_uid"] = json.Number("400101") }, "type_uid: 400101, want 400102"},
		{"string for integer", func(m map[string]any) { m["connection_info"].(map[string]any)["protocol_num"] = "6" }, "protocol_num: 6 is not an integer"},
		{"not an address", func(m map[string]any) { m["dst_endpoint"].(map[string]any)["ip"] = "host" }, "is not an address"},
		{"profile not listed", func(m map[string]any) { m["metadata"].(map[string]any)["profiles"] = []any{} }, "device: of profile \"host\""},
		{"integer_t overflow", func(m map[string]any) { m["metadata"].(map[string]any)["sequence"] = json.Number("2147483648") }, "sequence: 2147483648 outside"},
		{"no endpoint", func(m map[string]any) { delete(m, "src_endpoint"); delete(m, "dst_endpoint") }, "at_least_one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := decodeJSON(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if errs := ref.check(rec); len(errs) > 0 {
				t.Fatalf("the record itself fails: %v", errs)
			}
			tt.change(rec)
			errs := strings.Join(ref.check(rec), "\n")
			if !strings.Contains(errs, tt.want) {
				t.Errorf("errors %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

// TestOCSFOneTypePerPath holds D25: a path has one JSON type across every
// record kind, so that an index (or a lake's table) maps it once.
func TestOCSFOneTypePerPath(t *testing.T) {
	types, where := map[string]string{}, map[string]string{}
	for _, c := range ocsfCases(t) {
		rec, err := decodeJSON(writeOCSF(t, c))
		if err != nil {
			t.Fatal(err)
		}
		for _, clash := range jsonTypes(types, where, "", rec, c.name) {
			t.Error(clash)
		}
	}
	if len(types) < 100 {
		t.Errorf("only %d paths seen: the cases write less than they should", len(types))
	}
}

// TestOCSFEnvelope checks the envelope contract's paths and that a record
// the level filters out takes no sequence number.
func TestOCSFEnvelope(t *testing.T) {
	var buf bytes.Buffer
	e := ocsfEncoder(&buf, zerolog.InfoLevel)
	e.Reconcile(&record.Reconcile{Reason: "periodic"}) // debug: filtered
	ev, res := destroyWith(flow.OutcomeClosed)
	e.Entry(&ev, &res)
	e.EventsDisabled()
	type conntrack struct {
		Sequence uint64 `json:"sequence"`
		Run      string `json:"run"`
		Event    string `json:"event"`
	}
	type rec struct {
		Metadata struct {
			Sequence int    `json:"sequence"`
			Version  string `json:"version"`
			LogLevel string `json:"log_level"`
		} `json:"metadata"`
		Device struct {
			Hostname string `json:"hostname"`
		} `json:"device"`
		ConnectionInfo struct {
			CommunityUID string `json:"community_uid"`
		} `json:"connection_info"`
		Unmapped struct {
			Conntrack conntrack `json:"conntrack"`
		} `json:"unmapped"`
	}
	var got []rec
	for _, l := range linesOf(buf.Bytes()) {
		var r rec
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []rec{{}, {}}
	want[0].Metadata.Sequence, want[0].Metadata.Version, want[0].Metadata.LogLevel = 1, "1.8.0", "info"
	want[0].Device.Hostname = "node1"
	want[0].ConnectionInfo.CommunityUID = communityid.String(communityid.FromEntry(&ev.Entry), 0)
	want[0].Unmapped.Conntrack = conntrack{1, "run1", "destroy"}
	want[1].Metadata.Sequence, want[1].Metadata.Version, want[1].Metadata.LogLevel = 2, "1.8.0", "warn"
	want[1].Device.Hostname = "node1"
	want[1].Unmapped.Conntrack = conntrack{2, "run1", "events_disabled"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if e.Seq() != 2 {
		t.Errorf("Seq() = %d, want 2", e.Seq())
	}
}

// ocsfHotEntries are the entry records of the hot path, for the
// allocation test and the benchmark.
func ocsfHotEntries() (evs []model.Event, res []flow.Result) {
	return trackedFlow(model.TCPSynSent, model.TCPSynRecv, model.TCPEstablished, model.TCPFinWait, model.TCPLastAck, model.TCPTimeWait)
}

func TestOCSFEntryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	evs, res := ocsfHotEntries()
	full := fullEvent()
	fullRes := flow.Result{Flow: res[len(res)-1].Flow}
	e := ocsfEncoder(io.Discard, zerolog.InfoLevel)
	inferred := flow.Inferred{Entry: evs[2].Entry, Time: ocsfNow, Flow: res[len(res)-1].Flow}
	unreplied := flow.Unreplied{Entry: evs[0].Entry, Time: ocsfNow, FirstSeen: flowStart, Repeats: 1, RepeatsSince: flowStart}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range evs {
			e.Entry(&evs[i], &res[i])
		}
		e.Entry(&full, &fullRes)
		e.Event(&full)
		e.Inferred(&inferred)
		e.Unreplied(&unreplied)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run of OCSF entry records, want 0", allocs)
	}
}

// BenchmarkEncodeEntry compares the schemas' cost per entry record: a
// tracked TCP flow's NEW, UPDATEs and DESTROY, round robin.
func BenchmarkEncodeEntryOCSF(b *testing.B) {
	evs, res := ocsfHotEntries()
	for _, s := range []record.Schema{record.Native, record.OCSF} {
		b.Run(s.String(), func(b *testing.B) {
			e := record.New(record.Config{Schema: s, Log: zerolog.New(io.Discard),
				Clock: func() time.Time { return ocsfNow }, Run: "run1", Host: "node1", Version: "v0.1.0"})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % len(evs)
				e.Entry(&evs[j], &res[j])
			}
		})
	}
}

// TestOCSFCaptures writes every line of the captures of real conntrack
// and /proc output (pkg/model/testdata/capture) as OCSF records, both as
// `ctwatch parse` writes them and as live entry records, and checks them
// against the reference and the golden cases' type per path.
func TestOCSFCaptures(t *testing.T) {
	ref := loadOCSFRef(t)
	types, where := map[string]string{}, map[string]string{}
	for _, c := range ocsfCases(t) {
		rec, err := decodeJSON(writeOCSF(t, c))
		if err != nil {
			t.Fatal(err)
		}
		jsonTypes(types, where, "", rec, c.name)
	}
	n := 0
	for _, lines := range captureLines(t) {
		for _, l := range lines {
			ev, _, err := parseCaptured(t, l)
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			e := ocsfEncoder(&buf, zerolog.InfoLevel)
			e.Event(&ev)
			e.Entry(&ev, nil)
			for _, out := range linesOf(buf.Bytes()) {
				n++
				rec, err := decodeJSON(out)
				if err != nil {
					t.Fatalf("%s:%d: %v: %s", l.file, l.no, err, out)
				}
				if errs := ref.check(rec); len(errs) > 0 {
					t.Errorf("%s:%d: %s\n%s", l.file, l.no, strings.Join(errs, "\n"), out)
				}
				for _, clash := range jsonTypes(types, where, "", rec, filepath.Base(l.file)) {
					t.Errorf("%s:%d: %s", l.file, l.no, clash)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no capture line written")
	}
}
