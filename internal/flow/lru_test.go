package flow

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEviction(t *testing.T) {
	cfg := testConfig()
	cfg.MaxFlows = 3
	tr := New(cfg)
	evs := parseLines(t,
		udpLine(0, "[NEW]", 1, "10.0.0.9", "30", true, "", ""),
		udpLine(1, "[NEW]", 2, "10.0.0.9", "30", true, "", ""),
		udpLine(2, "[NEW]", 3, "10.0.0.9", "30", true, "", ""),
		udpLine(3, "[UPDATE]", 1, "10.0.0.9", "30", false, "", ""), // flow 2 is now the least recently seen
		udpLine(4, "[NEW]", 4, "10.0.0.9", "30", true, "", ""),
		udpLine(5, "[DESTROY]", 2, "10.0.0.9", "", true, "", ""),
		udpLine(6, "[DESTROY]", 1, "10.0.0.9", "", false, "", ""),
	)
	res := observe(t, tr, evs)
	var evicted []int
	for _, r := range res {
		evicted = append(evicted, r.Evicted)
	}
	if diff := cmp.Diff([]int{0, 0, 0, 0, 1, 0, 0}, evicted); diff != "" {
		t.Errorf("Evicted (-want +got):\n%s", diff)
	}
	if res[5].Known {
		t.Error("the evicted flow 2 is still known")
	}
	if !res[6].Known {
		t.Error("flow 1, recently seen, was evicted")
	}
	if st := tr.Stats(); st.Evicted != 1 || st.Tracked != 2 {
		t.Errorf("Stats() = %+v, want 1 evicted, 2 tracked", st)
	}
}
