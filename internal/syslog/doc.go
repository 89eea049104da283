// Package syslog delivers records to a syslog server: RFC 5424 messages
// over UDP, over TCP with RFC 6587 octet counting, over RELP (TCP, every
// message acknowledged), or to a local unix socket such as /dev/log.
//
// # Targets
//
// [ParseURL] reads the forms of `--output`: syslog+udp://HOST[:PORT],
// syslog+tcp://HOST[:PORT] (port 514 when absent),
// syslog+relp://HOST[:PORT] (port 2514 when absent) and syslog+unix:///PATH,
// each optionally with ?facility=NAME (daemon by default). A wrong URL is a
// *[URLError] that names the wrong part (scheme, host, port, path, query,
// facility...).
//
// # Messages
//
// One record is one message, <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID
// MSGID STRUCTURED-DATA MSG ([Format.Append]):
//
//   - PRI is facility × 8 + severity, the severity from the record's
//     zerolog level ([SeverityOf]: debug 7, info 6, warn 4, error 3).
//   - TIMESTAMP is the time of sending, UTC, RFC 3339 with microseconds
//     (the record's own time is in its JSON).
//   - HOSTNAME is the host's name, APP-NAME ctwatch, PROCID the pid, MSGID
//     the record's kind when the caller gives it ([Record.Kind]), else "-".
//   - STRUCTURED-DATA is "-" by default. An SD-ID of ctwatch's own would
//     need an IANA private enterprise number, which ctwatch does not have
//     (32473 is reserved for documentation, RFC 5612); seq and run are in
//     the JSON anyway. An operator who has a number of their own sets
//     [FormatConfig.EnterpriseNumber] and gets [ctwatch@N seq="…" run="…"],
//     which a collector can read without parsing the JSON.
//   - MSG is the JSON record as the encoder wrote it, byte for byte,
//     without a BOM: RFC 5424 allows MSG-ANY, and a BOM in front of JSON
//     breaks every JSON parser downstream (RFC 8259 forbids it).
//
// Header fields hold printable ASCII only, cut to RFC 5424's lengths.
// Formatting appends into the client's reused buffers: 0 allocations per
// message (TestAppendAllocs).
//
// # Sending
//
// A [Client] is used by one goroutine, the output's, which owns its
// socket. [Client.Send] takes records in order and returns how many were
// taken, with an error that says what became of the others:
// errors.Is(err, [ErrRefused]) for a record no server will take (larger
// than [Config.MaxMessage], 8 KiB by default; the caller skips and counts
// it), errors.Is(err, [ErrUnavailable]) for a server that is gone (the
// caller keeps the records in its spool or queue and sends them again).
//
//   - TCP: the messages of a batch are written with one write (up to
//     [Config.BatchBytes]); taken means written to the socket. After a
//     failure the connection is closed and the next Send dials again after
//     a backoff doubling from 100 ms to 30 s with jitter, each attempt
//     counted in [Stats.Retries]. Before a write, a non-blocking peek finds
//     a connection the server closed (a restart), so the first batch after
//     it is not written into a dead socket.
//   - UDP: one datagram per message; taken means sent. A message larger
//     than MaxMessage (at most 65507) is refused with a *[RefusedError];
//     a receiver with no room loses datagrams silently.
//   - unix: a datagram socket like UDP, or, when the socket is a stream
//     (connect gives EPROTOTYPE, as with syslog-ng's unix-stream), one
//     message per line (RFC 6587 non-transparent framing; a record with a
//     raw newline, which JSON never holds, is refused).
//
// Plain syslog has no acknowledgement: a record written to a TCP socket
// that the server then stops without reading is lost, and nothing tells
// the client. A server that is keeping up loses nothing when it restarts;
// one stopped in a burst loses what its socket buffer held
// (TestRsyslogRestart measures it). Delivery that must survive a server
// restart in a burst needs acknowledgements: RELP, or JetStream.
//
// # RELP
//
// RELP (librelp's doc/relp.md; rsyslog's imrelp and omrelp) frames
// commands as TXNR SP COMMAND SP DATALEN [SP DATA] LF and answers each
// with a rsp frame of the same TXNR: "200 OK", or an error code. A session
// starts with open (offers relp_version=0, relp_software=ctwatch,
// commands=syslog; the answer must offer relp_version and syslog) and
// ends with close; a server shutting down may send the hint serverclose
// (TXNR 0). Each message is a syslog command carrying the RFC 5424
// message above.
//
//   - Taken means acknowledged with 200. Send writes up to [Config.Window]
//     messages (128) before reading their answers, which come in order;
//     it returns once every message it wrote is answered.
//   - A broken connection, a serverclose, a malformed or out-of-order
//     frame, or no answer within [Config.AckTimeout] ends the session:
//     the records not answered are not taken (ErrUnavailable) and are sent
//     again on a new session. Delivery is at least once: a server that
//     wrote a message and died before its answer gets it twice.
//   - An answer other than 200 refuses that record (ErrRefused, with the
//     server's answer); the answers to the messages after it are kept, so
//     that they are not sent twice.
//   - rsyslog does not refuse a message over imrelp's maxDataSize: it cuts
//     it and answers 200 (TestRsyslogRELPOversize). MaxMessage, at most
//     maxDataSize, is what refuses a record too large.
//   - librelp numbers 999999999 + 1 as 1000000000, which no frame can
//     carry, where the specification says 1: a session is closed and a new
//     one opened before its numbers run out.
//   - Frames read are bounded ([RELPMaxResponse]): a server cannot make the
//     client allocate what it announces.
//
// imrelp acknowledges a message once its ruleset's queue has it: an
// acknowledged record survives a crash of rsyslog only with a direct queue
// (the actions run before the answer) or a disk queue.
//
// # rsyslog
//
// imtcp and imudp take these messages as they are (rsyslog reads
// octet-counted frames by default). imuxsock, for a unix socket, needs
// useSpecialParser="off" and parseHostname="on" to parse RFC 5424 instead
// of the syslog(3) format; it stamps messages with their arrival time.
// rsyslog's maxMessageSize (8096 by default) must be at least MaxMessage,
// or it cuts long records. The tests run a real rsyslogd with a config of
// their own (skipped when there is none; scripts/install-deps.sh installs
// it).
package syslog
