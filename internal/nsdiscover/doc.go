// Package nsdiscover finds every network namespace of the host, names each
// (inode, namespace id, name, a process, its container and pod), and keeps
// the map from namespace ids to namespaces that a socket listening to all
// namespaces (NETLINK_LISTEN_ALL_NSID) needs to say where each message came
// from.
package nsdiscover
