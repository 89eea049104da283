package watch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/netns"
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// expectSnapshotLine is the FTP expectation as conntrack -L expect lists
// it on Linux 6.18.
const expectSnapshotLine = "298 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=47999 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=127.0.0.1 master-dst=127.0.0.1 sport=38018 dport=21 class=0 helper=ftp"

// fakeExpectTable lists its expectations as events.DumpExpect does (each
// an EventSnapshot in one reused event), or fails with err after them.
type fakeExpectTable struct {
	t     *testing.T
	lines []string
	err   error
	calls int
}

func (f *fakeExpectTable) dump(_ context.Context, _ *netns.Handle, fn func(*model.ExpectEvent) bool) error {
	f.calls++
	var ev model.ExpectEvent
	for _, l := range f.lines {
		x, _, err := model.ParseExpectText(l)
		if err != nil {
			f.t.Fatal(err)
		}
		ev = x
		if !fn(&ev) {
			return nil
		}
	}
	return f.err
}

// interesting keeps the kinds of the records a snapshot is about.
func interesting(recs []map[string]any) ([]string, map[string]any) {
	var k []string
	var dump map[string]any
	for _, r := range recs {
		switch r["event"] {
		case "snapshot", "expect_snapshot", "expect_new", "new":
			k = append(k, r["event"].(string))
		case "dump":
			k = append(k, "dump")
			dump = r
		}
	}
	return k, dump
}

// TestRunExpectSnapshot: with Snapshot and an expectation type selected,
// the startup dump writes the entries' snapshot records, then one
// expect_snapshot record per expectation, before the dump record, which
// counts them; the live stream comes after.
func TestRunExpectSnapshot(t *testing.T) {
	for _, types := range []events.Types{events.ExpectTypes, events.TypeExpectNew, events.TypeExpectDestroy | events.TypeNew} {
		t.Run(types.String(), func(t *testing.T) {
			xt := &fakeExpectTable{t: t, lines: []string{expectSnapshotLine}}
			lt := newLoopTest(t, Config{Snapshot: true, Types: types, DumpExpect: xt.dump, Heartbeat: -1}, read{events: parse(t, dataNewLine)})
			lt.table.set(udpEntry(t, 10000))
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			recs := lt.records()
			got, dump := interesting(recs)
			want := []string{"snapshot", "expect_snapshot", "dump", "new"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if xt.calls != 1 {
				t.Errorf("expectation table dumped %d times, want once", xt.calls)
			}
			if dump["expectations"] != 1.0 || dump["entries"] != 1.0 || dump["level"] != "info" {
				t.Errorf("dump record %v: want 1 entry, 1 expectation, info", dump)
			}
			for _, r := range recs {
				if r["event"] != "expect_snapshot" {
					continue
				}
				if tu, _ := r["tuple"].(map[string]any); tu["dport"] != 47999.0 {
					t.Errorf("expect_snapshot tuple %v, want dport 47999", r["tuple"])
				}
				if m, _ := r["master"].(map[string]any); m["dport"] != 21.0 || r["helper"] != "ftp" {
					t.Errorf("expect_snapshot %v without the ftp master", r)
				}
			}
		})
	}
}

// TestRunExpectSnapshotNotSelected: without an expectation type, or
// without Snapshot, the expectation table is not dumped and the dump
// record has no expectations key.
func TestRunExpectSnapshotNotSelected(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no expectation type": {Snapshot: true, Types: events.AllTypes},
		"no snapshot":         {Types: events.AllTypes | events.ExpectTypes},
	} {
		t.Run(name, func(t *testing.T) {
			xt := &fakeExpectTable{t: t, lines: []string{expectSnapshotLine}}
			cfg.DumpExpect, cfg.Heartbeat = xt.dump, -1
			lt := newLoopTest(t, cfg)
			if _, err := lt.run(); err != nil {
				t.Fatal(err)
			}
			_, dump := interesting(lt.records())
			if _, ok := dump["expectations"]; ok || xt.calls != 0 {
				t.Errorf("dump record %v, %d dumps of the expectation table: want none", dump, xt.calls)
			}
		})
	}
}

// TestRunExpectSnapshotFails: a failed expectation dump is the dump
// record's error (a warning), with what it listed written; the watch goes
// on.
func TestRunExpectSnapshotFails(t *testing.T) {
	xt := &fakeExpectTable{t: t, lines: []string{expectSnapshotLine}, err: errors.New("dump expectation table: no reply")}
	lt := newLoopTest(t, Config{Snapshot: true, Types: events.ExpectTypes, DumpExpect: xt.dump, Heartbeat: -1})
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	got, dump := interesting(lt.records())
	if diff := cmp.Diff([]string{"expect_snapshot", "dump"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if e, _ := dump["error"].(string); dump["level"] != "warn" || !strings.Contains(e, "expectation snapshot: dump expectation table: no reply") || dump["expectations"] != 1.0 {
		t.Errorf("dump record %v: want a warning with the expectation dump's error", dump)
	}
}

// TestRunExpectSnapshotText: in text form an expectation of the snapshot
// is the line conntrack -L expect prints, byte for byte.
func TestRunExpectSnapshotText(t *testing.T) {
	xt := &fakeExpectTable{t: t, lines: []string{expectSnapshotLine}}
	lt := newLoopTest(t, Config{Snapshot: true, Format: FormatText, Types: events.ExpectTypes, DumpExpect: xt.dump, Heartbeat: -1})
	if _, err := lt.run(); err != nil {
		t.Fatal(err)
	}
	if err := lt.out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, l := range strings.Split(lt.buf.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "{") {
			text = append(text, l)
		}
	}
	if diff := cmp.Diff([]string{expectSnapshotLine}, text); diff != "" {
		t.Errorf("text lines (-want +got):\n%s", diff)
	}
}

// TestRunExpectSnapshotNetNS: a Snapshot watch of every namespace lists
// each namespace's expectations after its entries, and writes them as
// that namespace's.
func TestRunExpectSnapshotNetNS(t *testing.T) {
	a := nsdiscover.NS{Inode: 4026531001, NSID: 1, Name: "a"}
	b := nsdiscover.NS{Inode: 4026531002, NSID: 2, Name: "b"}
	var nt *nsLoopTest
	dumpExpect := func(_ context.Context, h *netns.Handle, fn func(*model.ExpectEvent) bool) error {
		nt.mu.Lock()
		ino := nt.inode[h]
		nt.mu.Unlock()
		x, _, err := model.ParseExpectText(strings.Replace(expectSnapshotLine, "dport=47999", "dport="+strconv.FormatUint(ino%10000, 10), 1))
		if err != nil {
			return err
		}
		fn(&x)
		return nil
	}
	nt = newNSLoopTest(t, Config{Snapshot: true, Types: events.ExpectTypes, DumpExpect: dumpExpect, Heartbeat: -1},
		map[uint64]bool{a.Inode: true, b.Inode: true})
	nt.add(a, udpEntry(t, 1))
	nt.add(b)
	if _, err := nt.run(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range nt.records() {
		switch r["event"] {
		case "snapshot", "expect_snapshot", "netns_added":
			ns, _ := r["netns"].(map[string]any)
			s := r["event"].(string) + " " + fmt.Sprint(ns["name"])
			if tu, ok := r["tuple"].(map[string]any); ok {
				s += fmt.Sprintf(" dport=%v", tu["dport"])
			}
			got = append(got, s)
		}
	}
	want := []string{
		"snapshot a", "expect_snapshot a dport=1001", "netns_added a",
		"expect_snapshot b dport=1002", "netns_added b",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
