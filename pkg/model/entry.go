package model

import (
	"net/netip"
	"time"
)

// Field is a set of presence bits for an [Entry]'s optional values. A value
// whose bit is clear was not carried by the entry's source and is omitted by
// every codec, even when its Go value is non-zero.
type Field uint32

// The optional values of an Entry.
const (
	FieldTimeout       Field = 1 << iota // Entry.Timeout
	FieldState                           // Entry.State
	FieldOrigCounters                    // Entry.Orig.Packets and Bytes
	FieldReplyCounters                   // Entry.Reply.Packets and Bytes
	FieldOrigZone                        // Entry.Orig.Zone (zone-orig=)
	FieldReplyZone                       // Entry.Reply.Zone (zone-reply=)
	FieldMark                            // Entry.Mark
	FieldSecmark                         // Entry.Secmark
	FieldSecctx                          // Entry.Secctx
	FieldZone                            // Entry.Zone
	FieldUse                             // Entry.Use
	FieldID                              // Entry.ID
	FieldHelper                          // Entry.Helper
	FieldLabels                          // Entry.Labels
	FieldStart                           // Entry.Start
	FieldStop                            // Entry.Stop
	FieldDeltaTime                       // Entry.DeltaTime
	FieldGRETimeouts                     // Entry.GRETimeout and GREStreamTimeout
	FieldMaster                          // Entry.Master and MasterProto
	FieldOrigVtag                        // Entry.OrigVtag
	FieldReplyVtag                       // Entry.ReplyVtag
	FieldDCCPRole                        // Entry.DCCPRole
)

// Has reports whether every bit of g is set in f.
func (f Field) Has(g Field) bool { return f&g == g }

// Tuple is one direction of a connection: the addresses and protocol
// identifiers conntrack matches packets on, with that direction's counters
// and zone.
type Tuple struct {
	Src, Dst netip.Addr

	// SrcPort and DstPort are the ports of TCP, UDP, UDP-Lite, SCTP and
	// DCCP. For GRE they hold the source and destination keys, as in the
	// kernel's tuple and in ctnetlink.
	SrcPort, DstPort uint16

	// ICMPType, ICMPCode and ICMPID identify an ICMP or ICMPv6 exchange.
	ICMPType, ICMPCode uint8
	ICMPID             uint16

	// Zone is the direction's zone, when the entry's zone applies to one
	// direction only (FieldOrigZone, FieldReplyZone).
	Zone uint16

	// Packets and Bytes count the direction's traffic when accounting is on
	// (nf_conntrack_acct=1; FieldOrigCounters, FieldReplyCounters).
	Packets, Bytes uint64
}

// Entry is one connection-tracking entry: every value a /proc/net/nf_conntrack
// line, a conntrack-tools line or a ctnetlink message can carry. Optional
// values are valid only when their bit is set in Fields.
type Entry struct {
	Family Family
	Proto  Proto

	// Fields says which optional values below are present.
	Fields Field

	// State is the protocol state (TCP, SCTP, DCCP; FieldState).
	State State

	// Status is the IPS_* bit set. Text sources only show part of it: a line
	// without [UNREPLIED] has SEEN_REPLY, [ASSURED], [OFFLOAD] and
	// [HW_OFFLOAD] set their bits, and nothing else can be known.
	Status Status

	// Timeout is the number of seconds before the entry expires unless more
	// traffic is seen (FieldTimeout).
	Timeout uint32

	// Orig is the original direction's tuple, Reply the tuple the reply is
	// expected to carry (NAT shows up as the difference between the two).
	Orig, Reply Tuple

	// Master is the original tuple of the entry this one was expected by
	// (an FTP data flow's control connection, a SIP media flow's
	// signalling), and MasterProto its protocol, which may differ from
	// Proto (RTP over UDP expected by SIP over TCP): ctnetlink's
	// CTA_TUPLE_MASTER (FieldMaster). The kernel sends no zone and no
	// counters in it. No text format prints it (conntrack -E, -L and
	// /proc do not).
	Master      Tuple
	MasterProto Proto

	// OrigVtag and ReplyVtag are an SCTP entry's verification tags, the
	// one the original direction's packets carry and the reply's
	// (CTA_PROTOINFO_SCTP_VTAG_ORIGINAL and _REPLY; FieldOrigVtag,
	// FieldReplyVtag). The kernel sends them with the state, except in
	// destroy events. No text format prints them.
	OrigVtag, ReplyVtag uint32

	// DCCPRole is the role of a DCCP entry's original direction
	// (CTA_PROTOINFO_DCCP_ROLE; FieldDCCPRole), sent as the vtags are. No
	// text format prints it.
	DCCPRole DCCPRole

	Mark    uint32 // connmark (FieldMark)
	Secmark uint32 // security mark (FieldSecmark)
	Zone    uint16 // conntrack zone for both directions (FieldZone)
	Use     uint32 // reference count (FieldUse)
	ID      uint32 // conntrack id, a hash that is reused (FieldID)

	// Secctx is the security context name (FieldSecctx).
	Secctx string
	// Helper is the name of the conntrack helper attached (FieldHelper).
	Helper string
	// Labels are the connlabels set, by name, or by bit number in decimal
	// when no name is known (FieldLabels).
	Labels []string

	// Start and Stop are the kernel's timestamps of the entry's creation and
	// destruction (nf_conntrack_timestamp=1; FieldStart, FieldStop).
	Start, Stop time.Time

	// GRETimeout and GREStreamTimeout are the GRE tracker's own timeouts in
	// seconds, which /proc prints where other protocols print a state
	// ("timeout=30, stream_timeout=180"); ctnetlink does not carry them
	// (FieldGRETimeouts).
	GRETimeout, GREStreamTimeout uint32

	// DeltaTime is the entry's age in seconds as a text source printed it:
	// /proc prints now - start, conntrack-tools (stop or now) - start
	// (FieldDeltaTime). Whoever holds a clock computes it for live entries.
	DeltaTime uint64
}

// Unreplied reports whether the entry is [UNREPLIED].
func (e *Entry) Unreplied() bool { return e.Status.Unreplied() }

// Assured reports whether the entry is [ASSURED].
func (e *Entry) Assured() bool { return e.Status.Assured() }

// EventType says what happened to an entry.
type EventType uint8

// The event types. EventSnapshot marks an entry read from a table listing
// (/proc, conntrack -L, a dump) rather than reported as a change.
const (
	EventUnknown EventType = iota
	EventNew
	EventUpdate
	EventDestroy
	EventSnapshot
)

var eventTypeNames = [...]string{"unknown", "new", "update", "destroy", "snapshot"}

// String returns the type's name as the JSON contract's "event" key carries
// it.
func (t EventType) String() string {
	if int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return "unknown"
}

// ParseEventType returns the event type named as String prints it.
func ParseEventType(s string) (EventType, bool) {
	for i, n := range eventTypeNames {
		if i != int(EventUnknown) && n == s {
			return EventType(i), true
		}
	}
	return EventUnknown, false
}

// Origin names the userspace program that caused an event through
// ctnetlink (for example conntrack -D, or kube-proxy flushing entries). The
// zero Origin means the kernel caused the event.
type Origin struct {
	// PortID is the netlink port id of the socket the request came from.
	PortID uint32
	// PID is the process holding that socket, 0 when unknown.
	PID int32
	// Program is that process's command name, "" when unknown.
	Program string
}

// IsZero reports whether o names no program.
func (o Origin) IsZero() bool { return o.PortID == 0 }

// Event is one change to the connection-tracking table, or one entry of a
// table listing.
type Event struct {
	Type EventType
	// Time is when the event happened: the kernel's event timestamp, the
	// time it was received, or a text line's [sec.usec] prefix. The zero
	// Time means unknown.
	Time time.Time
	// Origin is the userspace program behind the event, if any.
	Origin Origin
	// NetNS is the network namespace the event came from, relative to the
	// socket that received it; the zero NetNS is that socket's own.
	NetNS NetNS
	Entry Entry
}

// NetNS says which network namespace an event came from, as the socket
// that received it names it: its own namespace, or a peer namespace by the
// namespace id (nsid) the peer has in the socket's namespace, the number
// `ip netns list-id` shows there. Only a socket listening to every
// namespace (NETLINK_LISTEN_ALL_NSID) receives peers' events. An nsid is
// only meaningful in the namespace that assigned it, and only while the
// peer lives: the kernel may give it to another namespace later.
//
// The zero NetNS is the receiving socket's own namespace, so that every
// event made without a namespace in mind (a dump, a text line, an inferred
// end) is local. NetNS is comparable, to key per-namespace state.
type NetNS struct {
	// Peer is set for an event of another namespace than the receiving
	// socket's.
	Peer bool
	// NSID is the peer's namespace id in the receiving socket's
	// namespace, 0 or more; it is 0, and meaningless, unless Peer is set.
	NSID int32
}

// PeerNetNS returns the NetNS of the peer namespace with id nsid.
func PeerNetNS(nsid int32) NetNS { return NetNS{Peer: true, NSID: nsid} }

// Local reports whether n is the receiving socket's own namespace.
func (n NetNS) Local() bool { return !n.Peer }
