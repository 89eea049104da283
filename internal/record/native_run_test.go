package record_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/record"
)

func TestRunJSON(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	const at = `"time":"2026-11-22T05:00:00.000000000Z"`
	tests := []struct {
		name  string
		debug bool // the logger at debug level rather than info
		write func(*record.Encoder)
		want  string
	}{{
		name: "start",
		write: func(e *record.Encoder) {
			e.Start(&record.Start{Version: "v1", NetNS: "ns1", Events: "new,destroy", BufferRequested: 1 << 20, BufferSize: 2 << 20,
				Filter: "proto tcp", Text: true, Updates: "changes", MaxFlows: 100, UnrepliedAfter: 1500 * time.Millisecond, CTEvents: 1,
				Metrics: "127.0.0.1:9100"})
		},
		want: `{"level":"info",` + at + `,"event":"start","seq":1,"run":"run-1","host":{"name":"host-1"},"version":"v1","netns":"ns1","events":"new,destroy","buffer_requested":1048576,"buffer_size":2097152,` +
			`"filter":"proto tcp","format":"text","updates":"changes","max_flows":100,"unreplied_after_s":1.5,"nf_conntrack_events":1,"metrics":"127.0.0.1:9100"}`,
	}, {
		name:  "start: no filter, JSON, nf_conntrack_events unknown",
		write: func(e *record.Encoder) { e.Start(&record.Start{Version: "v1", CTEvents: -1}) },
		want: `{"level":"info",` + at + `,"event":"start","seq":1,"run":"run-1","host":{"name":"host-1"},"version":"v1","netns":"","events":"","buffer_requested":0,"buffer_size":0,` +
			`"filter":"any","format":"json","updates":"","max_flows":0,"unreplied_after_s":0}`,
	}, {
		name: "start: kernel filter",
		write: func(e *record.Encoder) {
			e.Start(&record.Start{Version: "v1", Filter: "--proto=udp --dport=694 --label=x", FilterKernel: "--proto=udp --dport=694", FilterUser: "--label=x", FilterProgram: 32, CTEvents: -1})
		},
		want: `{"level":"info",` + at + `,"event":"start","seq":1,"run":"run-1","host":{"name":"host-1"},"version":"v1","netns":"","events":"","buffer_requested":0,"buffer_size":0,` +
			`"filter":"--proto=udp --dport=694 --label=x","filter_kernel":"--proto=udp --dport=694","filter_user":"--label=x","filter_bpf_instructions":32,"format":"json","updates":"","max_flows":0,"unreplied_after_s":0}`,
	}, {
		name: "start: kernel filter too large",
		write: func(e *record.Encoder) {
			e.Start(&record.Start{Version: "v1", Filter: "--dport=1,3", FilterKernel: "any", FilterUser: "--dport=1,3", FilterError: "too large", CTEvents: -1})
		},
		want: `{"level":"info",` + at + `,"event":"start","seq":1,"run":"run-1","host":{"name":"host-1"},"version":"v1","netns":"","events":"","buffer_requested":0,"buffer_size":0,` +
			`"filter":"--dport=1,3","filter_kernel":"any","filter_user":"--dport=1,3","filter_bpf_instructions":0,"filter_kernel_error":"too large","format":"json","updates":"","max_flows":0,"unreplied_after_s":0}`,
	}, {
		name:  "events disabled",
		write: func(e *record.Encoder) { e.EventsDisabled() },
		want:  `{"level":"warn",` + at + `,"event":"events_disabled","seq":1,"run":"run-1","host":{"name":"host-1"},"hint":"net.netfilter.nf_conntrack_events is 0: the kernel sends no events; set it to 1"}`,
	}, {
		name:  "events on demand",
		write: func(e *record.Encoder) { e.EventsOnDemand() },
		want: `{"level":"info",` + at + `,"event":"events_on_demand","seq":1,"run":"run-1","host":{"name":"host-1"},"hint":"net.netfilter.nf_conntrack_events is 2: flows created while no event listener existed on the host (before ctwatch started) never report their end; ` +
			`ctwatch infers it from periodic dumps (inferred destroy records); set it to 1 for exact ends"}`,
	}, {
		name: "stop",
		write: func(e *record.Encoder) {
			e.Stop(&record.Totals{New: 1, Update: 2, Destroy: 3, Snapshot: 4, Written: 5, Filtered: 6, Suppressed: 7, Merged: 8,
				LostKernel: 9, LostOutput: 11, DecodeErrors: 12, UnrepliedWarnings: 13, FlowsEvicted: 14, Inferred: 15,
				UnrepliedSummarised: 16})
		},
		want: `{"level":"info",` + at + `,"event":"stop","seq":1,"run":"run-1","host":{"name":"host-1"},"received":{"new":1,"update":2,"destroy":3},"snapshot":4,"entries":5,"filtered":6,"suppressed":7,"merged":8,` +
			`"lost":{"kernel":9,"output":11},"decode_errors":12,"unreplied_warnings":13,"unreplied_summarised":16,"flows_evicted":14,"inferred_destroys":15}`,
	}, {
		name: "stop with outputs",
		write: func(e *record.Encoder) {
			e.Stop(&record.Totals{Written: 5, LostOutput: 3, Outputs: []record.OutputTotal{
				{Name: "-", Written: 9},
				{Name: "syslog+tcp://127.0.0.1:514", Written: 5, Dropped: 3, Queued: 1},
			}})
		},
		want: `{"level":"info",` + at + `,"event":"stop","seq":1,"run":"run-1","host":{"name":"host-1"},"received":{"new":0,"update":0,"destroy":0},"snapshot":0,"entries":5,"filtered":0,"suppressed":0,"merged":0,` +
			`"lost":{"kernel":0,"output":3},"decode_errors":0,"unreplied_warnings":0,"flows_evicted":0,"inferred_destroys":0,` +
			`"outputs":[{"name":"-","written":9,"dropped":0,"queued":0},{"name":"syslog+tcp://127.0.0.1:514","written":5,"dropped":3,"queued":1}]}`,
	}, {
		name: "output gap",
		write: func(e *record.Encoder) {
			e.Gap(&record.Gap{Stage: record.StageOutput, Output: "nats://127.0.0.1:4222/ct", Lost: 4, Total: 6})
		},
		want: `{"level":"warn",` + at + `,"event":"gap","seq":1,"run":"run-1","host":{"name":"host-1"},"stage":"output","output":"nats://127.0.0.1:4222/ct","lost":4,"lost_total":6,` +
			`"hint":"the output could not keep up and records were dropped: write to a faster destination"}`,
	}, {
		name:  "dump",
		write: func(e *record.Encoder) { e.Dump(&record.Dump{Entries: 3, Took: 250 * time.Millisecond}) },
		want:  `{"level":"info",` + at + `,"event":"dump","seq":1,"run":"run-1","host":{"name":"host-1"},"entries":3,"duration_s":0.25}`,
	}, {
		name: "dump with the expectation table",
		write: func(e *record.Encoder) {
			e.Dump(&record.Dump{Entries: 3, Took: 250 * time.Millisecond, ExpectDumped: true, Expectations: 0})
		},
		want: `{"level":"info",` + at + `,"event":"dump","seq":1,"run":"run-1","host":{"name":"host-1"},"entries":3,"expectations":0,"duration_s":0.25}`,
	}, {
		name:  "failed dump",
		write: func(e *record.Encoder) { e.Dump(&record.Dump{Entries: 1, Err: errors.New("dump: interrupted")}) },
		want:  `{"level":"warn",` + at + `,"event":"dump","seq":1,"run":"run-1","host":{"name":"host-1"},"error":"dump: interrupted","entries":1,"duration_s":0}`,
	}, {
		name:  "reconcile at debug level",
		debug: true,
		write: func(e *record.Encoder) {
			e.Reconcile(&record.Reconcile{Reason: "gap", Entries: 10, Inferred: 2, Took: time.Second})
		},
		want: `{"level":"debug",` + at + `,"event":"reconcile","seq":1,"run":"run-1","host":{"name":"host-1"},"reason":"gap","entries":10,"inferred":2,"duration_s":1}`,
	}, {
		name:  "reconcile at info level: not written",
		write: func(e *record.Encoder) { e.Reconcile(&record.Reconcile{Reason: "periodic"}) },
	}, {
		name: "failed reconcile",
		write: func(e *record.Encoder) {
			e.Reconcile(&record.Reconcile{Reason: "periodic", Err: errors.New("timeout")})
		},
		want: `{"level":"warn",` + at + `,"event":"reconcile","seq":1,"run":"run-1","host":{"name":"host-1"},"error":"timeout","reason":"periodic","entries":0,"inferred":0,"duration_s":0}`,
	}, {
		name:  "kernel gap",
		write: func(e *record.Encoder) { e.Gap(&record.Gap{Stage: record.StageKernel, Lost: 3, Total: 5, ENOBUFS: 1}) },
		want: `{"level":"warn",` + at + `,"event":"gap","seq":1,"run":"run-1","host":{"name":"host-1"},"stage":"kernel","lost":3,"lost_total":5,` +
			`"hint":"the socket's receive buffer overflowed: raise --buffer-size","enobufs":1}`,
	}, {
		name:  "output gap",
		write: func(e *record.Encoder) { e.Gap(&record.Gap{Stage: record.StageOutput, Lost: 2, Total: 2}) },
		want: `{"level":"warn",` + at + `,"event":"gap","seq":1,"run":"run-1","host":{"name":"host-1"},"stage":"output","lost":2,"lost_total":2,` +
			`"hint":"the output could not keep up and records were dropped: write to a faster destination"}`,
	}, {
		name:  "decode error",
		write: func(e *record.Encoder) { e.DecodeError(errors.New("short"), []byte{1, 2}) },
		want:  `{"level":"warn",` + at + `,"event":"decode_error","seq":1,"run":"run-1","host":{"name":"host-1"},"error":"short","bytes":2}`,
	}, {
		name:  "decode error at debug level: the bytes",
		debug: true,
		write: func(e *record.Encoder) { e.DecodeError(errors.New("short"), []byte{1, 0xab}) },
		want:  `{"level":"warn",` + at + `,"event":"decode_error","seq":1,"run":"run-1","host":{"name":"host-1"},"error":"short","bytes":2,"raw_hex":"01ab"}`,
	}, {
		name:  "flows evicted",
		write: func(e *record.Encoder) { e.FlowsEvicted(&record.FlowsEvicted{Evicted: 2, Total: 7, MaxFlows: 100}) },
		want: `{"level":"warn",` + at + `,"event":"flows_evicted","seq":1,"run":"run-1","host":{"name":"host-1"},"evicted":2,"evicted_total":7,"max_flows":100,` +
			`"hint":"the flow tracker is full: the least recently seen flows were forgotten, and their ends will have no lifecycle; raise --max-flows"}`,
	}, {
		name:  "stats error",
		write: func(e *record.Encoder) { e.StatsError(errors.New("read conntrack statistics: timeout")) },
		want:  `{"level":"warn",` + at + `,"event":"stats_error","seq":1,"run":"run-1","host":{"name":"host-1"},"error":"read conntrack statistics: timeout"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level := zerolog.InfoLevel
			if tt.debug {
				level = zerolog.DebugLevel
			}
			var buf bytes.Buffer
			tt.write(record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf).Level(level), Clock: func() time.Time { return now }}))
			want := tt.want
			if want != "" {
				want += "\n"
			}
			if diff := cmp.Diff(want, buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSchema(t *testing.T) {
	for _, want := range []record.Schema{record.Native, record.ECS, record.OCSF} {
		got, err := record.ParseSchema(want.String())
		if err != nil || got != want {
			t.Errorf("ParseSchema(%q) = %v, %v; want %v", want.String(), got, err, want)
		}
	}
	if _, err := record.ParseSchema("cef"); err == nil {
		t.Error("ParseSchema(cef): no error for a schema that does not exist")
	}
}
