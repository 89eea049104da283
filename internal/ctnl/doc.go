// Package ctnl is ctwatch's one ctnetlink wire layer: the numbers of the
// kernel's netlink, nfnetlink and ctnetlink headers as typed constants, the
// walking of a datagram's messages and of a message's attributes, the
// encoding of requests, and (on Linux) the request/reply exchange with its
// deadline. pkg/events, internal/ctstat, ctbench and the tests all speak
// ctnetlink through it, so that no other file restates a header's value.
//
// Walking and encoding allocate nothing: the event path runs every message
// through NextMessage and NextAttr, and ctbench's generator builds its
// requests with the Append functions into one reused buffer. NextAttr is
// small enough for the compiler to inline into the decoders' loops, which
// is a sixth of the event decoder's time.
//
// Byte order: netlink headers (struct nlmsghdr, struct nlattr) are in host
// order; ctnetlink's payloads, and nfgenmsg's resource id, are big-endian.
package ctnl
