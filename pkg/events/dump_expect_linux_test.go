package events

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// dumpMessage is a copy of the captured message raw as a dump reply
// carries it: NLM_F_MULTI, the request's sequence number, and the port id
// of the kernel's reply to a requester.
func dumpMessage(raw []byte, seq uint32) []byte {
	m := append([]byte(nil), raw...)
	binary.NativeEndian.PutUint16(m[6:], uint16(ctnl.NLMFMulti))
	binary.NativeEndian.PutUint32(m[8:], seq)
	binary.NativeEndian.PutUint32(m[12:], 4242)
	return m
}

// doneMessage is the NLMSG_DONE that ends a dump reply, of status 0.
func doneMessage(seq uint32) []byte {
	b := make([]byte, ctnl.NLMsgHdrLen+4)
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], uint16(ctnl.NLMsgDone))
	binary.NativeEndian.PutUint16(b[6:], uint16(ctnl.NLMFMulti))
	binary.NativeEndian.PutUint32(b[8:], seq)
	return b
}

// TestExpectDumpReply feeds an expectation dump reply made of the
// kernel's captured expectation messages (the two IPCTNL_MSG_EXP_NEW of
// testdata/expect.nlmsg, the type ctnetlink_exp_dump_table lists each
// expectation with) in two datagrams, with a connection message among
// them, and compares the snapshots' lines, as conntrack -L expect prints
// them, with testdata/expect_dump.golden (rewritten by -update).
func TestExpectDumpReply(t *testing.T) {
	const seq = 9
	msgs := loadCapture(t, "expect")
	conn := loadCapture(t, "tcp")[0].raw
	datagrams := [][]byte{
		append(dumpMessage(msgs[0].raw, seq), dumpMessage(conn, seq)...),
		append(dumpMessage(msgs[2].raw, seq), doneMessage(seq)...),
	}
	var got []model.ExpectEvent
	d := expectDumper{fn: func(ev *model.ExpectEvent) bool {
		got = append(got, *ev)
		return true
	}}
	r := d.reply()
	r.Seq = seq
	for i, b := range datagrams {
		if err := r.Feed(b); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
	if !r.Done {
		t.Fatal("the reply did not end at NLMSG_DONE")
	}
	if err := d.err(); !errors.Is(err, ErrDumpIncomplete) || !errors.Is(err, ErrNotConntrack) {
		t.Errorf("error %v: want ErrDumpIncomplete and ErrNotConntrack for the connection message", err)
	}
	var lines strings.Builder
	for i, ev := range got {
		if ev.Type != model.EventSnapshot || ev.Time.IsZero() || !ev.Origin.IsZero() {
			t.Errorf("expectation %d: type %v, time %v, origin %+v: want a snapshot, its receive time and no origin", i, ev.Type, ev.Time, ev.Origin)
		}
		lines.Write(model.AppendExpectText(nil, &ev, nil))
		lines.WriteByte('\n')
	}
	path := filepath.Join("testdata", "expect_dump.golden")
	if *update {
		if err := os.WriteFile(path, []byte(lines.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), lines.String()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestExpectDumpStops: when fn returns false the reply ends there, and
// what it did not take is no error.
func TestExpectDumpStops(t *testing.T) {
	msgs := loadCapture(t, "expect")
	n := 0
	d := expectDumper{fn: func(*model.ExpectEvent) bool { n++; return false }}
	r := d.reply()
	if err := r.Feed(append(dumpMessage(msgs[0].raw, 0), dumpMessage(msgs[2].raw, 0)...)); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !r.Done || d.err() != nil {
		t.Errorf("fn called %d times, done %v, error %v: want 1, true, nil", n, r.Done, d.err())
	}
}
