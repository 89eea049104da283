// Package events is the netlink side of ctwatch's event stream: it decodes
// ctnetlink conntrack messages into [model.Event], owns the multicast socket
// the kernel sends events to ([Subscriber]), dumps the table at startup
// ([Dump]) and accounts for every event lost on the way (the socket's drop
// counter). An event a userspace request caused carries the port id of the
// requesting socket, which internal/origins resolves to the program behind
// it.
//
// # Decoding
//
// [DecodeFast] turns one IPCTNL_MSG_CT_NEW or IPCTNL_MSG_CT_DELETE message,
// as read from the socket, into a model.Event: it walks the raw message's
// attributes itself and allocates nothing, so that the event path and
// [Dump] cost no garbage per entry. An Entry's presence bits name exactly
// the attributes the kernel sent (not whether a value is zero), including
// what libraries drop: the kernel's event timestamp CTA_TIMESTAMP_EVENT of
// Linux 6.14, CTA_SECMARK, the labels. Labels are written by the names
// of a [model.LabelNames] table when one is given ([Config.Labels],
// [DumpNamed]), as conntrack -o labels names them, and by bit number
// otherwise; naming costs nothing per event either.
//
// The grammar is github.com/ti-mo/conntrack's, which stays the reference:
// the package's tests decode every message through ti-mo as well, and
// FuzzDecodeDifferential holds the two to accepting and refusing the same
// messages and decoding them to the same events. It also states the few
// rules by which DecodeFast departs from ti-mo, where ti-mo is wrong about
// what the kernel sends or would refuse what a newer kernel may send.
// Chief among the latter: like libnetfilter_conntrack, DecodeFast skips
// attributes of types it does not know inside nests as at the top level,
// so that a kernel that adds one to a nest does not turn every event into
// a decode failure. What it knows it still checks: lengths, the sizes of
// known attributes, NLA_F_NESTED on top-level nests, and each nest's
// minimum number of children, of known types.
//
// # Expectations
//
// A subscription with expectation types ([TypeExpectNew],
// [TypeExpectDestroy]; "expect" in [ParseTypes]) also joins
// NFNLGRP_CONNTRACK_EXP_NEW and _DESTROY, and [DecodeExpect] turns their
// NFNL_SUBSYS_CTNETLINK_EXP messages into [model.ExpectEvent]s, allocating
// nothing either. They are delivered in [Batch].Expects, beside the
// connection events rather than among them, each with its place among
// them (ExpectEvent.At): a connection event's slot stays the size of an
// entry. Expectation messages that do not decode are failures as any, and
// counted alike; expectation events take no sequence number. The kernel
// never sends to NFNLGRP_CONNTRACK_EXP_UPDATE. [DumpExpect] lists the
// expectation table (IPCTNL_MSG_EXP_GET), its reads bounded as [Dump]'s.
//
// # Dump filters
//
// [DumpFiltered] asks the kernel to list only the entries a [DumpFilter]
// selects: a family, a mark under a mask, status bits, a zone, exact
// values of the original and reply tuples (ctnetlink's dump filter). Every
// part compares exactly, so a caller gives the kernel the part of its own
// filter that the kernel expresses, and matches what the dump lists
// against the rest; a kernel that refuses the filter fails the dump with
// [ErrFilterRefused], before any entry. IPv6 addresses are refused: the
// kernel compares them inverted.
//
// # Loss accounting
//
// Events are lost in one place only, and it is counted ([Stats]): in the
// kernel, when the socket's receive buffer is full (the socket's
// SK_MEMINFO_DROPS, exact, one per event). [Subscriber.Receive] hands the
// caller what it read on the caller's own goroutine, with no queue in
// between, so a caller that falls behind leaves the events in the socket's
// buffer, where an overflow is counted, rather than losing them uncounted.
// Every message read is delivered, as an event or a [DecodeFailure];
// batches carry sequence numbers of their events. A socket filter
// ([Config.Filter]) is not a loss: the events it refuses are never queued,
// and the kernel counts them nowhere.
//
// # Every namespace
//
// With [Config.AllNetNS] the socket sets NETLINK_LISTEN_ALL_NSID and also
// receives the events of other network namespaces: of each one that has a
// namespace id (nsid) in the socket's namespace (RTM_NEWNSID, as `ip netns
// set NAME auto` assigns one) and over whose user namespace the socket's
// creator has CAP_NET_BROADCAST (root has it over all). A namespace without
// an nsid there delivers nothing. The kernel attaches the nsid to each
// datagram as a control message, and every event of it carries the nsid
// in [model.Event].NetNS; events of the socket's own namespace are local
// (the zero NetNS), unless that namespace has an id in itself, when they
// carry that id. The drop counter is the socket's, for all namespaces
// together: a lost event's namespace cannot be known.
//
// Everything that touches a socket is Linux-only and lives in _linux.go
// files.
package events
