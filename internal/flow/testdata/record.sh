#!/usr/bin/env bash
# record.sh - record the conntrack event sequences in sequences/ that the flow
# tracker's tests replay (as root):
#
#     sudo ./pkg/flow/testdata/record.sh [scenario ...]
#
# Every scenario runs in its own fresh network namespace named
# ctflow-<pid>-<scenario>, deleted on exit; traffic only goes to the
# namespace's loopback; only sysctls of that namespace are changed (lower
# timeouts, so that entries expire within seconds). Each output file starts
# with '#' comment lines naming the commands; the tests skip them
# (model.IsSkippable). Needs iproute2, nftables, conntrack-tools, socat,
# python3, ping.
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sequences
WORK=$(mktemp -d /tmp/ctflow.XXXXXX)
NS=""
LPID=""
cleanup() {
    local rc=$?
    trap - EXIT
    [ -n "$LPID" ] && kill -INT "$LPID" 2>/dev/null || true
    for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

nsx() { timeout -k 2 60 ip netns exec "$NS" "$@"; }

# wait_for PATTERN COUNT TIMEOUT: until the event log has COUNT lines matching
wait_for() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        [ "$(grep -c -- "$1" "$WORK/raw" || true)" -ge "$2" ] && return 0
        sleep 0.05
    done
    echo "record.sh: timeout waiting for $2 x '$1'" >&2
    return 1
}

# start SCENARIO DESCRIPTION SYSCTL...: fresh namespace, ruleset, listener
start() {
    SCEN=$1 DESC=$2; shift 2
    NS="ctflow-$$-${SCEN//_/-}"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    SYSCTLS="nf_conntrack_acct=1 $*"
    for kv in $SYSCTLS; do nsx sysctl -q -w "net.netfilter.$kv"; done
    nsx nft -f - <<'NFT'
table inet ctflow {
	chain in { type filter hook input priority 0; ct state new,established,related,invalid accept; }
	chain out { type filter hook output priority 0; ct state new accept; }
}
NFT
    : >"$WORK/raw"
    ip netns exec "$NS" conntrack -E -o timestamp,id >"$WORK/raw" 2>&1 &
    LPID=$!
    sleep 0.5 # let the listener join its multicast groups
}

finish() {
    sleep 0.3
    kill -INT "$LPID"; wait "$LPID" 2>/dev/null || true; LPID=""
    {
        echo "# recorded by pkg/flow/testdata/record.sh ($SCEN) in a fresh network namespace; regenerate, do not edit"
        echo "# kernel: $(uname -r); $(conntrack --version 2>&1)"
        echo "# namespace sysctls (net.netfilter.*): $SYSCTLS"
        echo "# ruleset: nft 'table inet ctflow { chain in { type filter hook input priority 0; ct state new,established,related,invalid accept; } chain out { type filter hook output priority 0; ct state new accept; } }'"
        echo "# listener: ip netns exec NS conntrack -E -o timestamp,id"
        echo "$DESC" | sed 's/^/# /'
        grep -v '^conntrack v' "$WORK/raw"
    } >"$OUT/$SCEN.txt"
    ip netns del "$NS"; NS=""
    echo "wrote $OUT/$SCEN.txt" >&2
}

PY=$(command -v python3)

scen_tcp_close() {
    start tcp_close "traffic: socat echo server on 127.0.0.1:8080 (socat TCP-LISTEN:8080,fork EXEC:cat); a client connects, sends one line, reads it back and closes (FIN from the client first); the entry then expires from TIME_WAIT (timeout lowered to 2 s): DESTROY by the garbage collector" \
        nf_conntrack_tcp_timeout_time_wait=2
    nsx socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat &
    sleep 0.3
    nsx "$PY" -c '
import socket
s = socket.create_connection(("127.0.0.1", 8080))
s.sendall(b"hello\n"); s.recv(100); s.close()'
    wait_for DESTROY 1 120
    finish
}

scen_tcp_refused() {
    start tcp_refused "traffic: TCP connect to closed port 9 on 127.0.0.1 (the SYN is answered by a RST: the kernel kills the entry at once)"
    nsx "$PY" -c '
import socket
try: socket.create_connection(("127.0.0.1", 9))
except ConnectionRefusedError: pass'
    wait_for DESTROY 1 120
    finish
}

scen_tcp_reset() {
    start tcp_reset "traffic: python TCP server on 127.0.0.1:8081; a client connects, sends one line, gets it back, then closes with SO_LINGER {1, 0} so that the kernel sends a RST; the entry sits in CLOSE and expires (timeout lowered to 1 s)" \
        nf_conntrack_tcp_timeout_close=1
    nsx "$PY" -c '
import socket, struct
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 8081)); l.listen()
c = socket.create_connection(("127.0.0.1", 8081))
a, _ = l.accept()
c.sendall(b"hello\n"); a.sendall(a.recv(100)); c.recv(100)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
a.close(); l.close()'
    wait_for DESTROY 1 120
    finish
}

scen_udp_heartbeat() {
    start udp_heartbeat "traffic: a heartbeat from 127.0.0.1 to 127.0.0.2:694, one datagram a second from a fresh socket (a new source port, hence a new flow, each time), 6 times; the receiver (python, bound to 127.0.0.2:694) reads and never answers; each entry expires [UNREPLIED] (udp timeout lowered to 8 s, longer than the tracker's 5 s unreplied delay)" \
        nf_conntrack_udp_timeout=8
    nsx "$PY" -c '
import socket, time
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.2", 694))
for i in range(6):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"heartbeat", ("127.0.0.2", 694)); r.recv(100); s.close()
    time.sleep(1)'
    wait_for DESTROY 6 120
    finish
}

scen_udp_assured() {
    start udp_assured "traffic: UDP request/response 127.0.0.1:5353 -> 127.0.0.1:53 with a python server answering every datagram; a second request 2.2 s after the first (the kernel assures a UDP entry only on a packet >= 2 s after the first); the entry expires (udp stream timeout lowered to 3 s)" \
        nf_conntrack_udp_timeout=3 nf_conntrack_udp_timeout_stream=3
    nsx "$PY" -c '
import socket, time
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.0.0.1", 53))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("127.0.0.1", 5353))
for i in range(2):
    c.sendto(b"query", ("127.0.0.1", 53)); d, a = srv.recvfrom(100); srv.sendto(b"answer", a); c.recv(100)
    if i == 0: time.sleep(2.2)'
    wait_for DESTROY 1 120
    finish
}

scen_icmp() {
    start icmp "traffic: ping -c 2 -i 0.2 127.0.0.1 (one flow: same ICMP id); the entry expires (icmp timeout lowered to 2 s)" \
        nf_conntrack_icmp_timeout=2
    nsx ping -q -c 2 -i 0.2 127.0.0.1 >/dev/null
    wait_for DESTROY 1 120
    finish
}

scen_id_reuse() {
    start id_reuse "traffic: the same UDP tuple 127.0.0.1:5555 -> 127.0.0.1:7777 twice: a datagram answered by a python server, the entry expires (udp timeout lowered to 2 s), then the same exchange again: a new entry for the same tuple (compare the ids)" \
        nf_conntrack_udp_timeout=2
    nsx "$PY" -c '
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.0.0.1", 7777))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("127.0.0.1", 5555))
c.sendto(b"one", ("127.0.0.1", 7777)); d, a = srv.recvfrom(100); srv.sendto(b"one", a); c.recv(100)' 
    wait_for DESTROY 1 120
    nsx "$PY" -c '
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.0.0.1", 7777))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("127.0.0.1", 5555))
c.sendto(b"two", ("127.0.0.1", 7777)); d, a = srv.recvfrom(100); srv.sendto(b"two", a); c.recv(100)'
    wait_for DESTROY 2 120
    finish
}

scen_deleted() {
    start deleted "traffic: an established TCP connection to a socat echo server on 127.0.0.1:8080 and an unanswered UDP datagram 127.0.0.1 -> 127.0.0.2:694; both entries deleted with conntrack -D (DESTROY events carry [USERSPACE] portid=...); then the TCP client closes: its FIN matches no entry any more and, with nf_conntrack_tcp_loose=1 (the default), the kernel picks it up as a new ESTABLISHED [UNREPLIED] entry, still live when the recording stops"
    nsx socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat &
    sleep 0.3
    nsx "$PY" -c '
import socket, subprocess
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.2", 694))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"heartbeat", ("127.0.0.2", 694)); r.recv(100)
s = socket.create_connection(("127.0.0.1", 8080)); s.sendall(b"hello\n"); s.recv(100)
subprocess.run(["conntrack", "-D", "-p", "tcp", "--dport", "8080"], capture_output=True)
subprocess.run(["conntrack", "-D", "-p", "udp", "--dport", "694"], capture_output=True)
s.close()'
    wait_for DESTROY 2 120
    finish
}

ALL="tcp_close tcp_refused tcp_reset udp_heartbeat udp_assured icmp id_reuse deleted"
for s in ${@:-$ALL}; do "scen_$s"; done
