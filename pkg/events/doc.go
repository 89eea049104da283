// Package events is the netlink side of ctwatch's event stream: it decodes
// ctnetlink conntrack messages into [model.Event], owns the multicast socket
// the kernel sends events to ([Subscriber]), dumps the table at startup
// ([Dump]), names the program behind an event a userspace request caused
// ([Origins]) and accounts for every event lost on the way (the socket's
// drop counter).
//
// # Decoding
//
// [Decode] turns one IPCTNL_MSG_CT_NEW or IPCTNL_MSG_CT_DELETE message into a
// model.Event. The attributes are unmarshalled by github.com/ti-mo/conntrack
// and translated at the boundary ([FromFlow]); what that library cannot tell
// (whether an attribute was sent at all or is merely zero, the kernel's event
// timestamp CTA_TIMESTAMP_EVENT of Linux 6.14, CTA_SECMARK) is read from the
// raw message, so that an Entry's presence bits name exactly the attributes
// the kernel sent.
//
// [DecodeFast] is the event path's decoder: it walks the raw message's
// attributes itself and allocates nothing, at a twentieth of Decode's cost.
// It follows ti-mo's grammar, so that the two accept and refuse the same
// messages and decode them to the same events; FuzzDecodeDifferential holds
// them to that, and states the few rules by which DecodeFast departs from
// ti-mo, where ti-mo is wrong about what the kernel sends or would refuse
// what a newer kernel may send. Chief among the latter: like
// libnetfilter_conntrack, DecodeFast skips attributes of types it does not
// know inside nests as at the top level, so that a kernel that adds one to
// a nest does not turn every event into a decode failure. What it knows it
// still checks: lengths, the sizes of known attributes, NLA_F_NESTED on
// top-level nests, and each nest's minimum number of children, of known
// types. Decode remains the reference.
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
// batches carry sequence numbers of their events.
//
// Everything that touches a socket is Linux-only and lives in _linux.go
// files.
package events
