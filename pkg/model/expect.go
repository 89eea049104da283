package model

import "time"

// ExpectField is a set of presence bits for an [Expect]'s optional values,
// as [Field] is for an Entry's.
type ExpectField uint16

// The optional values of an Expect.
const (
	ExpectFieldTimeout ExpectField = 1 << iota // Expect.Timeout
	ExpectFieldMask                            // Expect.Mask
	ExpectFieldMaster                          // Expect.Master and MasterProto
	ExpectFieldID                              // Expect.ID
	ExpectFieldFlags                           // Expect.Flags
	ExpectFieldClass                           // Expect.Class
	ExpectFieldZone                            // Expect.Zone
	ExpectFieldHelper                          // Expect.Helper
	ExpectFieldNAT                             // Expect.NATDir and NAT
	ExpectFieldFn                              // Expect.Fn
)

// Has reports whether every bit of g is set in f.
func (f ExpectField) Has(g ExpectField) bool { return f&g == g }

// ExpectFlags are an expectation's NF_CT_EXPECT_* flags.
type ExpectFlags uint32

// The expectation flags the kernel defines.
const (
	// ExpectPermanent keeps the expectation after a connection matched
	// it (NF_CT_EXPECT_PERMANENT).
	ExpectPermanent ExpectFlags = 1 << 0
	// ExpectInactive is an expectation no connection can match yet
	// (NF_CT_EXPECT_INACTIVE).
	ExpectInactive ExpectFlags = 1 << 1
	// ExpectUserspace is an expectation a userspace helper created
	// through ctnetlink (NF_CT_EXPECT_USERSPACE).
	ExpectUserspace ExpectFlags = 1 << 2
)

var expectFlagNames = [...]string{"PERMANENT", "INACTIVE", "USERSPACE"}

// AppendNames appends the names of the known flags set in f, in bit
// order, as libnetfilter_conntrack prints them; unknown bits have none.
func (f ExpectFlags) AppendNames(dst []string) []string {
	for i, n := range expectFlagNames {
		if f&(1<<i) != 0 {
			dst = append(dst, n)
		}
	}
	return dst
}

// ParseExpectFlag returns the flag named n as AppendNames names it.
func ParseExpectFlag(n string) (ExpectFlags, bool) {
	for i, name := range expectFlagNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Expect is one conntrack expectation: a connection a helper (ftp, sip,
// ...) announced on behalf of a master connection, which the kernel will
// relate to the master when it arrives. Optional values are valid only
// when their bit is set in Fields.
type Expect struct {
	Family Family
	// Proto is the protocol of the expected connection, of Tuple and
	// Mask.
	Proto Proto
	// MasterProto is the protocol of the master connection, of Master
	// and NAT; a helper may expect a connection of another protocol than
	// its master's (SIP over TCP expecting RTP over UDP).
	MasterProto Proto

	// Fields says which optional values below are present.
	Fields ExpectField

	// Tuple is the expected connection's original tuple (CTA_EXPECT_TUPLE).
	Tuple Tuple
	// Mask says which bits of Tuple a connection must match: all ones
	// where it must, zero where anything goes (CTA_EXPECT_MASK).
	Mask Tuple
	// Master is the original tuple of the connection that made the
	// expectation (CTA_EXPECT_MASTER).
	Master Tuple

	// Timeout is the number of seconds the expectation has left
	// (ExpectFieldTimeout).
	Timeout uint32
	// ID is the expectation's id, a hash (ExpectFieldID).
	ID uint32
	// Flags are its NF_CT_EXPECT_* flags (ExpectFieldFlags).
	Flags ExpectFlags
	// Class is the helper's expectation class (ExpectFieldClass).
	Class uint32
	// Zone is the conntrack zone (ExpectFieldZone).
	Zone uint16
	// Helper is the name of the helper that made the expectation
	// (ExpectFieldHelper).
	Helper string
	// Fn is the name of the function the kernel calls on the expected
	// connection, such as NAT's "nat-follow-master" (ExpectFieldFn).
	Fn string
	// NATDir and NAT are the direction (0 original, 1 reply) and the
	// saved tuple of a NATed master, which the expected connection is
	// mangled back to (ExpectFieldNAT).
	NATDir uint32
	NAT    Tuple
}

// ExpectEvent is one change to the expectation table (EventNew,
// EventDestroy), or one expectation of a table listing (EventSnapshot).
// The kernel reports no update of an expectation: it never sends to
// NFNLGRP_CONNTRACK_EXP_UPDATE.
type ExpectEvent struct {
	Type EventType
	// Time is when the event happened: the time it was received, or a
	// text line's [sec.usec] prefix. The zero Time means unknown.
	Time time.Time
	// Origin is the userspace program behind the event, if any.
	Origin Origin
	// NetNS is the network namespace the event came from, as
	// Event.NetNS.
	NetNS  NetNS
	Expect Expect
}
