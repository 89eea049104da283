// Package servertest starts real servers for tests: rsyslog, with inputs on
// loopback ports and sockets of the test's own. It is imported only by tests
// (of internal/syslog, internal/output and integration/); nothing in the
// ctwatch binary uses it.
//
// A server the machine does not have makes the test skip, or fail under CI
// (CI set), where the project's scripts/install-deps.sh has installed it.
package servertest
