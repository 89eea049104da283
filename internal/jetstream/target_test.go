package jetstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  string // part of the error, "" for none
	}{
		{in: "nats://127.0.0.1:4222/ctwatch.node1", want: Target{Server: "nats://127.0.0.1:4222", Subject: "ctwatch.node1"}},
		{in: "nats://nats.example/ctwatch.node1", want: Target{Server: "nats://nats.example:4222", Subject: "ctwatch.node1"}},
		{in: "nats://[::1]:4333/a", want: Target{Server: "nats://[::1]:4333", Subject: "a"}},
		{in: "nats://ctw:s3cret@nats.example:4222/ctwatch.n-1_x", want: Target{Server: "nats://ctw:s3cret@nats.example:4222", Subject: "ctwatch.n-1_x"}},
		{in: "nats://h:4222/", err: "no subject"},
		{in: "nats://h:4222", err: "no subject"},
		{in: "nats://h:4222/ctwatch.>", err: "wildcard"},
		{in: "nats://h:4222/ctwatch.*.x", err: "wildcard"},
		{in: "nats://h:4222/ctwatch..x", err: "empty token"},
		{in: "nats://h:4222/.ctwatch", err: "empty token"},
		{in: "nats://h:4222/ctwatch/x", err: "slash"},
		{in: "nats://h:4222/ctwatch%20x", err: "space"},
		{in: "nats://h:/ctwatch", err: "empty port"},
		{in: "nats:///ctwatch", err: "no host"},
		{in: "nats:ctwatch", err: "no host"},
		{in: "tls://h:4222/ctwatch", err: "scheme must be nats://"},
		{in: "nats://h:4222/ctwatch?x=1", err: "no query"},
		{in: "nats://h:4222/ctwatch#f", err: "no query"},
		{in: "nats://h:port/ctwatch", err: "invalid port"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("ParseTarget(%q): %v", tc.in, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("ParseTarget(%q) (-want +got):\n%s", tc.in, diff)
				}
				return
			}
			if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseTarget(%q) = %+v, %v; want an ErrBadURL naming the URL and %q", tc.in, got, err, tc.err)
			}
		})
	}
}

// FuzzParseTarget checks that ParseTarget never panics, that every error is
// an ErrBadURL, and that what it accepts is a subject a client can publish
// to and a server URL that parses to the same target again.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"nats://127.0.0.1:4222/ctwatch.node1", "nats://h/a.b", "nats://u:p@[::1]:1/x", "nats://h:4222/a.>", "nats:x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("ParseTarget(%q): %v is no ErrBadURL", s, err)
			}
			return
		}
		if err := checkSubject(got.Subject); err != nil {
			t.Fatalf("ParseTarget(%q) accepted subject %q: %v", s, got.Subject, err)
		}
		again, err := ParseTarget(got.Server + "/" + got.Subject)
		if err != nil {
			t.Fatalf("ParseTarget(%q) = %+v, which does not parse again: %v", s, got, err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("ParseTarget(%q) parsed again (-first +again):\n%s", s, diff)
		}
	})
}
