package model

import "testing"

func TestDCCPRole(t *testing.T) {
	tests := []struct {
		role DCCPRole
		name string
	}{
		{DCCPRoleClient, "client"},
		{DCCPRoleServer, "server"},
		{7, "7"},
		{255, "255"},
	}
	for _, tt := range tests {
		if got := tt.role.String(); got != tt.name {
			t.Errorf("DCCPRole(%d).String() = %q, want %q", tt.role, got, tt.name)
		}
		if got, ok := ParseDCCPRole(tt.name); !ok || got != tt.role {
			t.Errorf("ParseDCCPRole(%q) = %d, %v, want %d, true", tt.name, got, ok, tt.role)
		}
	}
	for _, bad := range []string{"", "Client", "07", "256", "-1", "+1"} {
		if r, ok := ParseDCCPRole(bad); ok {
			t.Errorf("ParseDCCPRole(%q) = %d, true, want false", bad, r)
		}
	}
}
