package syslog

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"syslog+udp://127.0.0.1:5514", Target{"udp", "127.0.0.1:5514", Daemon}},
		{"syslog+tcp://logs.example.net:6514", Target{"tcp", "logs.example.net:6514", Daemon}},
		{"syslog+tcp://logs.example.net", Target{"tcp", "logs.example.net:514", Daemon}},
		{"SYSLOG+TCP://[::1]:601", Target{"tcp", "[::1]:601", Daemon}},
		{"syslog+relp://logs.example.net:20514", Target{"relp", "logs.example.net:20514", Daemon}},
		{"syslog+relp://logs.example.net?facility=local3", Target{"relp", "logs.example.net:2514", 19}},
		{"syslog+udp://h:514?facility=local3", Target{"udp", "h:514", 19}},
		{"syslog+unix:///dev/log", Target{"unix", "/dev/log", Daemon}},
		{"syslog+unix:///run/systemd/journal/syslog?facility=AUTHPRIV", Target{"unix", "/run/systemd/journal/syslog", AuthPriv}},
	} {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseURL(%q) (-want +got):\n%s", tc.in, diff)
		}
		if !IsURL(tc.in) {
			t.Errorf("IsURL(%q) = false", tc.in)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		in, part string
	}{
		{"syslog+sctp://h:514", "scheme"},
		{"//h:514", "scheme"},
		{"syslog+tcp:h:514", "path"},
		{"syslog+tcp://", "host"},
		{"syslog+tcp://:514", "host"},
		{"syslog+tcp://h:", "port"},
		{"syslog+tcp://h:0", "port"},
		{"syslog+tcp://h:65536", "port"},
		{"syslog+tcp://h:514/x", "path"},
		{"syslog+tcp://u@h:514", "user info"},
		{"syslog+tcp://h:514#x", "fragment"},
		{"syslog+tcp://h:514?fac=daemon", "query"},
		{"syslog+tcp://h:514?facility=kern", "facility"},
		{"syslog+tcp://h:514?facility=daemon&facility=user", "facility"},
		{"syslog+unix://dev/log", "host"},
		{"syslog+unix://", "path"},
		{"syslog+unix:///var/run/", "path"},
		{"syslog+tcp://h:x", "syntax"},
		{"syslog+relp://h:2514/x", "path"},
		{"syslog+relp://", "host"},
	} {
		_, err := ParseURL(tc.in)
		var ue *URLError
		if !errors.As(err, &ue) {
			t.Errorf("ParseURL(%q) = %v, want a *URLError", tc.in, err)
			continue
		}
		if ue.Part != tc.part {
			t.Errorf("ParseURL(%q): part %q (%v), want %q", tc.in, ue.Part, err, tc.part)
		}
		if !strings.Contains(err.Error(), tc.part) {
			t.Errorf("ParseURL(%q): %q does not name %q", tc.in, err, tc.part)
		}
	}
	if IsURL("/var/log/ctwatch.json") || IsURL("syslog+tcp") {
		t.Error("IsURL takes a path")
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"syslog+udp://127.0.0.1:5514", "syslog+tcp://[::1]:601?facility=local0", "syslog+unix:///dev/log", "syslog+relp://h?facility=local7", "syslog+tcp://h:x", "syslog+unix://a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			var ue *URLError
			if !errors.As(err, &ue) || ue.Part == "" || ue.URL != s {
				t.Fatalf("ParseURL(%q) = %v, not a *URLError with a part", s, err)
			}
			return
		}
		switch tg.Network {
		case "udp", "tcp", "relp":
			if !strings.Contains(tg.Address, ":") {
				t.Fatalf("ParseURL(%q): address %q has no port", s, tg.Address)
			}
		case "unix":
			if !strings.HasPrefix(tg.Address, "/") {
				t.Fatalf("ParseURL(%q): path %q is not absolute", s, tg.Address)
			}
		default:
			t.Fatalf("ParseURL(%q): network %q", s, tg.Network)
		}
		if tg.Facility == 0 || tg.Facility > Local7 {
			t.Fatalf("ParseURL(%q): facility %d", s, tg.Facility)
		}
		if !IsURL(s) {
			t.Fatalf("IsURL(%q) = false for a URL ParseURL takes", s)
		}
	})
}
