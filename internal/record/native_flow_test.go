package record_test

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var flowStart = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)

// trackedFlow runs a TCP flow through states (NEW with the first, UPDATEs,
// DESTROY with the last) in a tracker and returns the events and results.
func trackedFlow(states ...model.State) ([]model.Event, []flow.Result) {
	tr := flow.New(flow.DefaultConfig())
	evs := make([]model.Event, len(states))
	res := make([]flow.Result, len(states))
	for i, s := range states {
		typ := model.EventUpdate
		switch i {
		case 0:
			typ = model.EventNew
		case len(states) - 1:
			typ = model.EventDestroy
		}
		status := model.StatusSeenReply | model.StatusAssured
		if i == 0 {
			status = 0
		}
		evs[i] = model.Event{Type: typ, Time: flowStart.Add(time.Duration(i) * time.Second), Entry: model.Entry{
			Family: model.FamilyIPv4, Proto: model.ProtoTCP, State: s, Status: status,
			Fields: model.FieldState | model.FieldID, ID: 7,
			Orig:  model.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 40000, DstPort: 443},
			Reply: model.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 443, DstPort: 40000},
		}}
		res[i] = tr.Observe(&evs[i])
	}
	return evs, res
}

// sampleFlow returns a transition and a lifecycle with every key set.
func sampleFlow() (flow.Transition, flow.Lifecycle) {
	_, res := trackedFlow(model.TCPSynSent, model.TCPSynRecv, model.TCPEstablished, model.TCPFinWait, model.TCPLastAck, model.TCPTimeWait)
	tr := flow.Transition{Proto: model.ProtoTCP, From: model.TCPSynRecv, To: model.TCPEstablished, HasStates: true,
		Gained: model.StatusAssured | model.StatusHelper, Lost: model.StatusSeenReply, Changed: flow.AttrMark | flow.AttrLabels,
		After: 412 * time.Microsecond, AfterKnown: true}
	lc := res[len(res)-1].Flow
	lc.Duration, lc.DurationKnown = 93*time.Second, true
	lc.ReplyAfter, lc.HasReply = 300*time.Microsecond, true
	lc.AssuredAfter, lc.HasAssured = 400*time.Microsecond, true
	lc.Outcome, lc.SeenFrom = flow.OutcomeClosed, flow.SeenFromNew
	lc.HasCounters, lc.OrigPackets, lc.OrigBytes, lc.ReplyPackets, lc.ReplyBytes = true, 1500, 2<<20, 900, 60000
	return tr, lc
}

func TestFlowJSON(t *testing.T) {
	evs, res := trackedFlow(model.TCPSynSent, model.TCPEstablished, model.TCPTimeWait)
	tr, lc := sampleFlow()
	tests := []struct {
		name  string
		write func(*record.Encoder)
		want  string
	}{{
		name:  "untracked entry",
		write: func(e *record.Encoder) { e.Entry(&evs[1], nil) },
		want: `{"level":"info","time":"2026-11-22T04:00:01.000000000Z","event":"update","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"tcp","protonum":6,"state":"ESTABLISHED",` +
			`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":443,"dport":40000},"community_id":"1:UWHKJ/x6OQ1YiVv4rIl0t3yhjg8=",` +
			`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED"],"id":7}`,
	}, {
		name:  "tracked update: transition",
		write: func(e *record.Encoder) { e.Entry(&evs[1], &res[1]) },
		want: `{"level":"info","time":"2026-11-22T04:00:01.000000000Z","event":"update","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"tcp","protonum":6,"state":"ESTABLISHED",` +
			`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":443,"dport":40000},"community_id":"1:UWHKJ/x6OQ1YiVv4rIl0t3yhjg8=",` +
			`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED"],"id":7,` +
			`"transition":{"from":"SYN_SENT","to":"ESTABLISHED","gained":["ASSURED"],"lost":["UNREPLIED"],"after_s":1}}`,
	}, {
		name:  "tracked destroy: transition and flow",
		write: func(e *record.Encoder) { e.Entry(&evs[2], &res[2]) },
		want: `{"level":"info","time":"2026-11-22T04:00:02.000000000Z","event":"destroy","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"tcp","protonum":6,"state":"TIME_WAIT",` +
			`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":443,"dport":40000},"community_id":"1:UWHKJ/x6OQ1YiVv4rIl0t3yhjg8=",` +
			`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED"],"id":7,` +
			`"transition":{"from":"ESTABLISHED","to":"TIME_WAIT","gained":[],"lost":[],"after_s":2},` +
			`"flow":{"path":["SYN_SENT","ESTABLISHED","TIME_WAIT"],"duration_s":2,"reply_after_s":1,"assured_after_s":1,"outcome":"closed","seen_from":"new"}}`,
	}, {
		name: "every transition and lifecycle key",
		write: func(e *record.Encoder) {
			e.Entry(&model.Event{Type: model.EventDestroy, Entry: evs[2].Entry}, &flow.Result{HasTransition: true, Transition: tr, Flow: lc})
		},
		want: `{"level":"info","event":"destroy","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"tcp","protonum":6,"state":"TIME_WAIT",` +
			`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":443,"dport":40000},"community_id":"1:UWHKJ/x6OQ1YiVv4rIl0t3yhjg8=",` +
			`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED"],"id":7,` +
			`"transition":{"from":"SYN_RECV","to":"ESTABLISHED","gained":["UNREPLIED","ASSURED","HELPER"],"lost":[],"changed":["mark","labels"],"after_s":0.000412},` +
			`"flow":{"path":["SYN_SENT","SYN_RECV","ESTABLISHED","FIN_WAIT","LAST_ACK","TIME_WAIT"],"duration_s":93,"reply_after_s":0.0003,"assured_after_s":0.0004,` +
			`"outcome":"closed","seen_from":"new","orig_packets":1500,"orig_bytes":2097152,"reply_packets":900,"reply_bytes":60000}}`,
	}, {
		name: "inferred destroy",
		write: func(e *record.Encoder) {
			e.Inferred(&flow.Inferred{Entry: evs[1].Entry, Time: flowStart, Reason: flow.InferReconcile, Flow: flow.Lifecycle{Proto: model.ProtoUDP, Outcome: flow.OutcomeUnknown, Inferred: true, LowerBound: true, SeenFrom: flow.SeenFromSnapshot}})
		},
		want: `{"level":"info","time":"2026-11-22T04:00:00.000000000Z","event":"destroy","seq":1,"run":"run-1","host":{"name":"host-1"},"family":"ipv4","proto":"tcp","protonum":6,"state":"ESTABLISHED",` +
			`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":443,"dport":40000},"community_id":"1:UWHKJ/x6OQ1YiVv4rIl0t3yhjg8=",` +
			`"unreplied":false,"assured":true,"status":["SEEN_REPLY","ASSURED"],"id":7,` +
			`"inferred":true,"inferred_reason":"reconcile","flow":{"outcome":"unknown","seen_from":"snapshot","lower_bound":true,"inferred":true}}`,
	}, {
		name: "unreplied",
		write: func(e *record.Encoder) {
			u := flow.Unreplied{Entry: evs[0].Entry, Time: flowStart.Add(5 * time.Second), FirstSeen: flowStart, Age: 5 * time.Second,
				Repeats: 3, RepeatsSince: flowStart.Add(-time.Minute), SeenFrom: flow.SeenFromEvent, LowerBound: true}
			e.Unreplied(&u)
		},
		want: `{"level":"warn","time":"2026-11-22T05:00:00.000000000Z","event":"unreplied","seq":1,"run":"run-1","host":{"name":"host-1"},"flows":1,"family":"ipv4","proto":"tcp","protonum":6,"state":"SYN_SENT",` +
			`"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":443,"dport":40000},"community_id":"1:UWHKJ/x6OQ1YiVv4rIl0t3yhjg8=",` +
			`"unreplied":true,"assured":false,"status":[],"id":7,` +
			`"first_seen":"2026-11-22T04:00:00.000000000Z","age_s":5,"repeats":3,"repeats_since":"2026-11-22T03:59:00.000000000Z","seen_from":"event","lower_bound":true,` +
			`"hint":"no reply yet: the peer is down or unreachable, the reply is dropped (by a firewall, or by conntrack as INVALID: see nf_conntrack_log_invalid), or it takes another path; traffic that must bypass conntrack (heartbeats) belongs in the raw table with NOTRACK"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.write(record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf), Clock: func() time.Time { return flowStart.Add(time.Hour) }}))
			if diff := cmp.Diff(tt.want+"\n", buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkMarshal measures writing a transition and a lifecycle (the
// benchmark internal/flow had).
func BenchmarkMarshal(b *testing.B) {
	tr, lc := sampleFlow()
	log := zerolog.New(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		record.WriteFlowObjects(&log, &tr, &lc)
	}
}

// BenchmarkMarshalEntry measures writing an entry record with a transition
// and a lifecycle, as the watch loop writes a tracked DESTROY.
func BenchmarkMarshalEntry(b *testing.B) {
	evs, _ := trackedFlow(model.TCPSynSent, model.TCPTimeWait)
	tr, lc := sampleFlow()
	res := flow.Result{HasTransition: true, Transition: tr, Flow: lc}
	enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(io.Discard)})
	b.ReportAllocs()
	for b.Loop() {
		enc.Entry(&evs[1], &res)
	}
}

func TestMarshalAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("zerolog's event pool drops items at random under the race detector")
	}
	evs, _ := trackedFlow(model.TCPSynSent, model.TCPTimeWait)
	tr, lc := sampleFlow()
	res := flow.Result{HasTransition: true, Transition: tr, Flow: lc}
	u := flow.Unreplied{Entry: evs[0].Entry, FirstSeen: flowStart, Age: 5 * time.Second, Repeats: 3, RepeatsSince: flowStart, LowerBound: true}
	enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(io.Discard)})
	tests := []struct {
		name  string
		write func()
	}{
		{"entry with transition and flow", func() { enc.Entry(&evs[1], &res) }},
		{"unreplied", func() { enc.Unreplied(&u) }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.write); got != 0 {
			t.Errorf("%s: %v allocations per record, want 0", tt.name, got)
		}
	}
}
