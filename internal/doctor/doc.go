// Package doctor holds the checks behind `ctwatch doctor`: whether this host
// (or namespace) is set up for ctwatch to see every connection, and what to
// change when it is not.
//
// The checks are pure functions of their readings, an [Input] that the
// command gathers (capabilities, a ctstat reading, the sysctls named in
// [SysctlNames]), so that every verdict can be tested without a kernel. Each
// check ends in a [Status] (ok, warn or fail) with a sentence saying what was
// found and, unless it is ok, one saying how to fix it.
//
// The thresholds, and why:
//
//   - table_fill warns at 80 % of nf_conntrack_max and fails at 95 %: past
//     that, one burst of new flows fills the table and the kernel drops
//     packets of flows it cannot track.
//   - hash_size warns when nf_conntrack_max exceeds 8 entries per bucket of
//     nf_conntrack_buckets (older kernels defaulted to 4 or 8, recent ones to
//     1): raising the limit without the buckets lengthens every hash chain,
//     and the kernel counts insertions refused for a too long chain
//     (chaintoolong), which also warns.
//   - tcp_timeout warns above one day of nf_conntrack_tcp_timeout_established
//     (the kernel's default is five days): connections that die silently keep
//     their entries that long.
//   - udp_timeouts warns above 120 s of nf_conntrack_udp_timeout or 600 s of
//     nf_conntrack_udp_timeout_stream (defaults 30 s and 120 s), which keep
//     one-shot exchanges such as DNS queries in the table.
package doctor
