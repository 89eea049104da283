//go:build integration

package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadGoBench(t *testing.T) {
	got, err := readGoBench("testdata/bench-go.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []goBench{
		{Pkg: "github.com/ctwatch/ctwatch/internal/flow", Name: "Observe/updates=random", Values: map[string]float64{"sec/op": 518.2e-9, "B/op": 2, "allocs/op": 0}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/flow", Name: "Memory/nat=none", Values: map[string]float64{"sec/op": 0.841715498, "B/flow": 168, "B/op": 192968232, "allocs/op": 1054}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/flow", Name: "Memory/nat=all", Values: map[string]float64{"sec/op": 0.863166532, "B/flow": 208, "B/op": 234941088, "allocs/op": 2090}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Pipeline/native", Values: map[string]float64{"sec/op": 1131e-9, "B/op": 1, "allocs/op": 0}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Pipeline/ecs", Values: map[string]float64{"sec/op": 1357e-9, "B/op": 1, "allocs/op": 0}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Pipeline/ocsf", Values: map[string]float64{"sec/op": 1810e-9, "B/op": 1, "allocs/op": 0}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Outputs/file", Values: map[string]float64{"sec/op": 2288e-9, "cpu-sec/record": 2326e-9, "records/s": 437094, "B/op": 4, "allocs/op": 0}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Outputs/syslog-tcp", Values: map[string]float64{"sec/op": 6245e-9, "cpu-sec/record": 3212e-9, "records/s": 160139, "B/op": 419, "allocs/op": 0}},
		{Pkg: "github.com/ctwatch/ctwatch/internal/watch", Name: "Outputs/jetstream", Values: map[string]float64{"sec/op": 16642e-9, "cpu-sec/record": 9177e-9, "records/s": 60089, "B/op": 2556, "allocs/op": 26}},
	}
	if diff := cmp.Diff(want, got, cmpFloat); diff != "" {
		t.Errorf("readGoBench (-want +got):\n%s", diff)
	}
}

func TestParseGoBenchErrors(t *testing.T) {
	if _, err := parseGoBench(strings.NewReader("PASS\nok x 1s\n"), "empty.txt"); !errors.Is(err, errNoBenchmarks) {
		t.Errorf("no results: err = %v, want errNoBenchmarks", err)
	}
	_, err := parseGoBench(strings.NewReader("BenchmarkX-2 10 5 ns/op 7\n"), "bad.txt")
	if err == nil || !strings.Contains(err.Error(), "bad.txt:1") {
		t.Errorf("malformed line: err = %v, want one naming bad.txt:1", err)
	}
}

func TestGoBenchTargets(t *testing.T) {
	all, err := readGoBench("testdata/bench-go.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := goBenchTargets(all)
	want := []target{
		{Name: "decode + track + encode: ≤ 1 heap allocation per event in steady state", Verdict: verdictMet,
			Measured: "0 allocs/event (internal/watch BenchmarkPipeline: decode, track, filter, encode JSON into the output buffer)"},
		{Name: "memory bounded by --max-flows, measured per tracked flow", Verdict: verdictMet,
			Measured: "168 B/flow (nat=none), 208 B/flow (nat=all) at a million flows (internal/flow BenchmarkMemory); the tracker never holds more than --max-flows"},
		// 1357/1131 and 1810/1131: OCSF is over the bound.
		{Name: "ECS and OCSF records: ≤ 1.5× the native schema's CPU per event", Verdict: verdictNotMet,
			Measured: "ecs 1.20×, ocsf 1.60× native (internal/watch BenchmarkPipeline/<schema>)"},
		// 3212/2326 and 9177/2326: JetStream is over the bound, and slow.
		{Name: "delivery: ≥ 150k records/s to syslog TCP and to JetStream, CPU per record ≤ 1.5× writing a file (the whole pipeline)", Verdict: verdictNotMet,
			Measured: "syslog-tcp 160k records/s, 1.38× the file's CPU; jetstream 60k records/s, 3.95× the file's CPU (internal/watch BenchmarkOutputs; file 2326 cpu-ns/record)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("goBenchTargets (-want +got):\n%s", diff)
	}

	all[5].Values["sec/op"] = 1500e-9
	if v := goBenchTargets(all)[2].Verdict; v != verdictMet {
		t.Errorf("OCSF at 1.33× native: verdict %q, want %q", v, verdictMet)
	}
	all[3].Values["allocs/op"] = 3
	if v := goBenchTargets(all)[0].Verdict; v != verdictNotMet {
		t.Errorf("3 allocs/event: verdict %q, want %q", v, verdictNotMet)
	}
	for _, tg := range goBenchTargets(nil) {
		if tg.Verdict != verdictNotMeasured {
			t.Errorf("no benchmarks: %q verdict %q, want %q", tg.Name, tg.Verdict, verdictNotMeasured)
		}
	}

	var table bytes.Buffer
	writeGoBench(&table, all)
	for _, cell := range []string{"| internal/flow | Memory/nat=none | 841715498 | 192968232 | 1054 | 168 B/flow |", "| internal/watch | Pipeline/native | 1131 | 1 | 3 |  |",
		"| internal/watch | Pipeline/ecs | 1357 | 1 | 0 | 1.20× native |"} {
		if !strings.Contains(table.String(), cell) {
			t.Errorf("table lacks %q:\n%s", cell, table.String())
		}
	}
}
