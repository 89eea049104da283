package doctor

import (
	"os"
	"testing"
)

func TestEffectiveCaps(t *testing.T) {
	c := EffectiveCaps()
	if c.Err != nil {
		t.Fatal(c.Err)
	}
	// Root has every capability unless something dropped them; an
	// ordinary user has none.
	if root := os.Geteuid() == 0; c.NetAdmin != root || c.SysAdmin != root {
		t.Errorf("euid %d: NET_ADMIN %v, SYS_ADMIN %v", os.Geteuid(), c.NetAdmin, c.SysAdmin)
	}
}
