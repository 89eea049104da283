package output

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ctwatch/ctwatch/internal/jetstream"
	"github.com/ctwatch/ctwatch/internal/syslog"
)

// Kind is what sort of output a Spec names.
type Kind uint8

// The kinds of output.
const (
	// Stdout is "-", the standard output.
	Stdout Kind = iota
	// File is a path, appended to and reopened on SIGHUP.
	File
	// Syslog is a syslog+udp://, syslog+tcp:// or syslog+unix:// URL.
	Syslog
	// NATS is a nats://HOST:PORT/SUBJECT URL: a JetStream stream.
	NATS
)

var kindNames = [...]string{"stdout", "file", "syslog", "nats"}

// String returns the kind's name, as metrics and records label it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Remote reports whether the output is a server reached over a socket.
func (k Kind) Remote() bool { return k == Syslog || k == NATS }

// Spec is one `--output` as given.
type Spec struct {
	// Kind is the sort of output.
	Kind Kind
	// Name is the output as given, which records, metrics and messages
	// name it by, with any password in a URL replaced by "xxxxx";
	// "stdout" for "-".
	Name string
	// Raw is the output as given, password included.
	Raw string
	// Syslog is the target of a Syslog output.
	Syslog syslog.Target
	// NATS is the target of a NATS output.
	NATS jetstream.Target
}

// ErrSpec is wrapped by every error of Parse.
var ErrSpec = errors.New("bad output")

// Parse reads one `--output`: "-", a file path, or a URL of a remote
// output. A word that looks like a URL (it has "://") but has no known
// scheme is an error rather than a file of that name.
func Parse(s string) (Spec, error) {
	switch {
	case s == "":
		return Spec{}, fmt.Errorf("%w: empty (give -, a file path or a URL)", ErrSpec)
	case s == "-":
		return Spec{Kind: Stdout, Name: "stdout", Raw: s}, nil
	case syslog.IsURL(s):
		t, err := syslog.ParseURL(s)
		if err != nil {
			return Spec{}, fmt.Errorf("%w %q: %w", ErrSpec, s, err)
		}
		return Spec{Kind: Syslog, Name: s, Raw: s, Syslog: t}, nil
	case strings.HasPrefix(s, "nats://"):
		return parseNATS(s)
	case strings.Contains(s, "://"):
		scheme, _, _ := strings.Cut(s, "://")
		return Spec{}, fmt.Errorf("%w %q: unknown scheme %q (want syslog+udp, syslog+tcp, syslog+unix or nats; a file path has no \"://\")", ErrSpec, s, scheme)
	}
	return Spec{Kind: File, Name: s, Raw: s}, nil
}

// ParseAll reads every `--output`, in order; none means standard output.
// Two outputs that name the same destination are an error: each record
// would reach it twice.
func ParseAll(args []string) ([]Spec, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	specs := make([]Spec, 0, len(args))
	seen := make(map[string]bool, len(args))
	for _, a := range args {
		sp, err := Parse(a)
		if err != nil {
			return nil, err
		}
		if seen[sp.Raw] {
			return nil, fmt.Errorf("%w %q: given twice", ErrSpec, sp.Name)
		}
		seen[sp.Raw] = true
		specs = append(specs, sp)
	}
	return specs, nil
}

// redact replaces the password of a URL with "xxxxx", so that records and
// metrics can name the output.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
