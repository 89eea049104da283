package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"unicode"
)

// newRunID returns a random UUID (version 4, RFC 9562) naming this run of
// the program in every record: a consumer tells two runs' sequence numbers
// apart by it, and a restart by its change.
func newRunID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a run id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// maxHostName is the longest host name --host-name takes, in bytes: a
// DNS name's limit.
const maxHostName = 255

// hostname returns the host name records carry: the one given (a usage
// error when it is longer than maxHostName or holds a space or a control
// character, which would split or garble the field in a SIEM), or the
// kernel's (a pod on the host's network sees the node's).
func hostname(given string) (string, error) {
	if given != "" {
		if len(given) > maxHostName {
			return "", usageError{fmt.Errorf("--host-name: %d bytes, longer than %d", len(given), maxHostName)}
		}
		for _, r := range given {
			if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) {
				return "", usageError{fmt.Errorf("--host-name %q: no spaces or control characters", given)}
			}
		}
		return given, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("read the host name (give one with --host-name): %w", err)
	}
	return h, nil
}
