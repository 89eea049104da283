//go:build integration

package main

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseRates(t *testing.T) {
	tests := []struct {
		in      string
		want    []float64
		wantErr bool
	}{
		{in: "20000,50000,max", want: []float64{20000, 50000, 0}},
		{in: "20k, 150K ,full,max,20000", want: []float64{20000, 150000, 0}},
		{in: "12.5k", want: []float64{12500}},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "fast", wantErr: true},
		{in: "2000000k", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseRates(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseRates(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseRates(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    benchConfig
		wantErr error
	}{{
		name: "defaults",
		want: benchConfig{
			Loads: []string{"tcp", "ctnetlink"}, Rates: []float64{20000, 50000, 150000, 0}, Events: 200000, Runs: 3,
			Monitors: []string{"ctwatch", "conntrack", "conntrack-8m", "ulogd", "floor"}, Ctwatch: "bin/ctwatch",
			ConntrackBuffer: 8 << 20, CalibrationBuffer: 256 << 20, MonCPU: 1, DrainTimeout: time.Minute,
			Quiet: 10, QuietTimeout: 30 * time.Second, QuietBudget: 5 * time.Minute, MaxInterference: 10, Retries: 2,
			Parts: []string{"matrix", "netns", "bigtable", "lowrate", "filter"}, NetNSCount: 100, NetNSRate: 20000, NetNSEvents: 180000,
			BigTableEntries: defaultBigTableEntries, BigTableWindow: defaultBigTableWindow,
			FilterLoads: []string{"tcp", "ctnetlink"}, FilterEvery: 100,
		},
	}, {
		name: "everything",
		args: []string{"-loads", "udp,ctnetlink,udp", "-rates", "150k,max", "-events", "1000", "-runs", "5",
			"-monitors", "ctwatch,floor", "-ctwatch", "/tmp/ctw", "-ctwatch-flags", "--queue-len 512  --updates all",
			"-conntrack-buffer", "1048576", "-gen-cpu", "2", "-mon-cpu", "3", "-write", "docs/performance.md", "-json", "r.json",
			"-no-calibrate", "-quiet", "0", "-max-interference", "5", "-retries", "0",
			"-parts", "netns", "-netns-count", "10", "-netns-rate", "5k", "-netns-events", "3000", "-allnetns-standin",
			"-filter-loads", "ctnetlink", "-filter-every", "50"},
		want: benchConfig{
			Loads: []string{"udp", "ctnetlink"}, Rates: []float64{150000, 0}, Events: 1000, Runs: 5,
			Monitors: []string{"ctwatch", "floor"}, Ctwatch: "/tmp/ctw", CtwatchFlags: []string{"--queue-len", "512", "--updates", "all"},
			ConntrackBuffer: 1 << 20, CalibrationBuffer: 256 << 20, GenCPU: 2, MonCPU: 3, DrainTimeout: time.Minute,
			Write: "docs/performance.md", JSON: "r.json", NoCalibrate: true, QuietTimeout: 30 * time.Second, QuietBudget: 5 * time.Minute,
			MaxInterference: 5, Parts: []string{"netns"}, NetNSCount: 10, NetNSRate: 5000, NetNSEvents: 3000,
			BigTableEntries: defaultBigTableEntries, BigTableWindow: defaultBigTableWindow,
			AllNetNSStandIn: true, FilterLoads: []string{"ctnetlink"}, FilterEvery: 50,
		},
	}, {
		name: "unknown part", args: []string{"-parts", "matrix,pods"}, wantErr: errUsage,
	}, {
		name: "netns rate max", args: []string{"-netns-rate", "max"}, wantErr: errUsage,
	}, {
		name: "netns rates", args: []string{"-netns-rate", "10k,20k"}, wantErr: errUsage,
	}, {
		name: "no namespaces", args: []string{"-netns-count", "0"}, wantErr: errUsage,
	}, {
		name: "too few netns events", args: []string{"-netns-count", "100", "-netns-events", "299"}, wantErr: errUsage,
	}, {
		name: "unknown load", args: []string{"-loads", "icmp"}, wantErr: errUsage,
	}, {
		name: "filter load without one port", args: []string{"-filter-loads", "udp"}, wantErr: errUsage,
	}, {
		name: "filter every one", args: []string{"-filter-every", "1"}, wantErr: errUsage,
	}, {
		name: "unknown monitor", args: []string{"-monitors", "conntrackd"}, wantErr: errUsage,
	}, {
		name: "too few events", args: []string{"-events", "5"}, wantErr: errUsage,
	}, {
		name: "no runs", args: []string{"-runs", "0"}, wantErr: errUsage,
	}, {
		name: "arguments", args: []string{"tcp"}, wantErr: errUsage,
	}, {
		name: "bad flag", args: []string{"-speed", "9"}, wantErr: errUsage,
	}, {
		name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, io.Discard)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNonDefaultArgs(t *testing.T) {
	def, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), def.nonDefaultArgs()); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	args := []string{"-loads", "udp", "-rates", "150000,max", "-events", "1000", "-runs", "5", "-monitors", "ctwatch,conntrack",
		"-ctwatch-flags", "--queue-len 512", "-conntrack-buffer", "1048576", "-parts", "netns,filter", "-netns-count", "10", "-netns-rate", "5k",
		"-filter-loads", "tcp", "-filter-every", "1000"}
	cfg, err := parseConfig(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-loads", "udp", "-rates", "150000,max", "-events", "1000", "-runs", "5", "-monitors", "ctwatch,conntrack",
		"-parts", "netns,filter", "-netns-count", "10", "-netns-rate", "5000", "-filter-loads", "tcp", "-filter-every", "1000", "-ctwatch-flags", `"--queue-len 512"`, "-conntrack-buffer", "1048576"}
	if diff := cmp.Diff(want, cfg.nonDefaultArgs()); diff != "" {
		t.Errorf("nonDefaultArgs (-want +got):\n%s", diff)
	}
}

func TestHasPart(t *testing.T) {
	tests := []struct {
		parts []string
		part  string
		want  bool
	}{
		{nil, "matrix", true}, // a report saved before there were parts
		{nil, "netns", false},
		{[]string{"netns"}, "matrix", false},
		{[]string{"matrix", "netns"}, "netns", true},
		{[]string{"matrix", "netns"}, "filter", false}, // a report saved before the filter part
		{[]string{"filter"}, "filter", true},
	}
	for _, tt := range tests {
		if got := (benchConfig{Parts: tt.parts}).has(tt.part); got != tt.want {
			t.Errorf("Parts %q: has(%q) = %v, want %v", tt.parts, tt.part, got, tt.want)
		}
	}
}
