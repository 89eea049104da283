package filter

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	ctevents "github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestDumpFilter(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		spec Spec
		want ctevents.DumpFilter
	}{
		{"nothing", Spec{}, ctevents.DumpFilter{}},
		{"family", Spec{Family: "ipv6"}, ctevents.DumpFilter{Family: model.FamilyIPv6}},
		{"both families", Spec{Family: "ipv4,ipv6"}, ctevents.DumpFilter{}},
		{"protocol needs a family", Spec{Proto: "tcp"}, ctevents.DumpFilter{}},
		{"protocol and family", Spec{Family: "ipv4", Proto: "udp", DPort: "53"}, ctevents.DumpFilter{Family: model.FamilyIPv4,
			Orig: ctevents.DumpTuple{Proto: model.ProtoUDP, HasProto: true, DstPort: 53, HasDstPort: true}}},
		{"the family of the addresses", Spec{Src: "10.0.0.1", Dst: "10.0.0.0/8"}, ctevents.DumpFilter{Family: model.FamilyIPv4,
			Orig: ctevents.DumpTuple{Src: a("10.0.0.1")}}},
		{"addresses of both families", Spec{Src: "10.0.0.1,2001:db8::1"}, ctevents.DumpFilter{}},
		{"IPv6 address: its family only", Spec{Proto: "tcp", Dst: "2001:db8::2", SPort: "40000", DPort: "80-81"}, ctevents.DumpFilter{Family: model.FamilyIPv6,
			Orig: ctevents.DumpTuple{Proto: model.ProtoTCP, HasProto: true, SrcPort: 40000, HasSrcPort: true}}},
		{"ports of a protocol the kernel does not compare", Spec{Family: "ipv4", Proto: "sctp", DPort: "5001"}, ctevents.DumpFilter{Family: model.FamilyIPv4,
			Orig: ctevents.DumpTuple{Proto: model.ProtoSCTP, HasProto: true}}},
		{"either port", Spec{Family: "ipv4", Proto: "tcp", Port: "22"}, ctevents.DumpFilter{Family: model.FamilyIPv4,
			Orig: ctevents.DumpTuple{Proto: model.ProtoTCP, HasProto: true}}},
		{"two protocols", Spec{Family: "ipv4", Proto: "tcp,udp", DPort: "53"}, ctevents.DumpFilter{Family: model.FamilyIPv4}},
		{"mark", Spec{Mark: "0x10/0xf0"}, ctevents.DumpFilter{Mark: 0x10, MarkMask: 0xf0}},
		{"exact mark", Spec{Mark: "7"}, ctevents.DumpFilter{Mark: 7, MarkMask: ^uint32(0)}},
		{"two marks", Spec{Mark: "7,8"}, ctevents.DumpFilter{}},
		{"zone", Spec{Zone: "3"}, ctevents.DumpFilter{Zone: 3, HasZone: true}},
		{"zone 0 stays in userspace", Spec{Zone: "0"}, ctevents.DumpFilter{}},
		{"two zones", Spec{Zone: "3,4"}, ctevents.DumpFilter{}},
		{"one plain status", Spec{Status: "assured"}, ctevents.DumpFilter{Status: model.StatusAssured, StatusMask: model.StatusAssured}},
		{"unreplied", Spec{Status: "unreplied"}, ctevents.DumpFilter{StatusMask: model.StatusSeenReply}},
		{"negated statuses", Spec{Status: "!assured,!unreplied"}, ctevents.DumpFilter{Status: model.StatusSeenReply,
			StatusMask: model.StatusAssured | model.StatusSeenReply}},
		{"alternatives keep only the negated part", Spec{Status: "assured,offload,!dying"}, ctevents.DumpFilter{StatusMask: model.StatusDying}},
		{"a plain item with negated ones", Spec{Status: "unreplied,!dying"}, ctevents.DumpFilter{StatusMask: model.StatusSeenReply | model.StatusDying}},
		{"state stays in userspace", Spec{State: "ESTABLISHED"}, ctevents.DumpFilter{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := f.DumpFilter()
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	var nilFilter *Filter
	if !nilFilter.DumpFilter().IsZero() {
		t.Error("a nil filter gives a filter")
	}
}

// kernelMatch is ctnetlink_filter_match on an entry: what a dump with d
// lists.
func kernelMatch(d ctevents.DumpFilter, e *model.Entry) bool {
	if d.Family != 0 && e.Family != d.Family {
		return false
	}
	if d.HasZone {
		// The kernel has one zone id, for both directions or one.
		var id uint16
		switch {
		case e.Fields.Has(model.FieldZone):
			id = e.Zone
		case e.Fields.Has(model.FieldOrigZone):
			id = e.Orig.Zone
		case e.Fields.Has(model.FieldReplyZone):
			id = e.Reply.Zone
		}
		if id != d.Zone {
			return false
		}
	}
	if d.Family != 0 {
		for _, c := range []struct {
			f ctevents.DumpTuple
			t *model.Tuple
		}{{d.Orig, &e.Orig}, {d.Reply, &e.Reply}} {
			if c.f.Src.IsValid() && c.f.Src != addr(e, c.t.Src) || c.f.Dst.IsValid() && c.f.Dst != addr(e, c.t.Dst) {
				return false
			}
			if c.f.HasProto && c.f.Proto != e.Proto {
				return false
			}
			if e.Proto == model.ProtoTCP || e.Proto == model.ProtoUDP {
				if c.f.HasSrcPort && c.f.SrcPort != c.t.SrcPort || c.f.HasDstPort && c.f.DstPort != c.t.DstPort {
					return false
				}
			}
		}
	}
	var mark uint32
	if e.Fields.Has(model.FieldMark) {
		mark = e.Mark
	}
	if mark&d.MarkMask != d.Mark&d.MarkMask {
		return false
	}
	return e.Status&d.StatusMask == d.Status&d.StatusMask
}

// TestDumpFilterNeverLosesAMatch: over random filters and entries, every
// entry Match selects is one the kernel lists with DumpFilter; and where
// the filter is all kernel-expressible (no prefix, range, alternative,
// state, zone 0), the kernel lists exactly those.
func TestDumpFilterNeverLosesAMatch(t *testing.T) {
	pools := struct{ family, proto, src, dst, port, sport, dport, state, status, zone, mark []string }{
		family: []string{"", "", "ipv4", "ipv6", "ipv4,ipv6"},
		proto:  []string{"", "", "tcp", "udp", "sctp", "icmp", "tcp,udp"},
		src:    []string{"", "", "10.0.0.5", "10.0.0.0/8", "2001:db8::1", "10.0.0.5,2001:db8::1", "::ffff:10.0.0.1"},
		dst:    []string{"", "", "10.0.0.53", "10.0.0.0/24", "2001:db8::2"},
		port:   []string{"", "", "", "53"},
		sport:  []string{"", "", "40000", "1000-2000"},
		dport:  []string{"", "", "53", "443", "22,80"},
		state:  []string{"", "", "", "ESTABLISHED"},
		status: []string{"", "", "assured", "!assured", "unreplied", "assured,unreplied", "!assured,!offload", "replied,!offload", "replied,unreplied"},
		zone:   []string{"", "", "0", "3", "7", "3,7"},
		mark:   []string{"", "", "16", "0x10/0xf0", "0", "16,255"},
	}
	exactPools := map[string]bool{"": true, "ipv4": true, "ipv6": true, "tcp": true, "udp": true, "10.0.0.5": true,
		"10.0.0.53": true, "40000": true, "53": true, "443": true, "assured": true, "!assured": true, "unreplied": true,
		"!assured,!offload": true, "replied,!offload": true, "3": true, "7": true, "16": true, "0x10/0xf0": true, "0": true}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(p []string) string { return p[rng.IntN(len(p))] }
	entries := events(t)
	for range 3000 {
		entries = append(entries, randomEntry(rng))
	}
	checked, exactChecked := 0, 0
	// Every other filter is drawn from items the kernel expresses only.
	keep := func(p []string) []string {
		var out []string
		for _, v := range p {
			if exactPools[v] && v != "0" {
				out = append(out, v)
			}
		}
		return out
	}
	for i := range 6000 {
		s := Spec{Family: pick(pools.family), Proto: pick(pools.proto), Src: pick(pools.src), Dst: pick(pools.dst), Port: pick(pools.port),
			SPort: pick(pools.sport), DPort: pick(pools.dport), State: pick(pools.state), Status: pick(pools.status), Zone: pick(pools.zone), Mark: pick(pools.mark)}
		if i%2 == 0 {
			s = Spec{Family: pick(keep(pools.family)), Proto: pick(keep(pools.proto)), Src: pick(keep(pools.src)), Dst: pick(keep(pools.dst)),
				SPort: pick(keep(pools.sport)), DPort: pick(keep(pools.dport)), Status: pick(keep(pools.status)), Zone: pick(keep(pools.zone)), Mark: pick(keep(pools.mark))}
		}
		f, err := New(s)
		if err != nil {
			continue // assured,!assured and the like
		}
		d := f.DumpFilter()
		if err := d.Validate(); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		// Exact: every flag one expressible item, the protocol fixed when
		// ports are, a family when a tuple value is, zone not 0.
		exact := s.Port == "" && s.State == "" && s.Zone != "0" && (s.SPort == "" && s.DPort == "" || s.Proto == "tcp" || s.Proto == "udp") &&
			(s.Proto == "" && s.Src == "" && s.Dst == "" || d.Family != 0) && (s.Src == "" || d.Orig.Src.IsValid()) && (s.Dst == "" || d.Orig.Dst.IsValid())
		for _, v := range []string{s.Family, s.Proto, s.Src, s.Dst, s.SPort, s.DPort, s.Status, s.Zone, s.Mark} {
			exact = exact && exactPools[v]
		}
		for i := range entries {
			ev := &entries[i]
			m, k := f.Match(ev), kernelMatch(d, &ev.Entry)
			if m && !k {
				t.Fatalf("%s: the kernel would not list an entry Match selects: %+v\nwith %+v", f, ev.Entry, d)
			}
			if exact && k && !m {
				t.Fatalf("%s: exact, yet the kernel lists an entry Match refuses: %+v\nwith %+v", f, ev.Entry, d)
			}
		}
		checked++
		if exact && !d.IsZero() {
			exactChecked++
		}
	}
	if checked < 3000 || exactChecked < 500 {
		t.Errorf("only %d filters checked, %d exact ones: the pools need work", checked, exactChecked)
	}
}

// randomEntry is an entry of values the filters of
// TestDumpFilterNeverLosesAMatch name, or near them.
func randomEntry(rng *rand.Rand) model.Event {
	a := netip.MustParseAddr
	v4 := []netip.Addr{a("10.0.0.5"), a("10.0.0.53"), a("10.0.1.1"), a("192.168.1.1")}
	v6 := []netip.Addr{a("2001:db8::1"), a("2001:db8::2"), a("::ffff:10.0.0.1"), a("fe80::1")}
	protos := []model.Proto{model.ProtoTCP, model.ProtoUDP, model.ProtoSCTP, model.ProtoICMP, model.ProtoGRE}
	ports := []uint16{53, 443, 22, 40000, 1500, 80}
	var e model.Entry
	addrs := v4
	e.Family = model.FamilyIPv4
	if rng.IntN(2) == 0 {
		addrs, e.Family = v6, model.FamilyIPv6
	}
	e.Proto = protos[rng.IntN(len(protos))]
	e.Orig = model.Tuple{Src: addrs[rng.IntN(len(addrs))], Dst: addrs[rng.IntN(len(addrs))]}
	if e.Proto.HasPorts() {
		e.Orig.SrcPort, e.Orig.DstPort = ports[rng.IntN(len(ports))], ports[rng.IntN(len(ports))]
	}
	e.Reply = model.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, SrcPort: e.Orig.DstPort, DstPort: e.Orig.SrcPort}
	e.Status = model.Status(rng.Uint32() & 0xffff)
	zones := []uint16{0, 3, 7, 9}
	switch rng.IntN(4) {
	case 1:
		e.Zone, e.Fields = zones[rng.IntN(len(zones))], e.Fields|model.FieldZone
	case 2:
		e.Orig.Zone, e.Fields = zones[rng.IntN(len(zones))], e.Fields|model.FieldOrigZone
	case 3:
		e.Reply.Zone, e.Fields = zones[rng.IntN(len(zones))], e.Fields|model.FieldReplyZone
	}
	if rng.IntN(3) > 0 {
		marks := []uint32{0, 16, 0x1f, 255, 0x110}
		e.Mark, e.Fields = marks[rng.IntN(len(marks))], e.Fields|model.FieldMark
	}
	if e.Proto == model.ProtoTCP || e.Proto == model.ProtoSCTP {
		e.State, e.Fields = model.State(rng.IntN(10)), e.Fields|model.FieldState
	}
	return model.Event{Type: model.EventSnapshot, Entry: e}
}
