// Package origins names the program behind a conntrack event that a
// userspace request caused (conntrack -D, a flush by kube-proxy, a rule
// set by a daemon): the event carries the netlink port id of the socket
// that sent the request (model.Origin.PortID), and a [Resolver] turns it
// into the pid and command name of the process holding that socket.
//
// The kernel publishes which socket a port id belongs to in the
// namespace's /proc/net/netlink, and which process holds a socket only in
// the fd links of /proc/PID/fd: so the resolver reads the former through
// one file opened in the watched namespace, walks the latter, and caches
// the names it finds by port id, since events from one program come in
// bursts and the program (a short-lived conntrack -D) may be gone by the
// time its last event is read. Each event's arrival decides whether the
// table must be read again for it: only a read after the event arrived
// can say its socket is gone.
//
// Reading /proc/net/netlink and /proc/PID is Linux-only and lives in
// _linux.go files; the parsers of their text are pure and build everywhere,
// so that they can be fuzzed.
package origins
