// Package flow turns the conntrack event stream into what it means for each
// flow: the transitions between its states ("SYN_SENT → ESTABLISHED in
// 0.4 ms"), flows nobody answers ("this heartbeat has had no answer for
// 5 s"), and a lifecycle summary when a flow ends ("lived 93 s, moved 2 MB,
// ended with a reset").
//
// The package is pure: no netlink, no clock. Time comes from the events
// (model.Event.Time) and from the now and dumpStart arguments.
//
// # Flows and keys
//
// A [Tracker] follows the flows of one network namespace, or of every
// namespace one socket listens to (NETLINK_LISTEN_ALL_NSID): the
// namespace an event came from (model.Event.NetNS) is part of its flow's
// key, so the same 5-tuple in two namespaces is two flows, each with its
// own lifecycle, and the unreplied detector counts repeats per namespace
// too. Within a namespace a flow is keyed by its zone, its original tuple
// (family, protocol, addresses, and ports, ICMP type, code and id, or GRE
// keys) and its conntrack id. Conntrack ids are 32-bit hashes that come
// back when the kernel re-creates a flow with the same tuple, so the key
// names a flow only while it lives: a NEW for a key still tracked means
// the earlier flow ended unseen (its DESTROY was lost), and the tracker
// reports that end as inferred (Result.Ended) before following the new
// flow.
//
// Per flow the tracker keeps a fixed-size record of 152 bytes without
// pointers or strings — key, first-seen and last-seen times, reply and
// assured times, status bits, state, path of states, mark, a hash of the
// labels, last known counters, list links — in a slab of 1024-record
// chunks, found through an open-addressing table of 8-byte slots, with the
// reply tuple stored apart only for flows whose reply tuple is not the
// inverse of the original one (NAT), and the master tuple (the flow's
// master, FieldMaster) apart again only for flows created through an
// expectation, so that an inferred end carries it as a DESTROY would.
// BenchmarkMemory measures 168 bytes per flow at a million flows (208 when
// every flow is NATed, 248 when every flow has a master), and the garbage
// collector has nothing to scan. Config.MaxFlows bounds the flows:
// the least recently seen flow is evicted (forgotten without a lifecycle,
// counted in Stats.Evicted and Result.Evicted) to make room.
//
// Events can be lost (a socket overrun), and with the default
// nf_conntrack_events=2 flows created before any listener never send an
// UPDATE or DESTROY. The tracker copes: an UPDATE or DESTROY for a flow it
// does not know starts tracking it with seen_from "event" (Result.Known is
// false); [Tracker.Seed] takes the entries of the startup dump; and
// [Tracker.Reconcile] (or [Tracker.ReconcileNetNS], for one namespace of
// several: a namespace's dump says nothing of another's flows) compares
// the tracker with a later dump, reporting flows that vanished as inferred
// ends. Ended flows leave a bounded number of tombstones
// (Config.Tombstones) so that a dump taken while they ended does not bring
// them back. [Tracker.EndNetNS] ends every flow of a namespace that is
// gone. Every inferred end says why ([InferReason]: reconcile, reused,
// netns_gone). [Tracker.NetNSCounts] tells, per namespace, how many flows
// are tracked and how many of them only a dump has shown, which are the
// flows that may need a later dump to be seen ending.
//
// # Transitions
//
// An UPDATE or DESTROY of a tracked flow that changes more than its
// timeout and counters yields a [Transition], written under the key
// "transition":
//
//	{"from":"SYN_RECV","to":"ESTABLISHED","gained":["ASSURED"],"lost":[],"after_s":0.000557}
//
// from and to are the protocol states, present only when the state
// changed (and only for TCP, SCTP and DCCP). gained and lost are always
// present, possibly empty, so that the schema does not depend on the
// event: first the /proc labels UNREPLIED, ASSURED, OFFLOAD and HW_OFFLOAD
// (in that order), then any other status bit by its name (SRC_NAT_DONE,
// HELPER, ...) in bit order. SEEN_REPLY is never listed: the first reply
// appears as "lost":["UNREPLIED"], which says the same. DYING is never
// listed: the kernel sets it on every entry it destroys. changed lists
// other attributes that changed ("mark", "labels"), and is present only
// when one did. after_s is the time since the flow began (or since it was
// first seen, see seen_from), in seconds rounded to the microsecond.
//
// A NEW, and the first sight of a flow, have no transition: there is
// nothing to compare with. An UPDATE that changes nothing else is still
// counted (Stats.Unchanged, Result.Changed false) so that --updates changes
// can skip it.
//
// # Lifecycles
//
// Every DESTROY yields a [Lifecycle], written under the key "flow":
//
//	{"path":["SYN_SENT","SYN_RECV","ESTABLISHED","FIN_WAIT","LAST_ACK","TIME_WAIT"],
//	 "duration_s":2.074288,"reply_after_s":0.000549,"assured_after_s":0.000557,
//	 "outcome":"closed","seen_from":"new",
//	 "orig_packets":6,"orig_bytes":326,"reply_packets":4,"reply_bytes":222}
//
// path lists the protocol states the flow went through, consecutive
// repeats collapsed (TCP, SCTP, DCCP only); it holds at most 16 states,
// and a longer history keeps the first 15 and the last, with
// "path_truncated":true. duration_s runs from the flow's start to its end.
// reply_after_s and assured_after_s are the times from its start to its
// first reply and to ASSURED, absent when that never happened or the
// tracker does not know when (a flow first seen already answered).
// seen_from says how the tracker first learnt of the flow: "new" (its NEW
// event: times are exact), "event" (an UPDATE or DESTROY: its NEW was lost
// or came before the tracker listened), or "snapshot" (a dump).
// "lower_bound":true appears when the flow's start is unknown — not seen
// from its NEW and no kernel start timestamp (nf_conntrack_timestamp=1) —
// so that the durations count from its first sight and are lower bounds.
// "inferred":true appears on an end that no DESTROY announced; its
// duration_s ends at the flow's last event. The final counters
// orig_packets, orig_bytes, reply_packets and reply_bytes appear when the
// kernel counts (nf_conntrack_acct=1); for an inferred end they are the
// last known, from a dump.
//
// # Outcomes
//
// outcome says how the flow ended, in one word in the spirit of Zeek's
// conn_state. The rules are tried in this order and the first that matches
// wins: what happened on the wire (closed, reset, rejected) comes before
// who removed the entry (deleted), which comes before what did not happen
// (unreplied) and the default end (timeout). Only TCP and SCTP can be
// closed, reset or rejected; other protocols (DCCP included) end deleted,
// unreplied, timeout or unknown.
//
//   - closed: an orderly close. TCP: both sides sent a FIN (the flow
//     reached LAST_ACK or TIME_WAIT), whatever came after — a RST in
//     TIME_WAIT, the expiry of TIME_WAIT, or a deletion. SCTP: the
//     SHUTDOWN handshake went as far as SHUTDOWN_ACK_SENT.
//   - reset: the connection was established and then aborted. TCP: it
//     reached CLOSE after being established (ESTABLISHED, a FIN state, or
//     ASSURED) without both FINs — a RST, including one after a single
//     FIN. SCTP: it is CLOSED after ESTABLISHED without a SHUTDOWN
//     handshake (an ABORT).
//   - rejected: the connection attempt was refused. TCP: it reached CLOSE
//     without being established, either with a reply seen (a RST after
//     SYN_RECV), or while still [UNREPLIED] when the kernel killed it with
//     time left on its timeout — the kernel kills an unreplied entry as
//     soon as a RST passes, which is how a refused connect (SYN answered
//     by RST) ends; with accounting on, the RST must have been counted in
//     the reply direction (else the originator aborted its own attempt,
//     and the flow is unreplied). SCTP: CLOSED with a reply but never
//     ESTABLISHED (an ABORT in answer to INIT).
//   - deleted: a userspace program removed the entry (conntrack -D,
//     conntrack -F, kube-proxy): the DESTROY carries a non-zero
//     Origin.PortID. It wins over unreplied: an entry deleted before its
//     answer came was not shown to be unanswered — the unreplied detector
//     reports flows that stayed unanswered for Config.UnrepliedAfter.
//   - unreplied: no reply was ever seen: a SYN nobody answered, a
//     datagram or ping without answer, whether it expired or the kernel
//     dropped it early. An unreplied UDP flow that expires is unreplied,
//     not timeout.
//   - timeout: the entry expired with nothing else to say: the DESTROY
//     came from the kernel's garbage collector, which on Linux 6.18 sends
//     it without a timeout attribute (older kernels may send 0; both
//     count). The normal end of answered UDP and ICMP flows, of idle
//     established TCP connections and of half-open ones (SYN_RECV).
//   - unknown: nothing above fits: the kernel removed an answered entry
//     before its timeout ran out without a userspace request (early drop
//     when the table is full, a cleanup when an interface or NAT rule
//     goes away, the namespace's end), or an inferred end of an answered,
//     unfinished flow, whose cause is not known.
//
// # Unreplied flows
//
// [Tracker.Expire] reports each flow still [UNREPLIED]
// Config.UnrepliedAfter after it began, once, as an [Unreplied] whose
// keys follow the entry's:
//
//	{"first_seen":"2026-11-22T04:00:18.882881000Z","age_s":5.117119,"repeats":3,
//	 "repeats_since":"2026-11-22T04:00:16.880282000Z","seen_from":"new"}
//
// repeats counts the unreplied flows to the same destination (zone,
// protocol, destination address and port, or ICMP type and code) in the
// current run, this one included: a heartbeat whose peer never answers
// opens a new flow every interval, and the count grows 1, 2, 3, .... A
// run lasts while each unreplied flow comes within Config.RepeatWindow of
// the previous one and ends when the destination answers a flow;
// repeats_since is when it began. The destinations are kept in a table
// bounded by Config.MaxDestinations, least recently reported forgotten
// first.
//
// A scan or a DNS storm makes thousands of unreplied flows at once. The
// detector reports at most Config.UnrepliedBurst of them one by one per
// Config.UnrepliedInterval; the interval's others are counted into one
// [UnrepliedSummary] ([Tracker.ExpireSummary]) with the flows' count and
// the busiest destinations and ports, so that 2000 unanswered destinations
// are a handful of records that still count all 2000. Repeats are counted
// for every flow, reported or summarised.
package flow
