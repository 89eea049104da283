package connlabel

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// table lists the names of t by bit.
func table(t *model.LabelNames) map[int]string {
	m := map[int]string{}
	for bit := range maxBits {
		if s := t.Name(bit); s != "" {
			m[bit] = s
		}
	}
	return m
}

// problem is a LineError without its file and message.
type problem struct {
	Line   int
	Field  string
	Loaded bool
}

func problems(ps []*LineError) []problem {
	var out []problem
	for _, p := range ps {
		out = append(out, problem{p.Line, p.Field, p.Loaded})
	}
	return out
}

func TestParse(t *testing.T) {
	long := "5 " + strings.Repeat("a", 1100) + "\n"
	exact := "6 " + strings.Repeat("b", 1021) + "\n" // 1023 bytes and its newline
	tests := []struct {
		name     string
		in       string
		want     map[int]string
		problems []problem
	}{
		{
			name: "the capture's file",
			in:   "0 blue\n1 red\n3 heartbeat\n",
			want: map[int]string{0: "blue", 1: "red", 3: "heartbeat"},
		},
		{
			name: "comments and blank lines",
			in:   "# conntrack labels\n\n   \n\t# indented comment\n2 green # not a comment\n4 yellow\n",
			want: map[int]string{4: "yellow"},
			// "green # not a comment" holds '#'.
			problems: []problem{{5, "name", false}},
		},
		{
			name: "bases, signs and no separator, as strtoul reads them",
			in:   "0x10 hex\n010 octal\n+7 plus\n-0 minus zero\n08 eight\n0xg gee\n 9\tpadded  \n12tight\n",
			// "08" is octal 0 followed by "8 eight"; "0xg" is 0 followed
			// by "xg gee": both bit 0, taken by "-0" first.
			want:     map[int]string{16: "hex", 8: "octal", 7: "plus", 0: "minus zero", 9: "padded", 12: "tight"},
			problems: []problem{{5, "bit", false}, {6, "bit", false}},
		},
		{
			name:     "bits out of range",
			in:       "1024 over\n-1 negative\n99999999999999999999999 huge\n1023 last\n127 top\n128 past\n",
			want:     map[int]string{1023: "last", 127: "top", 128: "past"},
			problems: []problem{{1, "bit", false}, {2, "bit", false}, {3, "bit", false}, {4, "bit", true}, {6, "bit", true}},
		},
		{
			name:     "not a number",
			in:       "red 1\nx\n",
			problems: []problem{{1, "bit", false}, {2, "bit", false}},
		},
		{
			name: "duplicates: the first wins, a refused line frees its bit",
			in:   "1 red\n1 crimson\n2 red\n3 bad!\n3 good\n4\n4 four\n",
			want: map[int]string{1: "red", 3: "good", 4: "four"},
			problems: []problem{
				{2, "bit", false},  // bit 1 taken
				{3, "name", false}, // red taken
				{4, "name", false}, // '!' refused, bit 3 stays free
				{6, "name", false}, // no name, bit 4 stays free
			},
		},
		{
			name:     "names: spaces inside kept, others refused",
			in:       "1 two words\n2 dash-ok\n3 under_score\n4 tab\tinside\n5 ümlaut\n6 trailing \t \r\n",
			want:     map[int]string{1: "two words", 2: "dash-ok", 6: "trailing"},
			problems: []problem{{3, "name", false}, {4, "name", false}, {5, "name", false}},
		},
		{
			name: "CRLF and a last line without newline",
			in:   "1 one\r\n2 two",
			want: map[int]string{1: "one", 2: "two"},
		},
		{
			name: "a NUL ends the line's text",
			in:   "1 one\x00garbage\n2 t\x00\n",
			want: map[int]string{1: "one", 2: "t"},
		},
		{
			name: "a long line is read in pieces, as fgets does",
			in:   long + "7 seven\n",
			want: map[int]string{5: strings.Repeat("a", 1021), 7: "seven"},
			// The first piece loads with its name cut; the rest is not
			// a line of its own.
			problems: []problem{{1, "name", true}, {1, "bit", false}},
		},
		{
			name: "a line of exactly 1023 bytes is whole",
			in:   exact + "7 seven\n",
			want: map[int]string{6: strings.Repeat("b", 1021), 7: "seven"},
		},
		{
			name:     "the rest of a long line that starts with a number loads",
			in:       "5 " + strings.Repeat("c", 1021) + "9 nine\n",
			want:     map[int]string{5: strings.Repeat("c", 1021), 9: "nine"},
			problems: []problem{{1, "name", true}},
		},
		{
			name: "empty",
			in:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, ps, err := Parse(strings.NewReader(tt.in), "connlabel.conf")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.want
			if want == nil {
				want = map[int]string{}
			}
			if diff := cmp.Diff(want, table(names)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.problems, problems(ps)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, p := range ps {
				prefix := "connlabel.conf:" + strconv.Itoa(p.Line) + ": " + p.Field + ": "
				if !strings.HasPrefix(p.Error(), prefix) || len(p.Error()) == len(prefix) {
					t.Errorf("error %q does not start with %q and say why", p.Error(), prefix)
				}
			}
		})
	}
}

func TestParseMessages(t *testing.T) {
	_, ps, err := Parse(strings.NewReader("1 red\n1 blue\n2 red\nfoo bar\n2000 x\n3 a;b\n"), "/etc/x.conf")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	want := []string{
		`/etc/x.conf:2: bit: bit 1 is named on line 1 already (as "red")`,
		`/etc/x.conf:3: name: "red" names bit 1 already (line 1)`,
		`/etc/x.conf:4: bit: "foo" is not a number`,
		`/etc/x.conf:5: bit: "2000" is not a bit from 0 to 1023`,
		`/etc/x.conf:6: name: "a;b" holds characters other than ASCII letters, digits, spaces and '-'`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "connlabel.conf")
	if err := os.WriteFile(path, []byte("0 blue\nbad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, ps, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(map[int]string{0: "blue"}, table(names)); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if len(ps) != 1 || ps[0].File != path || ps[0].Line != 2 {
		t.Errorf("problems = %v, want one on %s:2", ps, path)
	}
	if _, _, err := Load(filepath.Join(dir, "missing.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestStrtoul(t *testing.T) {
	tests := []struct {
		in   string
		v    uint64
		rest string
		ok   bool
	}{
		{"42 x", 42, " x", true},
		{"  \n\t7y", 7, "y", true},
		{"0x1F", 31, "", true},
		{"0X1f", 31, "", true},
		{"0x", 0, "x", true},
		{"017", 15, "", true},
		{"019", 1, "9", true},
		{"-1", 1<<64 - 1, "", true},
		{"-0", 0, "", true},
		{"+", 0, "+", false},
		{"", 0, "", false},
		{"x1", 0, "x1", false},
		{"18446744073709551616", 1<<64 - 1, "", true},
		{"-18446744073709551616", 1<<64 - 1, "", true},
	}
	for _, tt := range tests {
		v, rest, ok := strtoul([]byte(tt.in))
		if v != tt.v || string(rest) != tt.rest || ok != tt.ok {
			t.Errorf("strtoul(%q) = %d, %q, %v; want %d, %q, %v", tt.in, v, rest, ok, tt.v, tt.rest, tt.ok)
		}
	}
}

// FuzzParse holds Parse to what libnetfilter_conntrack's reading
// guarantees: every name is sane and trimmed, on a bit below 1024, and
// names only one bit; every problem names a line of the input; and the
// table written back as "bit name" lines reads back the same, without
// problems but for the bits the kernel cannot carry.
func FuzzParse(f *testing.F) {
	f.Add("0 blue\n1 red\n3 heartbeat\n")
	f.Add("# c\n0x10 hex\n010 oct\n-0 z\n1 red\n1 blue\n2 red\n3 a;b\n")
	f.Add("5 " + strings.Repeat("a", 1100) + "\n9 x")
	f.Add("1 one\x00x\r\n 2\ttwo  \n1024 no\n")
	f.Fuzz(func(t *testing.T, in string) {
		names, ps, err := Parse(strings.NewReader(in), "f")
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		lines := strings.Count(in, "\n") + 1
		for _, p := range ps {
			if p.Line < 1 || p.Line > lines || (p.Field != "bit" && p.Field != "name") {
				t.Errorf("problem %v outside the input's %d lines or fields", p, lines)
			}
		}
		// Written back, a name of a line cut in pieces may not fit a
		// piece after a longer bit number: those stay out.
		var out strings.Builder
		tb := table(names)
		if names.Len() != len(tb) {
			t.Errorf("Len() = %d, %d bits named", names.Len(), len(tb))
		}
		for bit := range maxBits {
			name, ok := tb[bit]
			if !ok {
				continue
			}
			if !sane(name) || strings.TrimSpace(name) != name {
				t.Errorf("bit %d named %q", bit, name)
			}
			if b, ok := names.Bit(name); !ok || b != bit {
				t.Errorf("Bit(%q) = %d, %v, want %d", name, b, ok, bit)
			}
			if len(name) > 1000 {
				delete(tb, bit)
				continue
			}
			out.WriteString(strconv.Itoa(bit) + " " + name + "\n")
		}
		again, ps2, err := Parse(strings.NewReader(out.String()), "again")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tb, table(again)); diff != "" {
			t.Errorf("written back and read again (-want +got):\n%s", diff)
		}
		for _, p := range ps2 {
			if !p.Loaded {
				t.Errorf("written back: %v", p)
			}
		}
	})
}
