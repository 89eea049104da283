//go:build integration

// Package nstest gives integration tests a network namespace of their own on
// the real kernel, and the tools to drive connection tracking inside it.
//
// Every namespace has a unique name, is removed in the test's cleanup even
// when the test fails, and only ever carries traffic on its own loopback.
// Tests never switch their own thread's namespace: netlink sockets are dialled
// with netlink.Config{NetNS: fd}, commands run under "ip netns exec", and the
// few sockets that must be created inside the namespace are made by Do, which
// locks a thread, switches it and switches it back.
package nstest
