package model

import "math/bits"

// Status is a conntrack entry's status bit set (enum ip_conntrack_status,
// the IPS_* bits).
type Status uint32

// The status bits, in the kernel's bit order.
const (
	StatusExpected     Status = 1 << iota // IPS_EXPECTED: created by an expectation
	StatusSeenReply                       // IPS_SEEN_REPLY: traffic seen in both directions
	StatusAssured                         // IPS_ASSURED: never early-dropped
	StatusConfirmed                       // IPS_CONFIRMED: inserted into the table
	StatusSrcNAT                          // IPS_SRC_NAT
	StatusDstNAT                          // IPS_DST_NAT
	StatusSeqAdjust                       // IPS_SEQ_ADJUST
	StatusSrcNATDone                      // IPS_SRC_NAT_DONE
	StatusDstNATDone                      // IPS_DST_NAT_DONE
	StatusDying                           // IPS_DYING
	StatusFixedTimeout                    // IPS_FIXED_TIMEOUT
	StatusTemplate                        // IPS_TEMPLATE
	StatusNATClash                        // IPS_NAT_CLASH (IPS_UNTRACKED before Linux 5.10)
	StatusHelper                          // IPS_HELPER
	StatusOffload                         // IPS_OFFLOAD: flow offloaded to the flowtable
	StatusHWOffload                       // IPS_HW_OFFLOAD: flow offloaded to hardware
)

// statusNames are the bits' names in bit order.
var statusNames = [...]string{
	"EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT",
	"SEQ_ADJUST", "SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT",
	"TEMPLATE", "NAT_CLASH", "HELPER", "OFFLOAD", "HW_OFFLOAD",
}

// StatusBitName returns the name of status bit i (0-based), or "" for a bit
// the kernel does not define.
func StatusBitName(i int) string {
	if i >= 0 && i < len(statusNames) {
		return statusNames[i]
	}
	return ""
}

// ParseStatusBit returns the status bit named name (case-sensitive, as
// StatusBitName prints it).
func ParseStatusBit(name string) (Status, bool) {
	for i, n := range statusNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Has reports whether all bits of b are set in s.
func (s Status) Has(b Status) bool { return s&b == b }

// Unreplied reports whether /proc would print [UNREPLIED]: no reply seen.
func (s Status) Unreplied() bool { return s&StatusSeenReply == 0 }

// Assured reports whether the entry is assured.
func (s Status) Assured() bool { return s&StatusAssured != 0 }

// Len returns the number of bits set.
func (s Status) Len() int { return bits.OnesCount32(uint32(s)) }

// AppendNames appends the names of the set bits to dst in bit order. A set
// bit with no name is appended as "BIT<n>" so that nothing is hidden.
func (s Status) AppendNames(dst []string) []string {
	for v := uint32(s); v != 0; v &= v - 1 {
		i := bits.TrailingZeros32(v)
		if n := StatusBitName(i); n != "" {
			dst = append(dst, n)
		} else {
			dst = append(dst, unnamedStatusBit(i))
		}
	}
	return dst
}

func unnamedStatusBit(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return "BIT" + digits[i:i+1]
	}
	return "BIT" + digits[i/10:i/10+1] + digits[i%10:i%10+1]
}

// Label is one of the bracketed words /proc and conntrack-tools derive from
// the status bits.
type Label uint8

// The derived labels. Their order is the order of the JSON contract's
// "gained"/"lost" lists.
const (
	LabelUnreplied Label = iota // [UNREPLIED]: no SEEN_REPLY
	LabelAssured                // [ASSURED]
	LabelOffload                // [OFFLOAD]
	LabelHWOffload              // [HW_OFFLOAD]
	numLabels
)

var labelNames = [numLabels]string{"UNREPLIED", "ASSURED", "OFFLOAD", "HW_OFFLOAD"}

// String returns the label's name without brackets.
func (l Label) String() string {
	if l < numLabels {
		return labelNames[l]
	}
	return ""
}

// HasLabel reports whether the status bit set shows label l.
func (s Status) HasLabel(l Label) bool {
	switch l {
	case LabelUnreplied:
		return s.Unreplied()
	case LabelAssured:
		return s.Assured()
	case LabelOffload:
		return s&StatusOffload != 0
	case LabelHWOffload:
		return s&StatusHWOffload != 0
	}
	return false
}

// Labels are all derived labels, in contract order.
func Labels() [4]Label {
	return [4]Label{LabelUnreplied, LabelAssured, LabelOffload, LabelHWOffload}
}
