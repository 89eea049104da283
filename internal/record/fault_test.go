package record_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/record"
)

// faultCase is one record of the output's health, the watched namespace's
// end or a tracker that was full, in every schema.
type faultCase struct {
	name  string
	debug bool
	write func(*record.Encoder)
}

// enospc is a write failure as the sink reports it.
var enospc = &record.OutputError{Op: "write", Path: "/var/log/ctwatch.jsonl",
	Err: errors.New("write output: write /var/log/ctwatch.jsonl: no space left on device"), Errno: syscall.ENOSPC,
	Hint: "ENOSPC: disk full; free space on the output's file system", Torn: true, LostTotal: 12}

func faultCases() []faultCase {
	return []faultCase{
		{name: "output_error", write: func(e *record.Encoder) { e.OutputError(enospc) }},
		{name: "output_error_stdout", write: func(e *record.Encoder) {
			e.OutputError(&record.OutputError{Op: "write", Err: errors.New("write output: short write"),
				Hint: "the output took only part of a write", LostTotal: 1})
		}},
		{name: "output_error_reopen", write: func(e *record.Encoder) {
			e.OutputError(&record.OutputError{Op: "reopen", Path: "/var/log/ctwatch.jsonl",
				Err: errors.New("reopen output: open /var/log/ctwatch.jsonl: no such file or directory"), Errno: syscall.ENOENT,
				Hint: "ENOENT: the output's directory is gone"})
		}},
		{name: "output_recovered", write: func(e *record.Encoder) {
			e.OutputRecovered(&record.OutputRecovered{Op: "write", Path: "/var/log/ctwatch.jsonl", Errno: syscall.ENOSPC, Lost: 10, LostTotal: 12})
		}},
		{name: "netns_gone", write: func(e *record.Encoder) {
			e.NetnsGone(&record.NetnsGone{NetNS: "blue", Inode: 4026532451, FlowsEnded: 3})
		}},
		{name: "netns_gone_wait", write: func(e *record.Encoder) {
			e.NetnsGone(&record.NetnsGone{NetNS: "blue", Inode: 4026532451, Wait: true})
		}},
		{name: "gap_output_write_error", write: func(e *record.Encoder) {
			e.Gap(&record.Gap{Stage: record.StageOutput, Lost: 4, Total: 9, WriteError: "ENOSPC: disk full; free space on the output's file system"})
		}},
		{name: "dump_skipped_full", write: func(e *record.Encoder) {
			e.Dump(&record.Dump{Entries: 500, SkippedFull: 490, Took: time.Second})
		}},
		{name: "reconcile_skipped_full", debug: true, write: func(e *record.Encoder) {
			e.Reconcile(&record.Reconcile{Reason: "periodic", Entries: 500, SkippedFull: 490, Took: time.Second})
		}},
		{name: "stop_skipped_full", write: func(e *record.Encoder) {
			e.Stop(&record.Totals{New: 1, Written: 1, SkippedFull: 490})
		}},
	}
}

func faultECSCases() []ecsCase {
	var cases []ecsCase
	for _, c := range faultCases() {
		cases = append(cases, ecsCase{name: c.name, debug: c.debug, write: c.write})
	}
	return cases
}

func faultOCSFCases() []ocsfCase {
	var cases []ocsfCase
	for _, c := range faultCases() {
		cases = append(cases, ocsfCase{name: strings.ReplaceAll(c.name, "_", " "), debug: c.debug, write: c.write})
	}
	return cases
}

// TestFaultJSON pins the native records of the output's health, the
// watched namespace's end and a full tracker.
func TestFaultJSON(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	const head = `"time":"2026-11-22T05:00:00.000000000Z","event":`
	const env = `"seq":1,"run":"run-1","host":{"name":"host-1"}`
	want := map[string]string{
		"output_error": `{"level":"error",` + head + `"output_error",` + env + `,"op":"write","path":"/var/log/ctwatch.jsonl",` +
			`"error":"write output: write /var/log/ctwatch.jsonl: no space left on device","errno":"ENOSPC",` +
			`"hint":"ENOSPC: disk full; free space on the output's file system","torn":true,"lost_total":12}`,
		"output_error_stdout": `{"level":"error",` + head + `"output_error",` + env + `,"op":"write","error":"write output: short write",` +
			`"hint":"the output took only part of a write","torn":false,"lost_total":1}`,
		"output_error_reopen": `{"level":"error",` + head + `"output_error",` + env + `,"op":"reopen","path":"/var/log/ctwatch.jsonl",` +
			`"error":"reopen output: open /var/log/ctwatch.jsonl: no such file or directory","errno":"ENOENT",` +
			`"hint":"ENOENT: the output's directory is gone","torn":false,"lost_total":0}`,
		"output_recovered": `{"level":"info",` + head + `"output_recovered",` + env + `,"op":"write","path":"/var/log/ctwatch.jsonl",` +
			`"errno":"ENOSPC","lost":10,"lost_total":12}`,
		"netns_gone": `{"level":"warn",` + head + `"netns_gone",` + env + `,"netns":"blue","inode":4026532451,"flows_ended":3,"action":"stop",` +
			`"hint":"the watched network namespace was deleted and no process lives in it: nothing can happen in it any more; ctwatch stops (--on-netns-gone wait keeps it running)"}`,
		"netns_gone_wait": `{"level":"warn",` + head + `"netns_gone",` + env + `,"netns":"blue","inode":4026532451,"flows_ended":0,"action":"wait",` +
			`"hint":"the watched network namespace was deleted and no process lives in it: nothing can happen in it any more; ctwatch keeps running (--on-netns-gone wait) and /healthz reports it"}`,
		"gap_output_write_error": `{"level":"warn",` + head + `"gap",` + env + `,"stage":"output","lost":4,"lost_total":9,` +
			`"hint":"records were lost to write errors: ENOSPC: disk full; free space on the output's file system"}`,
		"dump_skipped_full":      `{"level":"info",` + head + `"dump",` + env + `,"entries":500,"skipped_full":490,"duration_s":1}`,
		"reconcile_skipped_full": `{"level":"debug",` + head + `"reconcile",` + env + `,"reason":"periodic","entries":500,"inferred":0,"skipped_full":490,"duration_s":1}`,
		"stop_skipped_full": `{"level":"info",` + head + `"stop",` + env + `,"received":{"new":1,"update":0,"destroy":0},"snapshot":0,"entries":1,"filtered":0,` +
			`"suppressed":0,"merged":0,"lost":{"kernel":0,"output":0},"decode_errors":0,"unreplied_warnings":0,"flows_evicted":0,"inferred_destroys":0,"skipped_full":490}`,
	}
	for _, c := range faultCases() {
		t.Run(c.name, func(t *testing.T) {
			level := zerolog.InfoLevel
			if c.debug {
				level = zerolog.DebugLevel
			}
			var buf strings.Builder
			c.write(record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf).Level(level), Clock: func() time.Time { return now }}))
			if diff := cmp.Diff(want[c.name]+"\n", buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
