package main

import (
	"crypto/rand"
	"fmt"
	"os"
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

// hostname returns the host name records carry: the one given, or the
// kernel's (a pod on the host's network sees the node's).
func hostname(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("read the host name (give one with --host-name): %w", err)
	}
	return h, nil
}
