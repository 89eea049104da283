package jetstream

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultPort is the NATS client port used when the output URL names none.
const DefaultPort = "4222"

// Target is a parsed `nats://HOST:PORT/SUBJECT` output.
type Target struct {
	// Server is the URL given to the NATS client: nats://[user[:pass]@]host:port.
	Server string
	// Subject is the subject every record is published to.
	Subject string
}

// ErrBadURL is wrapped by every error of [ParseTarget].
var ErrBadURL = errors.New("bad nats output URL")

// ParseTarget parses an output of the form nats://HOST:PORT/SUBJECT. The
// port defaults to 4222; the subject must be a valid NATS subject to publish
// to: dot-separated non-empty tokens without spaces or wildcards.
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %w", ErrBadURL, s, err)
	}
	if u.Scheme != "nats" {
		return Target{}, fmt.Errorf("%w %q: scheme must be nats://", ErrBadURL, s)
	}
	if u.Opaque != "" || u.Host == "" {
		return Target{}, fmt.Errorf("%w %q: no host (want nats://HOST:PORT/SUBJECT)", ErrBadURL, s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Target{}, fmt.Errorf("%w %q: no query or fragment allowed", ErrBadURL, s)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return Target{}, fmt.Errorf("%w %q: no host (want nats://HOST:PORT/SUBJECT)", ErrBadURL, s)
	}
	if strings.HasSuffix(u.Host, ":") {
		return Target{}, fmt.Errorf("%w %q: empty port", ErrBadURL, s)
	}
	if port == "" {
		port = DefaultPort
	}
	subject := strings.TrimPrefix(u.Path, "/")
	if err := checkSubject(subject); err != nil {
		return Target{}, fmt.Errorf("%w %q: %w", ErrBadURL, s, err)
	}
	server := url.URL{Scheme: "nats", User: u.User, Host: net.JoinHostPort(host, port)}
	return Target{Server: server.String(), Subject: subject}, nil
}

// checkSubject enforces the rules of a subject a client may publish to.
func checkSubject(s string) error {
	if s == "" {
		return errors.New("no subject (want nats://HOST:PORT/SUBJECT)")
	}
	for tok := range strings.SplitSeq(s, ".") {
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token", s)
		case tok == "*" || tok == ">":
			return fmt.Errorf("subject %q has a wildcard: records are published to one subject", s)
		case strings.ContainsAny(tok, " \t\r\n/\x00"):
			return fmt.Errorf("subject %q has a space, a slash or a control character", s)
		}
	}
	return nil
}
