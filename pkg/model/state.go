package model

import "strconv"

// State is a protocol's connection-tracking state, numbered as the kernel's
// TCP_CONNTRACK_*, SCTP_CONNTRACK_* and DCCP_CONNTRACK_* enumerations. Its name
// depends on the protocol; see [State.Name].
type State uint8

// TCP states (enum tcp_conntrack).
const (
	TCPNone State = iota
	TCPSynSent
	TCPSynRecv
	TCPEstablished
	TCPFinWait
	TCPCloseWait
	TCPLastAck
	TCPTimeWait
	TCPClose
	TCPSynSent2
)

// SCTP states (enum sctp_conntrack). HEARTBEAT_ACKED existed until Linux
// 6.3; it is kept so that older logs parse.
const (
	SCTPNone State = iota
	SCTPClosed
	SCTPCookieWait
	SCTPCookieEchoed
	SCTPEstablished
	SCTPShutdownSent
	SCTPShutdownRecd
	SCTPShutdownAckSent
	SCTPHeartbeatSent
	SCTPHeartbeatAcked
)

// DCCP states (enum ct_dccp_states).
const (
	DCCPNone State = iota
	DCCPRequest
	DCCPRespond
	DCCPPartOpen
	DCCPOpen
	DCCPCloseReq
	DCCPClosing
	DCCPTimeWait
	DCCPIgnore
	DCCPInvalid
)

var (
	tcpStateNames = [...]string{
		"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
		"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
	}
	sctpStateNames = [...]string{
		"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED",
		"SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT",
		"HEARTBEAT_SENT", "HEARTBEAT_ACKED",
	}
	dccpStateNames = [...]string{
		"NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ",
		"CLOSING", "TIMEWAIT", "IGNORE", "INVALID",
	}
)

func stateNames(p Proto) []string {
	switch p {
	case ProtoTCP:
		return tcpStateNames[:]
	case ProtoSCTP:
		return sctpStateNames[:]
	case ProtoDCCP:
		return dccpStateNames[:]
	}
	return nil
}

// Name returns the state's name for protocol p, as the kernel prints it. A
// state the table does not know is printed as its number rather than as
// "NONE" (which libnetfilter_conntrack prints), so that no value is lost.
func (s State) Name(p Proto) string {
	names := stateNames(p)
	if int(s) < len(names) {
		return names[s]
	}
	return strconv.Itoa(int(s))
}

// ParseState returns protocol p's state named name, also accepting a number.
func ParseState(p Proto, name string) (State, bool) {
	for i, n := range stateNames(p) {
		if n == name {
			return State(i), true
		}
	}
	if !p.HasState() {
		return 0, false
	}
	n, err := strconv.ParseUint(name, 10, 8)
	if err != nil {
		return 0, false
	}
	return State(n), true
}
