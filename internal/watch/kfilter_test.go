package watch

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/filter"
)

// TestStartKernelFilter: the start record says which part of the filter
// runs where and how long the program is; a program too large for the
// kernel leaves everything to userspace and says why; without a filter
// the record has none of these keys.
func TestStartKernelFilter(t *testing.T) {
	mustFilter := func(s filter.Spec) *filter.Filter {
		f, err := filter.New(s)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	small := mustFilter(filter.Spec{Proto: "udp", DPort: "694"})
	prog, err := small.BPF()
	if err != nil {
		t.Fatal(err)
	}
	// --status changes over a flow's life: by default it stays in
	// userspace, and the program is the stable part's alone.
	changing := mustFilter(filter.Spec{Proto: "udp", DPort: "694", Status: "unreplied"})
	stableProg, err := changing.Stable().BPF()
	if err != nil {
		t.Fatal(err)
	}
	allProg, err := changing.BPF()
	if err != nil {
		t.Fatal(err)
	}
	if len(stableProg) >= len(allProg) {
		t.Fatalf("the stable part's program has %d instructions, the whole filter's %d: want fewer", len(stableProg), len(allProg))
	}
	var ports []string
	for p := 1; p < 20000; p += 2 {
		ports = append(ports, strconv.Itoa(p))
	}
	large := mustFilter(filter.Spec{DPort: strings.Join(ports, ",")})
	tests := []struct {
		name   string
		cfg    Config
		want   map[string]any
		errSub string
	}{
		{"kernel", Config{Filter: small, KernelFilter: true}, map[string]any{
			"filter": small.String(), "filter_kernel": small.String(), "filter_user": "any", "filter_bpf_instructions": float64(len(prog)),
		}, ""},
		{"changing criteria stay in userspace", Config{Filter: changing, KernelFilter: true}, map[string]any{
			"filter": changing.String(), "filter_kernel": small.String(), "filter_user": "--status=unreplied", "filter_bpf_instructions": float64(len(stableProg)),
		}, ""},
		{"changing criteria in the kernel", Config{Filter: changing, KernelFilter: true, KernelFilterChanging: true}, map[string]any{
			"filter": changing.String(), "filter_kernel": changing.String(), "filter_user": "any", "filter_bpf_instructions": float64(len(allProg)),
		}, ""},
		{"userspace", Config{Filter: small}, map[string]any{
			"filter": small.String(), "filter_kernel": "any", "filter_user": small.String(), "filter_bpf_instructions": 0.0,
		}, ""},
		{"too large", Config{Filter: large, KernelFilter: true}, map[string]any{
			"filter": large.String(), "filter_kernel": "any", "filter_user": large.String(), "filter_bpf_instructions": 0.0,
		}, "kernel filter program too large"},
		{"no filter", Config{KernelFilter: true}, map[string]any{"filter": "any"}, ""},
	}
	keys := []string{"filter", "filter_kernel", "filter_user", "filter_bpf_instructions"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := newLoopTest(t, tt.cfg)
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			start := lt.records()[0]
			got := map[string]any{}
			for _, k := range keys {
				if v, ok := start[k]; ok {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("start record (-want +got):\n%s", diff)
			}
			msg, _ := start["filter_kernel_error"].(string)
			if (tt.errSub == "") != (msg == "") || !strings.Contains(msg, tt.errSub) {
				t.Errorf("filter_kernel_error %q, want one containing %q", msg, tt.errSub)
			}
		})
	}
}
