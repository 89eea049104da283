//go:build integration

package integration

import (
	"encoding/binary"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// vtagEntries are SCTP entries made through ctnetlink, by source port:
// their original and reply vtags.
var vtagEntries = []struct {
	sport       uint16
	orig, reply uint32
}{
	{5000, 16, 32},
	{5001, 17, 33},
	{5002, 16, 34},
	{5003, 0x10000000, 16},
}

// vtagCreate makes an ESTABLISHED, unreplied SCTP entry with the given vtags through
// ctnetlink (CTA_PROTOINFO_SCTP). conntrack -I --orig-vtag is no use
// here: conntrack-tools 1.4.7 sends the value in host byte order (with
// --orig-vtag 16 the kernel holds 0x10000000 on this little-endian host).
func vtagCreate(t *testing.T, ct *conntrack.Conn, sport uint16, orig, reply uint32) {
	t.Helper()
	f := evFlow(unix.IPPROTO_SCTP, "10.98.0.1", "10.98.0.2", sport, 36412, 100, 0)
	f.ProtoInfo.SCTP = &conntrack.ProtoInfoSCTP{State: uint8(model.SCTPEstablished), VTagOriginal: orig, VTagReply: reply}
	evWithin(t, evTimeout, "create the SCTP entry from port "+strconv.Itoa(int(sport)), func() error { return ct.Create(f) })
}

// TestWatchVtagFilter: the kernel reports the vtags of an SCTP entry in
// its new events and leaves them out of its destroy events, and ctwatch
// --orig-vtag selects the new events of the entries with that vtag,
// printed as conntrack -E prints them. conntrack -E itself refuses
// --orig-vtag (conntrack-tools 1.4.7 takes it for -I and -U only), so
// ctwatch's lines are compared with conntrack -E -p sctp's lines of those
// entries.
func TestWatchVtagFilter(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	ns := nstest.New(t)
	if out, err := ns.Command("conntrack", "-E", "-p", "sctp", "--orig-vtag", "16").CombinedOutput(); err == nil || !strings.Contains(string(out), "Illegal option") {
		t.Errorf("conntrack -E --orig-vtag: %v: %s; want it refused, as the filter package's documentation says", err, out)
	}

	ctOut := filepath.Join(t.TempDir(), "conntrack.txt")
	f, err := os.Create(ctOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctE := ns.Command("conntrack", "-E", "-e", "NEW", "-p", "sctp")
	ctE.Stdout = f
	if err := ctE.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctE.Process.Kill(); ctE.Wait() })
	text := wtStart(t, "watch", "--netns", ns.Name, "--format", "text", "--orig-vtag", "0x10")
	all := wtStart(t, "watch", "--netns", ns.Name, "--proto", "sctp")
	wtPoll(t, "the three listeners to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 3 })

	ct := ns.Conntrack()
	for _, e := range vtagEntries {
		vtagCreate(t, ct, e.sport, e.orig, e.reply)
	}
	ns.Run("conntrack", "-D", "-p", "sctp")
	// The end entry: after the destroys, so that the filtered watch has
	// shown them (or not) when it prints this one.
	const endPort = 5009
	vtagCreate(t, ct, endPort, 16, 99)

	// Every entry's new event carries both vtags, its destroy event none.
	vtags := map[uint16][2]uint32{endPort: {16, 99}}
	for _, e := range vtagEntries {
		vtags[e.sport] = [2]uint32{e.orig, e.reply}
	}
	seen := map[model.EventType]int{}
	all.waitEvent("the end entry's new record", func(ev *model.Event) bool {
		e := &ev.Entry
		sport := e.Orig.SrcPort
		want, ok := vtags[sport]
		if !ok {
			t.Errorf("record of an entry not made: %+v", ev)
			return false
		}
		seen[ev.Type]++
		switch ev.Type {
		case model.EventNew:
			if !e.Fields.Has(model.FieldOrigVtag|model.FieldReplyVtag) || [2]uint32{e.OrigVtag, e.ReplyVtag} != want {
				t.Errorf("new event of sport %d: vtags %#x, %#x (fields %b), want %#x, %#x", sport, e.OrigVtag, e.ReplyVtag, e.Fields, want[0], want[1])
			}
		case model.EventDestroy:
			if e.Fields&(model.FieldOrigVtag|model.FieldReplyVtag) != 0 {
				t.Errorf("destroy event of sport %d carries vtags (fields %b): the kernel sends none there", sport, e.Fields)
			}
		}
		return ev.Type == model.EventNew && sport == endPort
	})
	if seen[model.EventNew] != len(vtagEntries)+1 || seen[model.EventDestroy] != len(vtagEntries) {
		t.Errorf("unfiltered watch saw %v, want %d new and %d destroy events", seen, len(vtagEntries)+1, len(vtagEntries))
	}

	end := "sport=" + strconv.Itoa(endPort) + " "
	got := text.linesUntil(t, end, lastContains(end))
	lines := ctLinesUntil(t, ctOut, lastContains(end))
	// conntrack's lines of the entries made with original vtag 16.
	var want []string
	for _, l := range lines {
		if slices.ContainsFunc([]int{5000, 5002, endPort}, func(p int) bool { return strings.Contains(l, "sport="+strconv.Itoa(p)+" ") }) {
			want = append(want, l)
		}
	}
	if len(want) != 3 {
		t.Errorf("conntrack -E printed %d lines of the entries with original vtag 16, want 3:\n%s", len(want), strings.Join(lines, "\n"))
	}
	if diff := wtComparableDiff(want, got); diff != "" {
		t.Errorf("ctwatch --orig-vtag 0x10 (-conntrack's lines of the entries with that vtag +ctwatch):\n%s", diff)
	}
	ctE.Process.Signal(syscall.SIGINT)
	text.stop()
	all.stop()
}

// TestWatchVtagFromPacket: an SCTP INIT the kernel tracks gives the entry
// the INIT's initiate tag as its reply vtag (the tag the peer's packets
// must carry), and ctwatch reports it as the packet carries it, in network
// byte order: --reply-vtag with the tag selects the entry.
func TestWatchVtagFromPacket(t *testing.T) {
	ns := nstest.New(t)
	ns.EnableTracking()
	const initTag = 0x01020304
	w := wtStart(t, "watch", "--netns", ns.Name, "--reply-vtag", "0x01020304", "--events", "new")
	wtPoll(t, "ctwatch to subscribe", func() bool { return len(wtEventSockets(t, ns)) == 1 })

	// No SCTP socket is needed: a raw one sends the INIT, which the
	// loopback answers with an ICMP protocol unreachable.
	pkt := make([]byte, 12+20)
	binary.BigEndian.PutUint16(pkt[0:], 5020)  // source port
	binary.BigEndian.PutUint16(pkt[2:], 36412) // destination port
	// Verification tag 0, as an INIT must have it.
	chunk := pkt[12:]
	chunk[0] = 1                              // INIT
	binary.BigEndian.PutUint16(chunk[2:], 20) // chunk length
	binary.BigEndian.PutUint32(chunk[4:], initTag)
	binary.BigEndian.PutUint32(chunk[8:], 65536) // a_rwnd
	binary.BigEndian.PutUint16(chunk[12:], 1)    // outbound streams
	binary.BigEndian.PutUint16(chunk[14:], 1)    // inbound streams
	binary.BigEndian.PutUint32(chunk[16:], 1)    // initial TSN
	binary.LittleEndian.PutUint32(pkt[8:], crc32.Checksum(pkt, crc32.MakeTable(crc32.Castagnoli)))
	if err := ns.Do(func() error {
		c, err := net.ListenPacket("ip4:132", "127.0.0.1")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteTo(pkt, &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)})
		return err
	}); err != nil {
		t.Fatalf("send the SCTP INIT: %v", err)
	}
	ev, _ := w.waitEvent("the INIT's entry", func(ev *model.Event) bool { return ev.Entry.Proto == model.ProtoSCTP })
	e := &ev.Entry
	if e.Orig.SrcPort != 5020 || !e.Fields.Has(model.FieldReplyVtag) || e.ReplyVtag != initTag {
		t.Errorf("entry of sport %d: reply vtag %#x (fields %b), want sport 5020, reply vtag %#x", e.Orig.SrcPort, e.ReplyVtag, e.Fields, initTag)
	}
	w.stop()
}
