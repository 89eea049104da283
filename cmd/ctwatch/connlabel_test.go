package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseCommandLabels: parse names the numbered labels of ctwatch's
// records from --connlabel-file, keeps the names conntrack printed, says
// the file's bad lines on stderr, and prints labels in text only in the
// form of a line that had them or with --text-opts labels.
func TestParseCommandLabels(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "connlabel.conf")
	if err := os.WriteFile(conf, []byte("# test\n0 blue\n3 heartbeat\nnot a line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.log")
	lines := `{"event":"update","family":"ipv4","proto":"udp","protonum":17,"timeout":30,"orig":{"src":"127.0.0.1","dst":"127.0.0.1","sport":1,"dport":2},"reply":{"src":"127.0.0.1","dst":"127.0.0.1","sport":2,"dport":1},"labels":["0","2","3"]}` + "\n" +
		" [UPDATE] udp      17 30 src=127.0.0.1 dst=127.0.0.1 sport=3 dport=4 src=127.0.0.1 dst=127.0.0.1 sport=4 dport=3 labels=red\n"
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runCmd(t, "parse", "--connlabel-file", conf, in)
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		i := strings.Index(l, `"labels":`)
		if i < 0 {
			t.Fatalf("record without labels: %s", l)
		}
		got = append(got, l[i:i+strings.Index(l[i:], "]")+1])
	}
	want := []string{`"labels":["blue","2","heartbeat"]`, `"labels":["red"]`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if w := conf + `:4: bit: "not" is not a number`; !strings.Contains(stderr, w) {
		t.Errorf("stderr does not say %q:\n%s", w, stderr)
	}

	// Each line's own form: the record's has no labels, conntrack's has.
	stdout, _, code = runCmd(t, "parse", "--connlabel-file", conf, "--format", "text", in)
	if code != 0 || strings.Count(stdout, "labels") != 1 || !strings.Contains(stdout, " labels=red\n") {
		t.Errorf("text in each line's form: status %d:\n%s", code, stdout)
	}
	stdout, _, code = runCmd(t, "parse", "--connlabel-file", conf, "--format", "text", "--text-opts", "id", in)
	if code != 0 || strings.Contains(stdout, "labels") {
		t.Errorf("text without --text-opts labels: status %d, labels printed:\n%s", code, stdout)
	}
	stdout, _, code = runCmd(t, "parse", "--connlabel-file", conf, "--format", "text", "--text-opts", "labels", in)
	if code != 0 || strings.Count(stdout, "labels=") != 2 || !strings.Contains(stdout, " labels=blue,2,heartbeat\n") || !strings.Contains(stdout, " labels=red\n") {
		t.Errorf("text with --text-opts labels: status %d:\n%s", code, stdout)
	}
}

// TestConnlabelFileMissing: a missing file named with --connlabel-file is
// an error, the default one is not (parse says nothing of it).
func TestConnlabelFileMissing(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	if err := os.WriteFile(in, []byte("udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "none.conf")
	_, stderr, code := runCmd(t, "parse", "--connlabel-file", missing, in)
	if code != 1 || !strings.Contains(stderr, "--connlabel-file") || !strings.Contains(stderr, missing) {
		t.Errorf("explicit missing file: status %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat("/etc/xtables/connlabel.conf"); err == nil {
		t.Skip("this host has a /etc/xtables/connlabel.conf")
	}
	_, stderr, code = runCmd(t, "parse", in)
	if code != 0 || strings.Contains(stderr, "connlabel") {
		t.Errorf("default missing file: status %d, stderr:\n%s", code, stderr)
	}
}

// TestLoadLabels: the default file missing gives an empty table and a note
// to say once; the file given missing is an error; bad lines are said on
// stderr, and the rest loads.
func TestLoadLabels(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.conf")
	conf := filepath.Join(dir, "connlabel.conf")
	if err := os.WriteFile(conf, []byte("1 red\n1 blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (names []string, note, stderr string, err error) {
		fs := newFlagSet("test", io.Discard)
		path := connlabelFlag(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if len(args) == 0 {
			*path = missing // the default, as if it were absent
		}
		var errOut strings.Builder
		table, note, err := loadLabels(fs, *path, &errOut)
		for bit := range 4 {
			if n := table.Name(bit); n != "" {
				names = append(names, n)
			}
		}
		return names, note, errOut.String(), err
	}

	names, note, stderr, err := load()
	if err != nil || len(names) != 0 || !strings.Contains(note, missing) || !strings.Contains(note, "bit number") || stderr != "" {
		t.Errorf("default missing: names %q, note %q, stderr %q, err %v", names, note, stderr, err)
	}
	if _, _, _, err := load("--connlabel-file", missing); err == nil || !strings.Contains(err.Error(), "--connlabel-file") {
		t.Errorf("given missing: err %v, want a --connlabel-file error", err)
	}
	names, note, stderr, err = load("--connlabel-file", conf)
	if err != nil || note != "" || !strings.Contains(stderr, conf+":2: bit: ") {
		t.Errorf("given: note %q, stderr %q, err %v", note, stderr, err)
	}
	if diff := cmp.Diff([]string{"red"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}
