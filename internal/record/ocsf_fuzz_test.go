package record_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

var (
	ocsfTypesOnce sync.Once
	ocsfTypes     map[string]string // path → JSON type, of the golden cases
	ocsfWhere     map[string]string
)

// FuzzOCSFEntry writes random entries as every OCSF entry record (live
// event with a lifecycle, parse, inferred end, unreplied warning) and
// checks each is one valid JSON object that the OCSF reference accepts,
// whose paths have the types the golden cases give them (D25). Times are
// kept within 2020-2040 and durations within a year: the fixture check
// wants timestamp_t in milliseconds, which it tells from seconds and
// nanoseconds by their size.
func FuzzOCSFEntry(f *testing.F) {
	f.Add(uint8(3), false, uint8(6), []byte{10, 0, 0, 1, 10, 0, 0, 2}, uint16(40000), uint16(443), uint32(0xffffffff), uint32(0x1e),
		uint64(10), uint64(1000), uint64(8), uint64(9000), int32(4242), "conntrack", "node1", "web", uint8(4), uint8(0), int64(93e9), int64(0))
	f.Add(uint8(1), true, uint8(58), []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), uint16(0x8000), uint16(7), uint32(0), uint32(0),
		uint64(1<<63), uint64(1<<63), uint64(1<<63), uint64(1<<63), int32(-1), "\xff\"\\", "h\x00\xc3", "a\tb", uint8(9), uint8(7), int64(-5), int64(1<<62))
	f.Add(uint8(0), false, uint8(253), []byte{}, uint16(0), uint16(0), uint32(1<<20), uint32(1<<31), uint64(0), uint64(0), uint64(0), uint64(0),
		int32(0), "", "", "", uint8(0), uint8(2), int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, typ uint8, v6 bool, proto uint8, addrs []byte, sport, dport uint16, fields, status uint32,
		opk, oby, rpk, rby uint64, pid int32, program, host, label string, outcome, seen uint8, dur, at int64) {
		ref := loadOCSFRef(t)
		ocsfTypesOnce.Do(func() {
			ocsfTypes, ocsfWhere = map[string]string{}, map[string]string{}
			for _, c := range ocsfCases(t) {
				rec, err := decodeJSON(writeOCSF(t, c))
				if err != nil {
					t.Fatal(err)
				}
				jsonTypes(ocsfTypes, ocsfWhere, "", rec, c.name)
			}
		})
		base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		when := base.Add(time.Duration(uint64(at) % uint64(20*365*24*time.Hour)))
		d := time.Duration(uint64(dur) % uint64(365*24*time.Hour))
		en := model.Entry{Family: model.FamilyIPv4, Proto: model.Proto(proto), Fields: model.Field(fields), Status: model.Status(status),
			State: model.State(sport % 16), Timeout: uint32(dport), Mark: uint32(sport), Secmark: uint32(dport), Secctx: label,
			Zone: sport, Use: 1, ID: status, Helper: program, Labels: []string{label, host}, DeltaTime: uint64(dport),
			Start: when.Add(-d), Stop: when, GRETimeout: 1, GREStreamTimeout: 2}
		n := 4
		if v6 {
			en.Family, n = model.FamilyIPv6, 16
		}
		addr := func(i int) netip.Addr {
			var b [16]byte
			copy(b[:n], addrs[min(len(addrs), i*n):])
			if n == 4 {
				return netip.AddrFrom4([4]byte(b[:4]))
			}
			return netip.AddrFrom16(b)
		}
		en.Orig = model.Tuple{Src: addr(0), Dst: addr(1), SrcPort: sport, DstPort: dport, ICMPType: uint8(sport), ICMPCode: uint8(dport),
			ICMPID: sport, Packets: opk, Bytes: oby, Zone: dport}
		en.Reply = model.Tuple{Src: addr(2), Dst: addr(3), SrcPort: dport, DstPort: sport, Packets: rpk, Bytes: rby}
		ev := model.Event{Type: model.EventType(typ % 5), Time: when, Entry: en,
			Origin: model.Origin{PortID: uint32(pid), PID: pid, Program: program}}
		if typ&0x80 != 0 {
			ev.Time = time.Time{} // a /proc line: no time
		}
		res := flow.Result{HasTransition: typ&0x40 != 0,
			Transition: flow.Transition{Proto: en.Proto, From: model.State(dport % 16), To: en.State, HasStates: typ&0x20 != 0,
				Gained: model.Status(status), Lost: model.Status(fields), Changed: flow.Attr(outcome), After: d, AfterKnown: typ&0x10 != 0},
			Flow: flow.Lifecycle{Proto: en.Proto, Duration: d, DurationKnown: seen&0x10 != 0, ReplyAfter: d / 2, HasReply: seen&0x20 != 0,
				AssuredAfter: d / 3, HasAssured: seen&0x40 != 0, Outcome: flow.Outcome(outcome % 8), SeenFrom: flow.SeenFrom(seen % 4),
				LowerBound: seen&0x80 != 0, HasCounters: fields&1 != 0, OrigPackets: opk, OrigBytes: oby, ReplyPackets: rpk, ReplyBytes: rby}}
		inferred := flow.Inferred{Entry: en, Time: when, Flow: res.Flow}
		inferred.Flow.Inferred = true
		unreplied := flow.Unreplied{Entry: en, Time: when, FirstSeen: when.Add(-d), Age: d, Repeats: int(sport) - 100,
			RepeatsSince: when.Add(-d), SeenFrom: flow.SeenFrom(seen % 4), LowerBound: seen&1 != 0}

		var buf bytes.Buffer
		e := record.New(record.Config{Schema: record.OCSF, Log: zerolog.New(&buf),
			Clock: func() time.Time { return when }, Run: label, Host: host, Version: program})
		e.Entry(&ev, &res)
		e.Entry(&ev, nil)
		e.Event(&ev)
		e.Inferred(&inferred)
		e.Unreplied(&unreplied)
		lines := linesOf(buf.Bytes())
		if len(lines) != 5 {
			t.Fatalf("%d records, want 5:\n%s", len(lines), buf.Bytes())
		}
		for _, l := range lines {
			if !json.Valid(l) {
				t.Fatalf("invalid JSON: %s", l)
			}
			rec, err := decodeJSON(l)
			if err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			if errs := ref.check(rec); len(errs) > 0 {
				t.Errorf("%s\n%s", strings.Join(errs, "\n"), l)
			}
			types, where := maps.Clone(ocsfTypes), maps.Clone(ocsfWhere)
			if clash := jsonTypes(types, where, "", rec, "fuzz"); len(clash) > 0 {
				t.Errorf("%s\n%s", strings.Join(clash, "\n"), l)
			}
		}
	})
}
