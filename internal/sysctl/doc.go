// Package sysctl reads, and for tests writes, the sysctls of a chosen network
// namespace.
//
// The files under /proc/sys/net resolve against the network namespace of the
// thread that opens them, not against the namespace a descriptor names, so
// reading another namespace's values needs a thread that is switched into it:
// the package locks a fresh goroutine to its OS thread, setns(2)es it into the
// target, opens and reads the files, and switches back. Should switching back
// fail, the goroutine exits still locked, which makes the Go runtime retire
// the thread instead of reusing one stranded in the wrong namespace.
//
// Names are written as sysctl(8) prints them, "net.netfilter.nf_conntrack_max";
// a name containing '/' is taken as a path below /proc/sys, so that
// components which themselves contain dots (an interface named "eth0.10")
// can be named. Only the net.* tree is per-namespace: the rest of /proc/sys
// reads the same from every namespace.
package sysctl
