//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/communityid"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// siemSchema is where one schema puts what TestSIEMSchemas checks: the
// envelope (docs/schema.md and the issue 11 contract), the entries' keys,
// and how to tell its dump and entry records.
type siemSchema struct {
	name                           string
	seq, run, host, communityID    string
	natAddr, ipv6Addr, protocolNum string
	// protocolString says that the protocol number is a string (ECS's
	// network.iana_number).
	protocolString bool
	isDump         func(r map[string]any) bool
	isEntry        func(r map[string]any) bool
}

// siemSchemas are the rows of TestSIEMSchemas.
var siemSchemas = []siemSchema{{
	name: "native",
	seq:  "seq", run: "run", host: "host.name", communityID: "community_id",
	natAddr: "reply.src", ipv6Addr: "orig.src", protocolNum: "protonum",
	isDump:  func(r map[string]any) bool { return siemPath(r, "event") == "dump" },
	isEntry: func(r map[string]any) bool { return siemPath(r, "event") == "snapshot" },
}, {
	name: "ecs",
	seq:  "event.sequence", run: "conntrack.run", host: "host.name", communityID: "network.community_id",
	natAddr: "destination.nat.ip", ipv6Addr: "source.ip", protocolNum: "network.iana_number", protocolString: true,
	isDump:  func(r map[string]any) bool { return siemPath(r, "event.action") == "conntrack-dump" },
	isEntry: func(r map[string]any) bool { return siemPath(r, "event.action") == "conntrack-snapshot" },
}, {
	name: "ocsf",
	seq:  "metadata.sequence", run: "unmapped.conntrack.run", host: "device.hostname", communityID: "connection_info.community_uid",
	natAddr: "unmapped.conntrack.reply.src", ipv6Addr: "src_endpoint.ip", protocolNum: "connection_info.protocol_num",
	isDump:  func(r map[string]any) bool { return siemPath(r, "activity_name") == "Dump" },
	isEntry: func(r map[string]any) bool { return siemPath(r, "class_uid") == 4001.0 },
}}

// siemEntry is one entry TestSIEMSchemas creates, and what its record must
// say.
type siemEntry struct {
	name string
	// args are conntrack -I's.
	args  []string
	proto model.Proto
	orig  model.Tuple
	// nat is the reply's source (NAT), ipv6 the original source, when the
	// entry is the one checked for it.
	nat, ipv6 string
}

var siemEntries = []siemEntry{{
	name:  "NATed TCP",
	args:  []string{"-p", "tcp", "-s", "10.1.0.1", "-d", "10.1.0.2", "--sport", "40000", "--dport", "80", "--state", "ESTABLISHED", "-t", "120", "--dst-nat", "10.2.0.9:8080", "-u", "ASSURED"},
	proto: model.ProtoTCP,
	orig:  model.Tuple{Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.1.0.2"), SrcPort: 40000, DstPort: 80},
	nat:   "10.2.0.9",
}, {
	name:  "IPv6 UDP",
	args:  []string{"-p", "udp", "-s", "2001:db8::1", "-d", "2001:db8::2", "--sport", "5353", "--dport", "53", "-t", "60"},
	proto: model.ProtoUDP,
	orig:  model.Tuple{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), SrcPort: 5353, DstPort: 53},
	ipv6:  "2001:db8::1",
}, {
	name:  "ICMP echo",
	args:  []string{"-p", "icmp", "-s", "10.1.0.1", "-d", "10.1.0.3", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "77", "-t", "30"},
	proto: model.ProtoICMP,
	orig:  model.Tuple{Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.1.0.3"), ICMPType: 8, ICMPCode: 0, ICMPID: 77},
}, {
	name:  "SCTP",
	args:  []string{"-p", "sctp", "-s", "10.1.0.1", "-d", "10.1.0.4", "--sport", "3868", "--dport", "3868", "--state", "ESTABLISHED", "--orig-vtag", "1", "--reply-vtag", "2", "-t", "100"},
	proto: model.ProtoSCTP,
	orig:  model.Tuple{Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.1.0.4"), SrcPort: 3868, DstPort: 3868},
}}

// TestSIEMSchemas: in a namespace holding a NATed TCP entry, an IPv6 UDP
// entry, an ICMP entry and an SCTP entry, `watch --snapshot --schema S`
// writes, in every schema, records numbered 1..N without a hole, all of one
// run and host, and a snapshot record of each entry with its Community ID
// (as internal/communityid computes it from the original tuple), its
// protocol number, and the NAT and IPv6 addresses where the schema puts
// them.
func TestSIEMSchemas(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	for _, s := range siemSchemas {
		t.Run(s.name, func(t *testing.T) {
			ns := nstest.New(t)
			for _, e := range siemEntries {
				ns.Run(append([]string{"conntrack", "-I"}, e.args...)...)
			}
			const host = "siem-test-host"
			p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--snapshot", "--schema", s.name, "--host-name", host)
			dump, recs := p.waitRecord("the dump record", s.isDump)
			recs = append(recs, dump)
			rest, code, _ := p.stop()
			if code != 0 && code != 128+int(syscall.SIGINT) {
				t.Errorf("exit status %d", code)
			}
			for _, l := range rest {
				var r map[string]any
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("stdout line is not JSON: %v: %q", err, l)
				}
				recs = append(recs, r)
			}

			// The envelope of every record.
			run, _ := siemPath(recs[0], s.run).(string)
			if run == "" {
				t.Fatalf("first record has no run id at %s: %v", s.run, recs[0])
			}
			var got, want []string
			for i, r := range recs {
				got = append(got, fmt.Sprintf("seq %v run %v host %v", siemPath(r, s.seq), siemPath(r, s.run), siemPath(r, s.host)))
				want = append(want, fmt.Sprintf("seq %v run %v host %v", float64(i+1), run, host))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("envelopes (-want +got):\n%s", diff)
			}

			// The entries, found by their Community ID.
			byID := map[string]map[string]any{}
			for _, r := range recs {
				if s.isEntry(r) {
					id, _ := siemPath(r, s.communityID).(string)
					byID[id] = r
				}
			}
			if len(byID) != len(siemEntries) {
				t.Errorf("%d entry records with distinct Community IDs, want %d", len(byID), len(siemEntries))
			}
			for _, e := range siemEntries {
				id := communityid.String(communityid.FromTuple(e.proto, &e.orig), 0)
				r, ok := byID[id]
				if !ok {
					t.Errorf("%s: no entry record with Community ID %s at %s", e.name, id, s.communityID)
					continue
				}
				var wantProto any = float64(e.proto)
				if s.protocolString {
					wantProto = fmt.Sprint(uint8(e.proto))
				}
				if got := siemPath(r, s.protocolNum); got != wantProto {
					t.Errorf("%s: %s = %#v, want %#v", e.name, s.protocolNum, got, wantProto)
				}
				if e.nat != "" {
					if got := siemPath(r, s.natAddr); got != e.nat {
						t.Errorf("%s: %s = %#v, want the NAT address %s", e.name, s.natAddr, got, e.nat)
					}
				}
				if e.ipv6 != "" {
					if got := siemPath(r, s.ipv6Addr); got != e.ipv6 {
						t.Errorf("%s: %s = %#v, want %s", e.name, s.ipv6Addr, got, e.ipv6)
					}
				}
			}
		})
	}
}

// siemPath returns the value at a dotted path of a record, through nested
// objects, or through a key that holds the dots itself (some shippers and
// schemas write "event.sequence" flat); nil when there is none.
func siemPath(r map[string]any, path string) any {
	if v, ok := r[path]; ok {
		return v
	}
	for i := strings.IndexByte(path, '.'); i >= 0; i = nextDot(path, i) {
		if o, ok := r[path[:i]].(map[string]any); ok {
			if v := siemPath(o, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}

// nextDot returns the index of the dot after the one at i, or -1.
func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
