package model

import "strconv"

// DCCPRole is the role the DCCP tracker gives the original direction of an
// entry: the kernel's enum ct_dccp_roles, as ctnetlink carries it.
type DCCPRole uint8

// The DCCP roles. The tracker takes the sender of the first packet for the
// client; an entry created over ctnetlink may say otherwise.
const (
	DCCPRoleClient DCCPRole = 0 // CT_DCCP_ROLE_CLIENT
	DCCPRoleServer DCCPRole = 1 // CT_DCCP_ROLE_SERVER
)

// String returns "client" or "server", as conntrack's --role names them,
// and the number in decimal for a role the kernel does not define.
func (r DCCPRole) String() string {
	switch r {
	case DCCPRoleClient:
		return "client"
	case DCCPRoleServer:
		return "server"
	}
	return strconv.Itoa(int(r))
}

// ParseDCCPRole returns the role String names: "client", "server", or a
// number 0-255 in decimal.
func ParseDCCPRole(s string) (DCCPRole, bool) {
	switch s {
	case "client":
		return DCCPRoleClient, true
	case "server":
		return DCCPRoleServer, true
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, false // String prints no leading zero
	}
	n, err := strconv.ParseUint(s, 10, 8)
	return DCCPRole(n), err == nil
}
