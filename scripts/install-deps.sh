#!/bin/sh
# install-deps.sh installs what ctwatch's tests and benchmarks need on a fresh
# Debian or Ubuntu machine: nftables (tests engage conntrack in their
# namespaces with nft rules), conntrack-tools (the reference ctwatch is
# compared with), iproute2, ping (ICMP flows in the tests) and sysctl. It does
# nothing for tools already present.
# Pass extra Debian package names as arguments (the benchmark adds ulogd2).
set -eu

need=""
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v ping >/dev/null 2>&1 || need="$need iputils-ping"
command -v sysctl >/dev/null 2>&1 || need="$need procps"
command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || need="$need rsyslog"
ls /usr/lib/*/rsyslog/imrelp.so >/dev/null 2>&1 || need="$need rsyslog-relp"
for pkg in "$@"; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
[ -z "$need" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install:$need" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: no apt-get; install these yourself:$need" >&2
	exit 1
fi
echo "install-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $need >/dev/null
