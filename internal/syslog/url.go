package syslog

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target is where a [Client] sends: a network for net.Dial and its address,
// and the facility of every message.
type Target struct {
	// Network is "udp", "tcp", "unix" (the client dials a unix socket as
	// a datagram socket first and as a stream if the socket is one) or
	// "relp" (RELP over TCP, every message acknowledged by the server).
	Network string
	// Address is HOST:PORT for udp, tcp and relp, the socket's path for
	// unix.
	Address string
	// Facility is daemon unless the URL's facility parameter says otherwise.
	Facility Facility
}

// DefaultPort is the port of a syslog+udp or syslog+tcp URL without one: 514,
// which rsyslog, syslog-ng and most SIEM collectors listen on for both.
const DefaultPort = 514

// DefaultRELPPort is the port of a syslog+relp URL without one: 2514, the
// port of rsyslog's imrelp examples and of most RELP deployments (RELP has
// no IANA port).
const DefaultRELPPort = 2514

// URLError says which part of a syslog URL is wrong.
type URLError struct {
	// URL is the URL as given.
	URL string
	// Part names the wrong part: "scheme", "host", "port", "path",
	// "user info", "query", "fragment" or "facility".
	Part string
	// Err says what is wrong with it.
	Err error
}

func (e *URLError) Error() string {
	return fmt.Sprintf("syslog url %q: %s: %v", e.URL, e.Part, e.Err)
}

func (e *URLError) Unwrap() error { return e.Err }

// Schemes are the URL schemes ParseURL takes.
var Schemes = []string{"syslog+udp", "syslog+tcp", "syslog+relp", "syslog+unix"}

// IsURL says whether s has one of the syslog schemes, so that a caller can
// tell a syslog output from a file path before parsing it.
func IsURL(s string) bool {
	for _, sc := range Schemes {
		if len(s) > len(sc) && strings.EqualFold(s[:len(sc)], sc) && s[len(sc)] == ':' {
			return true
		}
	}
	return false
}

// ParseURL parses syslog+udp://HOST[:PORT], syslog+tcp://HOST[:PORT],
// syslog+relp://HOST[:PORT] (port 2514 when absent) or syslog+unix:///PATH,
// each optionally with ?facility=NAME (daemon when absent). An error is a
// *URLError naming the wrong part.
func ParseURL(s string) (Target, error) {
	fail := func(part string, err error) (Target, error) {
		return Target{}, &URLError{URL: s, Part: part, Err: err}
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("syntax", err)
	}
	t := Target{Facility: Daemon}
	switch strings.ToLower(u.Scheme) {
	case "syslog+udp":
		t.Network = "udp"
	case "syslog+tcp":
		t.Network = "tcp"
	case "syslog+relp":
		t.Network = "relp"
	case "syslog+unix":
		t.Network = "unix"
	case "":
		return fail("scheme", errors.New("missing (want syslog+udp, syslog+tcp, syslog+relp or syslog+unix)"))
	default:
		return fail("scheme", fmt.Errorf("%q is not syslog+udp, syslog+tcp, syslog+relp or syslog+unix", u.Scheme))
	}
	if u.Opaque != "" {
		return fail("path", errors.New("must follow // (syslog+unix:///dev/log, syslog+tcp://host:514)"))
	}
	if u.User != nil {
		return fail("user info", errors.New("not supported"))
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return fail("fragment", errors.New("not supported"))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query", err)
	}
	for k, v := range q {
		if k != "facility" {
			return fail("query", fmt.Errorf("unknown parameter %q (only facility)", k))
		}
		if len(v) != 1 {
			return fail("facility", errors.New("given more than once"))
		}
		f, err := ParseFacility(v[0])
		if err != nil {
			return fail("facility", err)
		}
		t.Facility = f
	}
	if t.Network == "unix" {
		if u.Host != "" {
			return fail("host", fmt.Errorf("%q: must be empty for a unix socket (syslog+unix:///dev/log)", u.Host))
		}
		if u.Path == "" || u.Path == "/" {
			return fail("path", errors.New("missing: the socket's path (syslog+unix:///dev/log)"))
		}
		if strings.HasSuffix(u.Path, "/") {
			return fail("path", fmt.Errorf("%q is a directory, not a socket", u.Path))
		}
		t.Address = u.Path
		return t, nil
	}
	if u.Path != "" {
		return fail("path", fmt.Errorf("%q: a %s URL has none", u.Path, u.Scheme))
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return fail("host", errors.New("missing"))
	}
	if strings.HasSuffix(u.Host, ":") {
		return fail("port", errors.New("empty"))
	}
	p := DefaultPort
	if t.Network == "relp" {
		p = DefaultRELPPort
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return fail("port", fmt.Errorf("%q is not a number from 1 to 65535", port))
		}
		p = int(n)
	}
	t.Address = net.JoinHostPort(host, strconv.Itoa(p))
	return t, nil
}
