package model

import "strconv"

// Family is a layer-3 protocol family, numbered as the kernel's AF_* constants.
type Family uint8

// The families conntrack tracks.
const (
	FamilyIPv4 Family = 2  // AF_INET
	FamilyIPv6 Family = 10 // AF_INET6
)

// String returns the name conntrack-tools and /proc print ("ipv4", "ipv6"),
// or "unknown" as they do for any other family.
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	}
	return "unknown"
}

// ParseFamily accepts a family by name ("ipv4", "ipv6", as well as "inet"
// and "inet6") or by number.
func ParseFamily(s string) (Family, bool) {
	switch s {
	case "ipv4", "inet", "2":
		return FamilyIPv4, true
	case "ipv6", "inet6", "10":
		return FamilyIPv6, true
	}
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		return Family(n), true
	}
	return 0, false
}
