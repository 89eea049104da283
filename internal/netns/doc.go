// Package netns names a network namespace the way ctwatch's --netns flag
// does and opens it, so that netlink sockets can be dialled inside it
// (netlink.Config{NetNS: h.FD()}) and per-namespace files (/proc/sys/net,
// /proc/net) can be read there without moving the whole process.
//
// A namespace is named by one of:
//
//   - "" for the caller's own namespace;
//   - a NAME, as created by "ip netns add", opened under /run/netns;
//   - a PATH (anything containing '/'), e.g. /proc/1234/ns/net or a bind
//     mount;
//   - a PID (all digits), whose namespace is /proc/PID/ns/net.
//
// A namespace's identity is its nsfs inode number ([Handle.ID]): two names
// for the same namespace open handles with the same ID.
//
// A namespace nothing but ctwatch holds any more is orphaned
// ([Handle.Orphaned]); [Handle.WatchRemoval] says when the name a handle
// was opened by is removed, so that a watch need not ask periodically.
package netns
