// Package ctstat reads the connection-tracking table's statistics over
// ctnetlink: how many entries the table holds and may hold, and conntrack's
// per-CPU counters (found, invalid, insert, drop, early_drop, ...).
//
// It talks to the kernel directly rather than through /proc/net/stat and
// nf_conntrack_count, which recent kernels may be built without, and rather
// than through ti-mo/conntrack's StatsGlobal: the kernel answers
// IPCTNL_MSG_CT_GET_STATS with one message flagged NLM_F_MULTI that no
// NLMSG_DONE ever follows, so a reader waiting for the end of a multipart
// reply waits forever. Read asks for an acknowledgement and takes it as the
// end of the reply; every request is bounded by a deadline.
//
// The per-CPU counters are the kernel's 32-bit unsigned integers, which wrap.
// [CPUStats.Sub] computes deltas modulo 2^32, which is exact across a wrap
// as long as a counter grew by less than 2^32 between two readings.
package ctstat
