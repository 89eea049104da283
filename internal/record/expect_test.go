package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// ftpExpectLine is an expectation conntrack -E expect printed on Linux
// 6.18 for an FTP PASV reply on loopback.
const ftpExpectLine = "[1796656183.765978]\t    [NEW] 300 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=46739 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=127.0.0.1 master-dst=127.0.0.1 sport=36204 dport=21 class=0 helper=ftp"

// cmpAddr compares netip.Addr by value.
var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

// expectCase is one expectation record to write.
type expectCase struct {
	name  string
	write func(*record.Encoder)
}

// expectEvents returns the expectations of the record tests: the FTP one
// as the kernel sends it (with its id and flags, which the line lacks), its
// destroy, one with every key (IPv6, a UDP expectation of a TCP master,
// zone, flags, NAT, function, origin), and an ICMP one.
func expectEvents(t testing.TB) map[string]model.ExpectEvent {
	t.Helper()
	ftp, _, err := model.ParseExpectText(ftpExpectLine)
	if err != nil {
		t.Fatal(err)
	}
	ftp.Expect.ID, ftp.Expect.Fields = 2499318756, ftp.Expect.Fields|model.ExpectFieldID|model.ExpectFieldFlags
	destroy := ftp
	destroy.Type, destroy.Time, destroy.Expect.Timeout = model.EventDestroy, ftp.Time.Add(300*time.Millisecond), 299
	a, b := addr("2001:db8::1"), addr("2001:db8::2")
	every := model.ExpectEvent{Type: model.EventNew, Time: time.Date(2026, 12, 7, 15, 0, 0, 123456000, time.UTC),
		Origin: model.Origin{PortID: 77, PID: 4321, Program: "sipd"},
		Expect: model.Expect{Family: model.FamilyIPv6, Proto: model.ProtoUDP, MasterProto: model.ProtoTCP,
			Fields: model.ExpectFieldTimeout | model.ExpectFieldMask | model.ExpectFieldMaster | model.ExpectFieldID |
				model.ExpectFieldFlags | model.ExpectFieldClass | model.ExpectFieldZone | model.ExpectFieldHelper |
				model.ExpectFieldNAT | model.ExpectFieldFn,
			Tuple:   model.Tuple{Src: b, Dst: a, DstPort: 16384},
			Mask:    model.Tuple{Src: addr("::"), Dst: addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), DstPort: 0xffff},
			Master:  model.Tuple{Src: a, Dst: b, SrcPort: 5060, DstPort: 5060},
			Timeout: 180, ID: 7, Flags: model.ExpectPermanent | model.ExpectInactive, Class: 1, Zone: 9,
			Helper: "sip", Fn: "nat-follow-master",
			NATDir: 1, NAT: model.Tuple{Src: addr("2001:db8::9"), Dst: addr("::"), DstPort: 7000}}}
	icmp, _, err := model.ParseExpectText("[DESTROY] 2 proto=58 src=fe80::1 dst=ff02::1 type=129 code=0 id=7 mask-src=:: mask-dst=:: type=255 code=255 id=65535 master-src=fe80::1 master-dst=ff02::1 type=128 code=0 id=7 class=3")
	if err != nil {
		t.Fatal(err)
	}
	snapshot, _, err := model.ParseExpectText("299 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=50021 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=127.0.0.1 master-dst=127.0.0.1 sport=42456 dport=21 class=0 helper=ftp")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]model.ExpectEvent{"new": ftp, "destroy": destroy, "every_key": every, "icmpv6": icmp, "parse_snapshot": snapshot}
}

func expectCases(t testing.TB) []expectCase {
	evs := expectEvents(t)
	var cases []expectCase
	for _, name := range []string{"new", "destroy", "every_key", "icmpv6"} {
		ev := evs[name]
		cases = append(cases, expectCase{"expect_" + name, func(e *record.Encoder) { e.Expect(&ev) }})
	}
	snap := evs["parse_snapshot"]
	cases = append(cases, expectCase{"expect_parse_snapshot", func(e *record.Encoder) { e.ExpectEvent(&snap) }})
	// A watch's --snapshot of the expectation table: a record at info
	// level, stamped with the dump's receive time.
	watchSnap := snap
	watchSnap.Time = time.Date(2026, 12, 7, 16, 0, 0, 250000000, time.UTC)
	cases = append(cases, expectCase{"expect_snapshot", func(e *record.Encoder) { e.Expect(&watchSnap) }})
	return cases
}

func expectECSCases(t testing.TB) []ecsCase {
	var cases []ecsCase
	for _, c := range expectCases(t) {
		cases = append(cases, ecsCase{name: c.name, write: c.write})
	}
	return cases
}

func expectOCSFCases(t testing.TB) []ocsfCase {
	var cases []ocsfCase
	for _, c := range expectCases(t) {
		cases = append(cases, ocsfCase{name: strings.ReplaceAll(c.name, "_", " "), write: c.write})
	}
	return cases
}

// TestExpectNativeGolden pins the native expectation records in
// testdata/native-golden (rewritten with -update).
func TestExpectNativeGolden(t *testing.T) {
	for _, c := range expectCases(t) {
		t.Run(c.name, func(t *testing.T) {
			checkNativeGolden(t, c.name, c.write)
		})
	}
}

// TestExpectNativeKeys: the expected tuple, mask and master are objects
// shaped as an entry's orig, and the event names are expect_new and
// expect_destroy.
func TestExpectNativeKeys(t *testing.T) {
	evs := expectEvents(t)
	for name, want := range map[string]map[string]any{
		"new": {"event": "expect_new", "helper": "ftp", "class": 0.0, "flags": []any{}, "timeout": 300.0,
			"tuple":  map[string]any{"src": "127.0.0.1", "dst": "127.0.0.1", "sport": 0.0, "dport": 46739.0},
			"mask":   map[string]any{"src": "255.255.255.255", "dst": "255.255.255.255", "sport": 0.0, "dport": 65535.0},
			"master": map[string]any{"src": "127.0.0.1", "dst": "127.0.0.1", "sport": 36204.0, "dport": 21.0}},
		"every_key": {"event": "expect_new", "flags": []any{"PERMANENT", "INACTIVE"}, "zone": 9.0, "fn": "nat-follow-master",
			"master_proto": "tcp", "nat": map[string]any{"dir": "reply", "tuple": map[string]any{"src": "2001:db8::9", "dst": "::", "sport": 0.0, "dport": 7000.0}}},
		"destroy": {"event": "expect_destroy", "timeout": 299.0},
	} {
		ev := evs[name]
		var buf bytes.Buffer
		record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf)}).Expect(&ev)
		var got map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v: %s", name, err, buf.Bytes())
		}
		sub := map[string]any{}
		for k := range want {
			sub[k] = got[k]
		}
		if diff := cmp.Diff(want, sub); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// TestExpectText: the text form of an expectation record is conntrack's
// line and a newline.
func TestExpectText(t *testing.T) {
	ev := expectEvents(t)["new"]
	e := record.New(record.Config{Log: zerolog.Nop()})
	got := string(e.AppendExpectText(nil, &ev, &model.TextOptions{Timestamp: true}))
	if diff := cmp.Diff(ftpExpectLine+"\n", got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestExpectNetNS: a watch of several namespaces names an expectation's
// namespace as it names an entry's.
func TestExpectNetNS(t *testing.T) {
	ev := expectEvents(t)["new"]
	ev.NetNS = model.PeerNetNS(3)
	var buf bytes.Buffer
	e := record.New(record.Config{Log: zerolog.New(&buf), NetNS: func(n model.NetNS) (nsdiscover.NS, bool) {
		return nsdiscover.NS{Name: "blue"}, true
	}})
	e.Expect(&ev)
	if !bytes.Contains(buf.Bytes(), []byte(`"netns":{`)) || !bytes.Contains(buf.Bytes(), []byte(`"blue"`)) {
		t.Errorf("no netns in %s", buf.Bytes())
	}
}

// TestParseExpectJSONRoundTrip: every native expectation record reads back
// as the event it was written from; records of other kinds are not
// expectation records.
func TestParseExpectJSONRoundTrip(t *testing.T) {
	for name, ev := range expectEvents(t) {
		var buf bytes.Buffer
		record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf)}).Expect(&ev)
		got, err := record.ParseExpectJSON(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v: %s", name, err, buf.Bytes())
		}
		if diff := cmp.Diff(ev, got, cmpAddr); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if _, err := record.ParseExpectJSON([]byte(`{"event":"new","family":"ipv4"}`)); !errors.Is(err, record.ErrNotEntryRecord) {
		t.Errorf("an entry record: %v, want ErrNotEntryRecord", err)
	}
	for _, bad := range []string{
		`{"event":"expect_new","family":"ipv4","protonum":6}`,
		`{"event":"expect_new","family":"ipv4","protonum":6,"tuple":{"src":"1.1.1.1","dst":"::1","sport":0,"dport":1}}`,
		`{"event":"expect_new","family":"ipv4","protonum":6,"tuple":{"src":"1.1.1.1","dst":"1.1.1.1","sport":0,"dport":1},"flags":["BOGUS"]}`,
		`{"event":"expect_new","family":"ipv4","protonum":6,"tuple":{"src":"1.1.1.1","dst":"1.1.1.1","sport":0,"dport":1},"nat":{"dir":"up"}}`,
	} {
		var je *record.JSONError
		if _, err := record.ParseExpectJSON([]byte(bad)); !errors.As(err, &je) {
			t.Errorf("%s: %v, want a JSONError", bad, err)
		}
	}
}

// FuzzExpectRecord: any expectation a line gives writes one valid JSON
// record in every schema, and the native one reads back as the event.
func FuzzExpectRecord(f *testing.F) {
	f.Add(ftpExpectLine)
	f.Add("[DESTROY] 2 proto=58 src=fe80::1 dst=ff02::1 type=129 code=0 id=7 mask-src=:: mask-dst=:: type=255 code=255 id=65535 master-src=fe80::1 master-dst=ff02::1 type=128 code=0 id=7 zone=3 PERMANENT,USERSPACE class=3 helper=x\"y")
	f.Fuzz(func(t *testing.T, line string) {
		ev, _, err := model.ParseExpectText(line)
		if err != nil {
			return
		}
		for _, s := range []record.Schema{record.Native, record.ECS, record.OCSF} {
			var buf bytes.Buffer
			record.New(record.Config{Schema: s, Run: testRun, Host: testHost, Log: zerolog.New(&buf)}).ExpectEvent(&ev)
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("%s: %v: %s", s, err, buf.Bytes())
			}
			if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
				t.Fatalf("%s: not one record: %s", s, buf.Bytes())
			}
			if s != record.Native || !utf8.ValidString(ev.Expect.Helper) {
				// JSON writes an invalid byte as U+FFFD: such a name
				// does not read back.
				continue
			}
			back, err := record.ParseExpectJSON(buf.Bytes())
			if err != nil {
				t.Fatalf("the record does not read back: %v: %s", err, buf.Bytes())
			}
			if diff := cmp.Diff(ev, back, cmpAddr); diff != "" {
				t.Fatalf("read back (-written +read):\n%s", diff)
			}
		}
	})
}
