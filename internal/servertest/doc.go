// Package servertest starts real servers for tests: rsyslog, with inputs on
// loopback ports and sockets of the test's own, and NATS with JetStream,
// embedded or as a nats-server process. It is imported only by tests and
// benchmarks (of internal/syslog, internal/jetstream, internal/watch and
// integration/); nothing in the ctwatch binary uses it.
//
// A server the machine does not have makes the test skip, or fail under CI
// (CI set), where the project's scripts/install-deps.sh has installed it.
package servertest
