package flow

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigDefaults(t *testing.T) {
	tr := New(Config{})
	want := Config{MaxFlows: 1 << 20, UnrepliedBurst: 5, UnrepliedInterval: 10 * time.Second,
		RepeatWindow: 10 * time.Minute, MaxDestinations: 1 << 16, Tombstones: 32768}
	if diff := cmp.Diff(want, tr.cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if got := New(Config{MaxFlows: 100}).cfg.Tombstones; got != 64 {
		t.Errorf("Tombstones for 100 flows = %d, want 64", got)
	}
}
