package health

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseThresholds(t *testing.T) {
	tests := []struct {
		in      string
		want    Thresholds
		wantErr error
	}{
		{in: "80,90,95", want: Thresholds{80, 90, 95}},
		{in: " 95, 80 ,90 ", want: Thresholds{80, 90, 95}},
		{in: "80%,90%", want: Thresholds{80, 90}},
		{in: "99.5", want: Thresholds{99.5}},
		{in: "90,90,80", want: Thresholds{80, 90}},
		{in: "100", want: Thresholds{100}},
		{in: "", want: Thresholds{}},
		{in: "off", want: Thresholds{}},
		{in: "0", wantErr: ErrBadThresholds},
		{in: "101", wantErr: ErrBadThresholds},
		{in: "-5", wantErr: ErrBadThresholds},
		{in: "80,,90", wantErr: ErrBadThresholds},
		{in: "80;90", wantErr: ErrBadThresholds},
		{in: "NaN", wantErr: ErrBadThresholds},
		{in: "Inf", wantErr: ErrBadThresholds},
		{in: "0x50", wantErr: ErrBadThresholds},
		{in: "1e2", want: Thresholds{100}},
	}
	for _, tt := range tests {
		got, err := ParseThresholds(tt.in)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseThresholds(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseThresholds(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestThresholdsFlag(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&cfg.Thresholds, "table-warn", "")
	if got := fs.Lookup("table-warn").DefValue; got != "80,90,95" {
		t.Errorf("default shown as %q", got)
	}
	if err := fs.Parse([]string{"--table-warn", "70,85"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Thresholds{70, 85}, cfg.Thresholds); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !slices.Equal(DefaultThresholds, Thresholds{80, 90, 95}) {
		t.Errorf("setting the flag changed DefaultThresholds to %v", DefaultThresholds)
	}
	if err := fs.Parse([]string{"--table-warn", "x"}); err == nil {
		t.Error("bad list accepted")
	}
}

func FuzzParseThresholds(f *testing.F) {
	for _, s := range []string{"80,90,95", "", "off", "99.5%", "0", "1e2", "80,,90"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThresholds(s)
		if err != nil {
			if !errors.Is(err, ErrBadThresholds) {
				t.Fatalf("error %v is not ErrBadThresholds", err)
			}
			return
		}
		for i, v := range th {
			if !(v > 0 && v <= 100) {
				t.Fatalf("ParseThresholds(%q) = %v: %v out of range", s, th, v)
			}
			if i > 0 && th[i-1] >= v {
				t.Fatalf("ParseThresholds(%q) = %v: not strictly ascending", s, th)
			}
		}
		again, err := ParseThresholds(th.String())
		if err != nil {
			t.Fatalf("ParseThresholds(%q) = %v, whose String %q does not parse: %v", s, th, th.String(), err)
		}
		if diff := cmp.Diff(th, again); diff != "" {
			t.Fatalf("round trip through %q (-first +second):\n%s", th.String(), diff)
		}
	})
}
