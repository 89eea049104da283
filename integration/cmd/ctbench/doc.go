//go:build integration

// Command ctbench is ctwatch's side-by-side benchmark: it generates a known
// number of conntrack events in a network namespace of its own and measures
// what each monitor (ctwatch watch, conntrack -E with the kernel's default
// and with an 8 MiB receive buffer, ulogd2 with NFCT input and JSON output,
// and a minimal Go reader as the floor) receives, loses, and costs in CPU
// time and memory per event.
//
// Run it as root from the repository's root, through make, which builds
// bin/ctwatch first:
//
//	make bench-e2e                                   # default matrix, tables on stdout
//	make bench-e2e BENCHARGS='-write docs/performance.md'
//	make bench-e2e BENCHARGS='-loads ctnetlink -rates 150000,max -runs 5'
//
// # Loads
//
// The load generator is ctbench itself, re-executed as "ctbench gen" inside
// the namespace and pinned to one core (taskset); the monitors are pinned to
// another. Each load yields an exact number of events:
//
//   - tcp: connects to a closed port on 127.0.0.1; each SYN is answered by
//     a RST, which gives exactly one NEW and one DESTROY.
//   - udp: a datagram to a new port (one NEW), then, in the same tick, a
//     ctnetlink delete of its entry (one DESTROY); the input hook drops the
//     datagrams so that no ICMP error is sent back.
//   - ctnetlink: batched ctnetlink create, update (a new mark) and delete
//     requests, as kube-proxy's or conntrack -D's flushes send them; each
//     entry gives one NEW, one UPDATE and one DESTROY.
//
// Rates are events per second, paced in batches per tick of about a
// millisecond from the absolute elapsed time, so that the average rate is
// exact whatever the timer's jitter; "max" is as fast as the generator's
// core allows. Before the measurements of each load, a calibration run at
// full speed counts the events with a raw listener whose buffer cannot
// overflow and checks the count, type by type, against the expectation.
//
// # The netns part
//
// The whole-node comparison (issue 13), run after the matrix (-parts
// matrix,netns by default; -parts netns alone): -netns-count namespaces of
// the benchmark's own (100 by default), the ctnetlink load spread evenly
// over them by one generator process ("ctbench gen -netns A,B,...", in the
// harness's namespace, one ctnetlink socket opened inside each, each tick's
// batch to the next namespace in turn), -netns-events at -netns-rate in
// all. Per run, in turn:
//
//   - ctwatch watch --all-netns in the harness's namespace, measured once
//     it has written a netns_added record for each namespace; only the
//     records naming one of them (by name, or by inode) are counted;
//   - ctwatch watch --netns ONE with the same total load in one namespace,
//     the baseline;
//   - one conntrack -E per namespace, their CPU times, peak RSS, drops and
//     records summed.
//
// The targets: --all-netns's CPU per event at most 1.1 × the baseline's and
// 0.5 × that of the N conntrack -E, its peak RSS at most 1.5 × the
// baseline's, and every event of every namespace received and named. Until
// ctwatch has --all-netns, -allnetns-standin measures "ctbench allns" in
// its place (pkg/events with AllNetNS and the nsdiscover Watcher, no
// tracker or encoder): its numbers are shown, never judged.
//
//	go run -tags integration ./integration/cmd/ctbench -parts netns -runs 1
//
// # The bigtable part
//
// A quiet host with a big table (issue 15), with -parts bigtable: a
// namespace of the benchmark's own gets -bigtable-entries (1,000,000)
// UDP entries over ctnetlink, created under nf_conntrack_events=0 so that
// none has the kernel's event extension whatever listeners the host has
// (like entries created before any listener: they never report their
// end); the host's nf_conntrack_max is raised for it and restored, and
// the part is skipped when the memory available is short. Pinned to the
// monitor CPU, in turn:
//
//   - three runs of ctwatch watch --snapshot, its output read by the
//     harness, each against conntrack -L: the time to ctwatch's dump
//     record (to the end of the listing for conntrack -L), and every
//     entry's snapshot record counted: none may be lost;
//   - ctwatch left idle for -bigtable-window (5 minutes) in that namespace
//     and in an empty one, each started under nf_conntrack_events=1 and
//     under 2 (the namespace's sysctl, read by ctwatch at startup): the
//     CPU time of each over the window after its startup dump, and the
//     reconciliations it recorded. -bigtable-baseline BINARY measures an
//     earlier ctwatch beside it, the same way.
//
// The targets: no snapshot record lost; reconciling under
// nf_conntrack_events=2 in the namespace of the entries at most 1 % of a
// core; idle in the empty namespace at most 0.05 ms of CPU per second.
// The part takes about 7 minutes.
//
//	go run -tags integration ./integration/cmd/ctbench -parts bigtable
//
// # The filter part
//
// The cost of a narrow filter (issue 14), run last (-parts filter alone):
// per load of -filter-loads (tcp, ctnetlink) a fresh namespace and the load
// at full speed with one operation in -filter-every (100: 1 % of the
// events) sent to destination port 7 instead of the load's own ("ctbench
// gen -match-every N", the operations rounded up to a multiple of N), so
// that the filter --proto P --dport 7 matches an exact, known share. Its
// calibration ("ctbench floor -match-dport 7") counts all the events and the
// matching ones. Per run, in turn, on the same load:
//
//   - ctwatch watch without a filter: the baseline;
//   - ctwatch watch --proto P --dport 7, with --kernel-filter where
//     `ctwatch watch --help` lists the flag: the target is judged on it;
//   - the same with --kernel-filter=false, filtered in userspace; "not
//     available" for a ctwatch without the flag;
//   - conntrack -E -p P --dport 7, for reference.
//
// CPU per event is per event of the load (generated, of the subscribed
// types), not per record written. The target: the filtered watch's CPU per
// event at most 0.1 × the unfiltered watch's, no kernel drop, and exactly
// the matching records, type by type, in every run.
//
//	go run -tags integration ./integration/cmd/ctbench -parts filter -runs 1
//
// # Measurements
//
// For each monitor, load, rate and run: the monitor is started and waited
// for until its socket has joined the conntrack groups (the namespace's
// /proc/net/netlink); the load is generated; the monitor is waited for until
// it has drained (its socket's Rmem is 0 and its output has stopped
// growing); its CPU time (the process's CPU clock, all threads, user and
// system), write(2) calls, peak RSS and socket drops are read; it is stopped
// and its output records are counted by type.
//
// Other processes' load distorts all of this, so a measurement starts only
// on a quiet machine (-quiet, within -quiet-timeout and -quiet-budget), the
// CPU time others took during it is measured from /proc/stat, and a
// measurement they disturbed beyond -max-interference is repeated (-retries).
// Every run's raw numbers can be saved with -json FILE and printed (and
// written with -write) again with -render FILE.
//
// Internal subcommands, used by the harness only:
//
//	ctbench gen -load tcp|udp|ctnetlink -events N -rate R [-netns A,B,...] [-match-every N]
//	ctbench floor -buffer BYTES [-match-dport P] -out FILE
//	ctbench allns -out FILE
package main
