package main

import (
	"errors"
	"regexp"
	"testing"
)

func TestNewRunID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, err := newRunID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRunID()
	if err != nil {
		t.Fatal(err)
	}
	if !uuid4.MatchString(a) || !uuid4.MatchString(b) {
		t.Errorf("run ids %q, %q: want version 4 UUIDs", a, b)
	}
	if a == b {
		t.Errorf("two run ids are both %q", a)
	}
}

func TestHostname(t *testing.T) {
	if got, err := hostname("node-7"); err != nil || got != "node-7" {
		t.Errorf(`hostname("node-7") = %q, %v; want the name given`, got, err)
	}
	if got, err := hostname("nœud-7.example"); err != nil || got != "nœud-7.example" {
		t.Errorf(`hostname("nœud-7.example") = %q, %v; want the name given`, got, err)
	}
	for _, bad := range []string{"node 7", "node\x007", "node\u00857"} {
		var ue usageError
		if _, err := hostname(bad); !errors.As(err, &ue) {
			t.Errorf("hostname(%q) = %v, want a usage error", bad, err)
		}
	}
	if got, err := hostname(""); err != nil || got == "" {
		t.Errorf(`hostname("") = %q, %v; want the kernel's`, got, err)
	}
}
