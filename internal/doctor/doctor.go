package doctor

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/ctwatch/ctwatch/internal/ctstat"
)

// The thresholds of the checks; the package documentation explains them.
const (
	FillWarnPercent     = 80
	FillFailPercent     = 95
	MaxPerBucketWarn    = 8
	TCPEstablishedWarnS = 24 * 60 * 60
	UDPTimeoutWarnS     = 120
	UDPStreamWarnS      = 600
)

// Status is a check's verdict. Statuses are ordered: a report's status is
// the worst of its checks'.
type Status int

// The verdicts, from best to worst.
const (
	OK Status = iota
	Warn
	Fail
)

var statusNames = [...]string{"ok", "warn", "fail"}

// String returns "ok", "warn" or "fail".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText returns the status's name, for JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts a status's name.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", b)
}

// Check is one check's result.
type Check struct {
	// Name identifies the check ("events", "table_fill"); it is stable,
	// for scripts.
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Found says what the check found, in a sentence.
	Found string `json:"found"`
	// Fix says what to do about it; empty when the status is OK.
	Fix string `json:"fix,omitempty"`
}

// Report is the result of every check, with the worst status.
type Report struct {
	Checks []Check `json:"checks"`
	Status Status  `json:"status"`
}

// Value is one sysctl as read: its value, or why it could not be read.
type Value struct {
	N   int64
	Err error
}

// Sysctls are the sysctls the checks look at, read in the namespace being
// checked.
type Sysctls struct {
	Events         Value // net.netfilter.nf_conntrack_events
	Acct           Value // net.netfilter.nf_conntrack_acct
	Timestamp      Value // net.netfilter.nf_conntrack_timestamp
	Max            Value // net.netfilter.nf_conntrack_max
	Buckets        Value // net.netfilter.nf_conntrack_buckets
	TCPEstablished Value // net.netfilter.nf_conntrack_tcp_timeout_established
	UDP            Value // net.netfilter.nf_conntrack_udp_timeout
	UDPStream      Value // net.netfilter.nf_conntrack_udp_timeout_stream
	RmemMax        Value // net.core.rmem_max
}

// The sysctls' names, in dotted form.
const (
	SysctlEvents         = "net.netfilter.nf_conntrack_events"
	SysctlAcct           = "net.netfilter.nf_conntrack_acct"
	SysctlTimestamp      = "net.netfilter.nf_conntrack_timestamp"
	SysctlMax            = "net.netfilter.nf_conntrack_max"
	SysctlBuckets        = "net.netfilter.nf_conntrack_buckets"
	SysctlTCPEstablished = "net.netfilter.nf_conntrack_tcp_timeout_established"
	SysctlUDP            = "net.netfilter.nf_conntrack_udp_timeout"
	SysctlUDPStream      = "net.netfilter.nf_conntrack_udp_timeout_stream"
	SysctlRmemMax        = "net.core.rmem_max"
)

// SysctlNames lists every sysctl in Sysctls, for reading them together.
var SysctlNames = []string{
	SysctlEvents, SysctlAcct, SysctlTimestamp, SysctlMax, SysctlBuckets,
	SysctlTCPEstablished, SysctlUDP, SysctlUDPStream, SysctlRmemMax,
}

// SysctlsFrom fills Sysctls from a lookup by name, such as
// sysctl.Values.Int.
func SysctlsFrom(get func(name string) (int64, error)) Sysctls {
	v := func(name string) Value {
		n, err := get(name)
		return Value{N: n, Err: err}
	}
	return Sysctls{
		Events:         v(SysctlEvents),
		Acct:           v(SysctlAcct),
		Timestamp:      v(SysctlTimestamp),
		Max:            v(SysctlMax),
		Buckets:        v(SysctlBuckets),
		TCPEstablished: v(SysctlTCPEstablished),
		UDP:            v(SysctlUDP),
		UDPStream:      v(SysctlUDPStream),
		RmemMax:        v(SysctlRmemMax),
	}
}

// Caps are the capabilities that matter to ctwatch, from its effective set.
type Caps struct {
	NetAdmin bool
	SysAdmin bool
	// Err is why the capabilities could not be read; the booleans are
	// then false.
	Err error
}

// Input is everything the checks look at.
type Input struct {
	Caps Caps
	// OtherNamespace is set when the namespace checked is not ctwatch's
	// own, which it must setns(2) into.
	OtherNamespace bool
	// Stats is a reading of the namespace's table; StatsErr is why there
	// is none.
	Stats    *ctstat.Reading
	StatsErr error
	Sysctls  Sysctls
	// RcvBuf is the receive buffer, in bytes, ctwatch asks for on its
	// event socket.
	RcvBuf int
}

// Run runs every check, in a fixed order.
func Run(in Input) Report {
	checks := []Check{
		privileges(in),
		conntrack(in),
		engaged(in),
		events(in.Sysctls.Events),
		accounting(in.Sysctls.Acct),
		timestamps(in.Sysctls.Timestamp),
		receiveBuffer(in),
		tableFill(in),
		hashSize(in),
		drops(in),
		tcpTimeout(in.Sysctls.TCPEstablished),
		udpTimeouts(in.Sysctls),
	}
	r := Report{Checks: checks}
	for _, c := range checks {
		r.Status = max(r.Status, c.Status)
	}
	return r
}

func privileges(in Input) Check {
	c := Check{Name: "privileges"}
	switch {
	case in.Caps.Err != nil:
		c.Status = Warn
		c.Found = fmt.Sprintf("ctwatch could not read its capabilities: %v.", in.Caps.Err)
		c.Fix = "Run ctwatch as root or with CAP_NET_ADMIN in its effective set."
	case !in.Caps.NetAdmin:
		c.Status = Fail
		c.Found = "CAP_NET_ADMIN is not in ctwatch's effective capability set, and the kernel serves conntrack's events, dumps and statistics only to holders of it."
		c.Fix = "Run ctwatch as root, or grant it the capability (setcap cap_net_admin+ep on the binary, or AmbientCapabilities=CAP_NET_ADMIN in a systemd unit)."
	case in.OtherNamespace && !in.Caps.SysAdmin:
		c.Status = Fail
		c.Found = "CAP_NET_ADMIN is in ctwatch's effective set but CAP_SYS_ADMIN is not, which entering another network namespace (--netns) needs."
		c.Fix = "Run ctwatch as root, or run it inside the namespace (ip netns exec NAME ctwatch ...)."
	default:
		c.Found = "CAP_NET_ADMIN is in ctwatch's effective capability set."
		if in.OtherNamespace {
			c.Found = "CAP_NET_ADMIN and CAP_SYS_ADMIN (to enter the namespace) are in ctwatch's effective capability set."
		}
	}
	return c
}

func conntrack(in Input) Check {
	c := Check{Name: "conntrack"}
	if in.Stats != nil {
		c.Found = fmt.Sprintf("conntrack answers over ctnetlink: %d entries in the table.", in.Stats.Count)
		return c
	}
	c.Status = Fail
	err := in.StatsErr
	if err == nil {
		err = errors.New("no reading")
	}
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		c.Found = fmt.Sprintf("The kernel refused the conntrack statistics request (%v).", err)
		c.Fix = "Run ctwatch with CAP_NET_ADMIN (as root)."
	case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.ENOENT):
		c.Found = fmt.Sprintf("ctnetlink is not available (%v).", err)
		c.Fix = "Load connection tracking and its netlink interface: modprobe nf_conntrack_netlink."
	default:
		c.Found = fmt.Sprintf("Reading conntrack's statistics over netlink failed: %v.", err)
		c.Fix = "Check that nf_conntrack_netlink is loaded (modprobe nf_conntrack_netlink) and that ctwatch runs with CAP_NET_ADMIN."
	}
	return c
}

// engaged guesses whether conntrack tracks this namespace's traffic. The
// kernel registers conntrack's hooks in a namespace only once something
// needs them (a rule matching ct state, NAT, a helper), and says nowhere
// whether it has; but a namespace whose table is empty and whose counters
// are all zero has never tracked a packet. The guess cannot tell whether
// the rules that once engaged conntrack are still loaded.
func engaged(in Input) Check {
	c := Check{Name: "engaged"}
	if in.Stats == nil {
		c.Status = Warn
		c.Found = "Whether conntrack tracks this namespace's traffic is unknown: its statistics could not be read."
		c.Fix = "Fix the conntrack check first."
		return c
	}
	if in.Stats.Count > 0 || !in.Stats.Sum.IsZero() {
		c.Found = fmt.Sprintf("conntrack is in use in this namespace: %d entries, and its counters have moved (%d inserted).", in.Stats.Count, in.Stats.Sum[ctstat.Insert])
		return c
	}
	c.Status = Warn
	c.Found = "conntrack holds no entries and its counters are all zero: the kernel engages conntrack in a namespace only once a rule needs it (ct state, NAT, a helper)."
	c.Fix = "None if this namespace does not use conntrack; otherwise load rules that use it, or point --netns at the namespace that does."
	return c
}

func events(v Value) Check {
	c := Check{Name: "events"}
	if v.Err != nil {
		return unreadable(c, SysctlEvents, v.Err)
	}
	switch v.N {
	case 0:
		c.Status = Fail
		c.Found = "nf_conntrack_events is 0: the kernel sends no conntrack events at all, so ctwatch sees nothing but its startup dump."
		c.Fix = "sysctl -w " + SysctlEvents + "=1."
	case 1:
		c.Found = "nf_conntrack_events is 1: every entry reports its events."
	default:
		c.Status = Warn
		c.Found = fmt.Sprintf("nf_conntrack_events is %d (auto): entries created while no conntrack event listener existed anywhere on the host get no events, so flows begun before ctwatch started never report updates or their end.", v.N)
		c.Fix = "sysctl -w " + SysctlEvents + "=1 (a few bytes per entry)."
	}
	return c
}

func accounting(v Value) Check {
	c := Check{Name: "accounting"}
	if v.Err != nil {
		return unreadable(c, SysctlAcct, v.Err)
	}
	if v.N != 0 {
		c.Found = "nf_conntrack_acct is on: entries count their packets and bytes."
		return c
	}
	c.Status = Warn
	c.Found = "nf_conntrack_acct is 0: entries carry no packet or byte counters."
	c.Fix = "sysctl -w " + SysctlAcct + "=1 (applies to new entries)."
	return c
}

func timestamps(v Value) Check {
	c := Check{Name: "timestamps"}
	if v.Err != nil {
		return unreadable(c, SysctlTimestamp, v.Err)
	}
	if v.N != 0 {
		c.Found = "nf_conntrack_timestamp is on: entries carry the kernel's start and stop times."
		return c
	}
	c.Status = Warn
	c.Found = "nf_conntrack_timestamp is 0: events carry no kernel start, stop or event time, so durations and transition times are only as fine as ctwatch's reads (events read together share one time)."
	c.Fix = "sysctl -w " + SysctlTimestamp + "=1 (applies to new entries)."
	return c
}

// receiveBuffer checks whether ctwatch gets the event socket buffer it asks
// for. It sets the size with SO_RCVBUFFORCE, which the kernel honours beyond
// net.core.rmem_max for a holder of CAP_NET_ADMIN; without the capability
// the kernel caps the buffer at rmem_max.
func receiveBuffer(in Input) Check {
	c := Check{Name: "receive_buffer"}
	want := in.RcvBuf
	rmem := in.Sysctls.RmemMax
	switch {
	case rmem.Err == nil && rmem.N >= int64(want):
		c.Found = fmt.Sprintf("net.core.rmem_max (%s) admits the %s event socket buffer ctwatch asks for.", bytesText(rmem.N), bytesText(int64(want)))
	case in.Caps.NetAdmin:
		limit := "net.core.rmem_max"
		if rmem.Err == nil {
			limit += " (" + bytesText(rmem.N) + ")"
		}
		c.Found = fmt.Sprintf("ctwatch sets its %s event socket buffer with SO_RCVBUFFORCE, which CAP_NET_ADMIN lets exceed %s.", bytesText(int64(want)), limit)
	case rmem.Err != nil:
		c.Status = Warn
		c.Found = fmt.Sprintf("Without CAP_NET_ADMIN the event socket buffer is capped at net.core.rmem_max, which could not be read (%v).", rmem.Err)
		c.Fix = "Run ctwatch with CAP_NET_ADMIN."
	default:
		c.Status = Warn
		c.Found = fmt.Sprintf("Without CAP_NET_ADMIN the kernel caps the event socket buffer at net.core.rmem_max (%s), below the %s ctwatch asks for: bursts of events overflow it and are lost (reported as gaps).", bytesText(rmem.N), bytesText(int64(want)))
		c.Fix = fmt.Sprintf("Run ctwatch with CAP_NET_ADMIN, or raise the host's limit: sysctl -w %s=%d.", SysctlRmemMax, want)
	}
	return c
}

func tableFill(in Input) Check {
	c := Check{Name: "table_fill"}
	if in.Stats == nil {
		c.Status = Warn
		c.Found = "The table's fill is unknown: its statistics could not be read."
		c.Fix = "Fix the conntrack check first."
		return c
	}
	r := in.Stats
	if r.Max == 0 {
		c.Found = fmt.Sprintf("The table holds %d entries and nf_conntrack_max sets no limit.", r.Count)
		return c
	}
	pct := r.FillPercent()
	c.Found = fmt.Sprintf("The table holds %d of nf_conntrack_max %d entries (%.1f %%).", r.Count, r.Max, pct)
	switch {
	case pct >= FillFailPercent:
		c.Status = Fail
	case pct >= FillWarnPercent:
		c.Status = Warn
	default:
		return c
	}
	c.Found = fmt.Sprintf("The table holds %d of nf_conntrack_max %d entries (%.1f %%): when full, the kernel drops new flows' packets.", r.Count, r.Max, pct)
	c.Fix = "Raise " + SysctlMax + " (and nf_conntrack_buckets), lower the timeouts, or exempt traffic with a notrack rule in the raw table."
	return c
}

func hashSize(in Input) Check {
	c := Check{Name: "hash_size"}
	max, buckets := in.Sysctls.Max, in.Sysctls.Buckets
	if in.Stats != nil {
		max = Value{N: int64(in.Stats.Max)}
		if in.Stats.Buckets != 0 {
			buckets = Value{N: int64(in.Stats.Buckets)}
		}
	}
	if max.Err != nil {
		return unreadable(c, SysctlMax, max.Err)
	}
	if buckets.Err != nil {
		return unreadable(c, SysctlBuckets, buckets.Err)
	}
	var tooLong uint64
	if in.Stats != nil {
		tooLong = in.Stats.Sum[ctstat.ChainTooLong]
	}
	fix := "Raise the hash table's size: nf_conntrack_buckets (writable only in the initial namespace), or the hashsize parameter of nf_conntrack (/sys/module/nf_conntrack/parameters/hashsize)."
	if tooLong > 0 {
		c.Status = Warn
		c.Found = fmt.Sprintf("The kernel refused %d insertions because a hash chain was too long (chaintoolong): %d buckets are too few for this traffic.", tooLong, buckets.N)
		c.Fix = fix
		return c
	}
	if buckets.N <= 0 {
		c.Status = Warn
		c.Found = fmt.Sprintf("nf_conntrack_buckets reads %d.", buckets.N)
		c.Fix = fix
		return c
	}
	ratio := float64(max.N) / float64(buckets.N)
	if max.N == 0 || ratio <= MaxPerBucketWarn {
		c.Found = fmt.Sprintf("nf_conntrack_max %d for %d hash buckets (%.3g per bucket when full).", max.N, buckets.N, ratio)
		return c
	}
	c.Status = Warn
	c.Found = fmt.Sprintf("nf_conntrack_max %d is %.3g times nf_conntrack_buckets %d: a full table chains that many entries per bucket, which slows every packet's lookup.", max.N, ratio, buckets.N)
	c.Fix = fmt.Sprintf("Keep at most %d entries per bucket: %s. (Older kernels defaulted to 4 or 8 entries per bucket, recent ones to 1.)", MaxPerBucketWarn, strings.TrimSuffix(fix, "."))
	return c
}

func drops(in Input) Check {
	c := Check{Name: "drops"}
	if in.Stats == nil {
		c.Status = Warn
		c.Found = "Whether packets were dropped is unknown: the statistics could not be read."
		c.Fix = "Fix the conntrack check first."
		return c
	}
	s := in.Stats.Sum
	if s[ctstat.Drop] == 0 && s[ctstat.EarlyDrop] == 0 && s[ctstat.InsertFailed] == 0 {
		c.Found = "conntrack has dropped no packet and evicted no entry for want of room, and no insertion failed."
		return c
	}
	c.Status = Warn
	c.Found = fmt.Sprintf("Since conntrack started in this namespace it dropped %d packets for want of an entry (drop), evicted %d unassured entries to make room (early_drop) and failed %d insertions (insert_failed).",
		s[ctstat.Drop], s[ctstat.EarlyDrop], s[ctstat.InsertFailed])
	c.Fix = "If the table filled up, raise " + SysctlMax + " or lower the timeouts; run ctwatch watch, whose drops records say when it happens."
	return c
}

func tcpTimeout(v Value) Check {
	c := Check{Name: "tcp_timeout"}
	if v.Err != nil {
		return unreadable(c, SysctlTCPEstablished, v.Err)
	}
	if v.N <= TCPEstablishedWarnS {
		c.Found = fmt.Sprintf("nf_conntrack_tcp_timeout_established is %s.", secondsText(v.N))
		return c
	}
	c.Status = Warn
	c.Found = fmt.Sprintf("nf_conntrack_tcp_timeout_established is %s: connections that die silently (a crashed peer, a lost NAT mapping) hold their entries that long.", secondsText(v.N))
	c.Fix = fmt.Sprintf("sysctl -w %s=%d or lower, above your longest TCP idle time.", SysctlTCPEstablished, TCPEstablishedWarnS)
	return c
}

func udpTimeouts(s Sysctls) Check {
	c := Check{Name: "udp_timeouts"}
	if s.UDP.Err != nil {
		return unreadable(c, SysctlUDP, s.UDP.Err)
	}
	if s.UDPStream.Err != nil {
		return unreadable(c, SysctlUDPStream, s.UDPStream.Err)
	}
	c.Found = fmt.Sprintf("nf_conntrack_udp_timeout is %s and nf_conntrack_udp_timeout_stream %s.", secondsText(s.UDP.N), secondsText(s.UDPStream.N))
	if s.UDP.N <= UDPTimeoutWarnS && s.UDPStream.N <= UDPStreamWarnS {
		return c
	}
	c.Status = Warn
	c.Found = fmt.Sprintf("nf_conntrack_udp_timeout is %s and nf_conntrack_udp_timeout_stream %s: one-shot exchanges such as DNS queries stay in the table that long.", secondsText(s.UDP.N), secondsText(s.UDPStream.N))
	c.Fix = fmt.Sprintf("Return them to the kernel's defaults: sysctl -w %s=30 %s=120.", SysctlUDP, SysctlUDPStream)
	return c
}

// unreadable is a check whose sysctl could not be read.
func unreadable(c Check, name string, err error) Check {
	c.Status = Warn
	c.Found = fmt.Sprintf("%s could not be read: %v.", name, err)
	c.Fix = "Check that connection tracking is loaded (modprobe nf_conntrack) and that ctwatch can read /proc/sys."
	return c
}

// secondsText renders a timeout in seconds with a readable unit: "432000 s
// (5 days)".
func secondsText(s int64) string {
	switch {
	case s >= 86400 && s%86400 == 0:
		return plural(s, s/86400, "day")
	case s >= 3600 && s%3600 == 0:
		return plural(s, s/3600, "hour")
	case s >= 60 && s%60 == 0:
		return plural(s, s/60, "minute")
	}
	return fmt.Sprintf("%d s", s)
}

func plural(s, n int64, unit string) string {
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d s (%d %s)", s, n, unit)
}

// bytesText renders a size in bytes in MiB or KiB when exact.
func bytesText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
