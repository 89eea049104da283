// Package model is ctwatch's one description of a connection-tracking entry
// and of the events that report changes to it, with the text codec of
// conntrack's own line formats. The record schemas (ctwatch's JSON) are
// internal/record's.
//
// An [Entry] holds everything a line of /proc/net/nf_conntrack or of
// conntrack-tools' output can say: family, protocol, timeout, protocol state,
// the original and reply tuples with their counters and zones, the status bit
// set, mark, secmark, secctx, zone, use count, id, helper, labels and the
// kernel's start and stop timestamps. An [Event] adds what happened to the
// entry (new, update, destroy, or a snapshot line that reports no change), when
// it happened, and which userspace program caused it.
//
// An [Expect] is a conntrack expectation: the connection a helper (ftp,
// sip, ...) announced for a master connection, with its mask, the
// master's tuple, timeout, flags, class, helper, zone and NAT; an
// [ExpectEvent] reports its creation or removal. Its text form is
// conntrack -E expect's line ([AppendExpectText], [ParseExpectText]).
//
// Optional values carry a presence bit in [Entry.Fields], so that an encoder
// writes exactly the fields its source carried: a record omits what a source
// does not carry rather than writing zeros, and the text form reproduces
// conntrack-tools' and the kernel's lines byte for byte.
//
// Connlabels are names in an Entry: a [LabelNames] table (which
// internal/connlabel reads from /etc/xtables/connlabel.conf) names the bits
// as data, for decoders to write labels by name and for the text form to
// print them as conntrack -o labels does.
//
// The package is pure: it has no netlink, no clock and no global state.
// Callers inject the time zone used for conntrack's ctime-style timestamps and
// compute anything that depends on "now" (such as delta-time of a live entry)
// before handing an entry to a codec.
package model
