package watch

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The FTP expectation of conntrack's capture on Linux 6.18, and the data
// connection that matched it.
const (
	expectNewLine     = "[1796656183.765978]\t    [NEW] 300 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=46739 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=127.0.0.1 master-dst=127.0.0.1 sport=36204 dport=21 class=0 helper=ftp"
	expectDestroyLine = "[1796656184.66616 ]\t[DESTROY] 299 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=46739 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=127.0.0.1 master-dst=127.0.0.1 sport=36204 dport=21 class=0 helper=ftp"
	dataNewLine       = "[1796656184.066600]\t    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=36020 dport=46739 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=46739 dport=36020 id=2371753431"
)

func expectBatch(t *testing.T) *events.Batch {
	t.Helper()
	var xs []events.ExpectEvent
	for i, l := range []string{expectNewLine, expectDestroyLine} {
		x, _, err := model.ParseExpectText(l)
		if err != nil {
			t.Fatal(err)
		}
		// The destroy came after the data connection's NEW.
		xs = append(xs, events.ExpectEvent{At: i, ExpectEvent: x})
	}
	return &events.Batch{Events: parse(t, dataNewLine), Expects: xs}
}

// TestExpectRecords: expectation events are written in the kernel's order
// among the connection events, bypass the tracker and the filter, and are
// counted in the stop record's totals.
func TestExpectRecords(t *testing.T) {
	w, out, buf := testWatch(t, Config{Types: events.AllTypes | events.ExpectTypes})
	w.batch(expectBatch(t))
	recs := lines(t, out, buf)
	if diff := cmp.Diff([]string{"expect_new", "new", "expect_destroy"}, kinds(recs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if m, _ := recs[0]["master"].(map[string]any); m["dport"] != 21.0 {
		t.Errorf("expect_new master %v, want dport 21", recs[0]["master"])
	}
	if tu, _ := recs[0]["tuple"].(map[string]any); tu["dport"] != 46739.0 {
		t.Errorf("expect_new tuple %v, want dport 46739", recs[0]["tuple"])
	}
	if got := w.tracker.Stats().Tracked; got != 1 {
		t.Errorf("tracker holds %d flows, want the data connection only", got)
	}
	s := w.summary()
	tot := s.totals()
	if !tot.Expects || tot.ExpectNew != 1 || tot.ExpectDestroy != 1 || tot.ExpectWritten != 2 || tot.Written != 1 {
		t.Errorf("totals %+v", tot)
	}
}

// TestExpectText: --format text writes an expectation as conntrack -E
// expect prints it, byte for byte.
func TestExpectText(t *testing.T) {
	w, out, buf := testWatch(t, Config{Format: FormatText, Text: model.TextOptions{Timestamp: true}, Types: events.ExpectTypes})
	b := expectBatch(t)
	b.Events = nil
	for i := range b.Expects {
		b.Expects[i].At = 0
	}
	w.batch(b)
	if err := out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expectNewLine+"\n"+expectDestroyLine+"\n", buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
