package model_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testNames is a connlabel.conf of "0 blue", "1 red", "3 heartbeat" (the
// capture's) and "200 far", a bit the kernel cannot set.
func testNames(t testing.TB) *model.LabelNames {
	t.Helper()
	var n model.LabelNames
	for _, l := range []struct {
		bit  int
		name string
	}{{0, "blue"}, {1, "red"}, {3, "heartbeat"}, {200, "far"}} {
		if !n.Add(l.bit, l.name) {
			t.Fatalf("Add(%d, %q) = false", l.bit, l.name)
		}
	}
	return &n
}

func TestLabelNamesAdd(t *testing.T) {
	n := testNames(t)
	refused := []struct {
		bit  int
		name string
	}{
		{0, "other"},  // bit 0 is named: the first wins
		{5, "red"},    // red names bit 1
		{6, ""},       // no name
		{-1, "minus"}, // no bit
	}
	for _, r := range refused {
		if n.Add(r.bit, r.name) {
			t.Errorf("Add(%d, %q) = true, want false", r.bit, r.name)
		}
	}
	type bitName struct {
		Bit   int
		Name  string
		Label string
	}
	var got []bitName
	for bit := range 256 {
		if s := n.Name(bit); s != "" {
			got = append(got, bitName{bit, s, n.Label(bit)})
		}
	}
	want := []bitName{{0, "blue", "blue"}, {1, "red", "red"}, {3, "heartbeat", "heartbeat"}, {200, "far", "far"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if got := n.Len(); got != 4 {
		t.Errorf("Len() = %d, want 4", got)
	}
	for _, c := range []struct {
		bit  int
		want string
	}{{2, "2"}, {127, "127"}, {128, "128"}, {1000, "1000"}} {
		if got := n.Label(c.bit); got != c.want {
			t.Errorf("Label(%d) = %q, want %q", c.bit, got, c.want)
		}
	}
	if b, ok := n.Bit("heartbeat"); !ok || b != 3 {
		t.Errorf(`Bit("heartbeat") = %d, %v, want 3, true`, b, ok)
	}
	if _, ok := n.Bit("2"); ok {
		t.Error(`Bit("2") found a bit, want none`)
	}
	var none *model.LabelNames
	if got := none.Label(5); got != "5" || none.Len() != 0 || none.Name(5) != "" {
		t.Errorf("nil table: Label(5) = %q, Len %d, Name %q; want \"5\", 0, \"\"", got, none.Len(), none.Name(5))
	}
}

func TestLabelNamesRename(t *testing.T) {
	n := testNames(t)
	tests := []struct {
		in, want []string
	}{
		{[]string{"0", "1", "2", "3"}, []string{"blue", "red", "2", "heartbeat"}},
		{[]string{"red", "01", "+1", "1 ", "00", "200"}, []string{"red", "01", "+1", "1 ", "00", "far"}},
		{nil, nil},
	}
	for _, tt := range tests {
		got := append([]string(nil), tt.in...)
		n.Rename(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Rename(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	empty := []string{"0", "1"}
	(*model.LabelNames)(nil).Rename(empty)
	if diff := cmp.Diff([]string{"0", "1"}, empty); diff != "" {
		t.Errorf("nil table renamed (-want +got):\n%s", diff)
	}
}

func TestLabelNamesLabelAllocs(t *testing.T) {
	n := testNames(t)
	labels := []string{"0", "2", "3"}
	allocs := testing.AllocsPerRun(1000, func() {
		_ = n.Label(1)
		_ = n.Label(127)
		labels[0], labels[2] = "0", "3"
		n.Rename(labels)
	})
	if allocs != 0 {
		t.Errorf("Label and Rename allocate %v times, want 0", allocs)
	}
}

// TestAppendTextLabels holds the labels of the text form to
// testdata/text/labels.golden: none without the labels option (conntrack
// -E), and with it conntrack -o labels' "labels=a,b": only what the table
// names, "labels" alone when it names none of the entry's bits, nothing
// when it names no bit at all.
func TestAppendTextLabels(t *testing.T) {
	names := testNames(t)
	var empty model.LabelNames
	base := model.Event{
		Type: model.EventNew,
		Entry: model.Entry{
			Family: model.FamilyIPv4, Proto: model.ProtoUDP,
			Fields:  model.FieldTimeout | model.FieldMark | model.FieldLabels | model.FieldID,
			Timeout: 30,
			Orig:    model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), SrcPort: 38078, DstPort: 5005},
			Reply:   model.Tuple{Src: addr("127.0.0.1"), Dst: addr("127.0.0.1"), SrcPort: 5005, DstPort: 38078},
			Mark:    42, ID: 7,
		},
		Origin: model.Origin{PortID: 99, Program: "conntrack"},
	}
	cases := []struct {
		name   string
		labels []string
		fields model.Field
		o      model.TextOptions
	}{
		{"default form: no labels", []string{"red", "heartbeat"}, 0, model.TextOptions{}},
		{"default form, id: no labels", []string{"red", "heartbeat"}, 0, model.TextOptions{ID: true}},
		{"labels, no table: every label", []string{"red", "heartbeat"}, 0, model.TextOptions{Labels: true}},
		{"labels, after id", []string{"red", "heartbeat"}, 0, model.TextOptions{Labels: true, ID: true}},
		{"labels, table: unnamed bits left out", []string{"red", "2", "heartbeat", "100"}, 0, model.TextOptions{Labels: true, LabelNames: names}},
		{"labels, table names none of the entry's", []string{"2", "100"}, 0, model.TextOptions{Labels: true, LabelNames: names}},
		{"labels, table names nothing", []string{"2", "100"}, 0, model.TextOptions{Labels: true, LabelNames: &empty}},
		{"labels, entry without labels", nil, model.FieldLabels, model.TextOptions{Labels: true, LabelNames: names}},
		{"labels, empty label set", []string{}, 0, model.TextOptions{Labels: true}},
	}
	var b strings.Builder
	for _, c := range cases {
		ev := base
		ev.Entry.Labels = c.labels
		ev.Entry.Fields &^= c.fields
		b.WriteString("# " + c.name + "\n")
		b.Write(model.AppendText(nil, &ev, &c.o))
		b.WriteString("\n")
	}
	checkGolden(t, filepath.Join("testdata", "text", "labels.golden"), b.String())
}

// checkGolden compares got with the golden file at path, or rewrites the
// file with got under -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestParseTextLabelsRoundTrip: every labelled line of the golden reads
// back to the labels it printed, and prints back as it was.
func TestParseTextLabelsRoundTrip(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "text", "labels.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		ev, form, err := model.ParseText(line, time.UTC)
		if err != nil {
			t.Errorf("ParseText(%q): %v", line, err)
			continue
		}
		if got := string(model.AppendText(nil, &ev, &form)); got != line {
			t.Errorf("round trip\nwant %q\ngot  %q", line, got)
		}
	}
}
