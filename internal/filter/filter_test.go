package filter

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// corpus are real-looking entries, by name, as conntrack prints them.
var corpus = []struct{ name, line string }{
	{"tcp-syn", "tcp      6 117 SYN_SENT src=192.168.1.6 dst=192.168.1.9 sport=32775 dport=22 [UNREPLIED] src=192.168.1.9 dst=192.168.1.6 sport=22 dport=32775 use=2"},
	{"tcp-est", "tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=93.184.216.34 sport=51000 dport=443 src=93.184.216.34 dst=203.0.113.7 sport=443 dport=51000 [ASSURED] mark=16 zone=3 use=1"},
	{"tcp-zone-orig", "[NEW] tcp      6 120 SYN_RECV src=172.16.0.1 dst=172.16.0.2 sport=1234 dport=8080 zone-orig=7 src=172.16.0.2 dst=172.16.0.1 sport=8080 dport=1234 mark=4097"},
	{"tcp6", "ipv6     10 tcp      6 86399 ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=50000 dport=80 src=2001:db8::2 dst=2001:db8::1 sport=80 dport=50000 [ASSURED] [OFFLOAD] mark=255 use=2"},
	{"udp-dns", "udp      17 29 src=10.0.0.5 dst=10.0.0.53 sport=40000 dport=53 src=10.0.0.53 dst=10.0.0.5 sport=53 dport=40000 mark=0 use=1"},
	{"udp-mapped", "ipv6     10 udp      17 30 src=::ffff:10.0.0.1 dst=::ffff:10.0.0.2 sport=1000 dport=2000 [UNREPLIED] src=::ffff:10.0.0.2 dst=::ffff:10.0.0.1 sport=2000 dport=1000 use=1"},
	{"icmp", "icmp     1 29 src=192.168.1.6 dst=8.8.8.8 type=8 code=0 id=1234 [UNREPLIED] src=8.8.8.8 dst=192.168.1.6 type=0 code=0 id=1234 mark=0 use=1"},
	{"icmpv6", "ipv6     10 icmpv6   58 29 src=2001:db8::1 dst=2001:db8::ff type=128 code=0 id=7 src=2001:db8::ff dst=2001:db8::1 type=129 code=0 id=7 use=1"},
	{"sctp", "sctp     132 3 ESTABLISHED src=10.1.0.1 dst=10.1.0.2 sport=5000 dport=5001 src=10.1.0.2 dst=10.1.0.1 sport=5001 dport=5000 [ASSURED] zone=3 use=1"},
	{"dccp", "dccp     33 240 REQUEST src=10.1.0.1 dst=10.1.0.2 sport=6000 dport=22 [UNREPLIED] src=10.1.0.2 dst=10.1.0.1 sport=22 dport=6000 use=1"},
	{"gre", "gre      47 179 src=10.2.0.1 dst=10.2.0.2 srckey=0x0 dstkey=0x50 src=10.2.0.2 dst=10.2.0.1 srckey=0x50 dstkey=0x0 use=1"},
	{"igmp", "unknown  2 599 src=192.168.1.6 dst=224.0.0.22 src=224.0.0.22 dst=192.168.1.6 [ASSURED] use=2"},
}

// events parses the corpus once.
func events(t testing.TB) []model.Event {
	t.Helper()
	evs := make([]model.Event, len(corpus))
	for i, c := range corpus {
		evs[i] = parseCorpusLine(t, c.name, c.line)
	}
	return evs
}

// parseCorpusLine parses the line of a test corpus's entry name.
func parseCorpusLine(t testing.TB, name, line string) model.Event {
	t.Helper()
	ev, _, err := model.ParseText(line, nil)
	if err != nil {
		t.Fatalf("corpus %s: %v", name, err)
	}
	return ev
}

// corpusName names the entries of events.
func corpusName(i int) string { return corpus[i].name }

// matching returns the names of the entries of evs that f matches, by
// name, their corpus's (corpusName, ctName, vtagName).
func matching(f *Filter, evs []model.Event, name func(i int) string) []string {
	var names []string
	for i := range evs {
		if f.Match(&evs[i]) {
			names = append(names, name(i))
		}
	}
	return names
}

// checkMatchAllocs fails t when f's Match allocates on the events of evs.
func checkMatchAllocs(t *testing.T, f *Filter, evs []model.Event) {
	t.Helper()
	allocs := testing.AllocsPerRun(100, func() {
		for i := range evs {
			f.Match(&evs[i])
		}
	})
	if allocs != 0 {
		t.Errorf("%s: Match allocates %v times per corpus, want 0", f, allocs)
	}
}

func allNames() []string {
	var names []string
	for _, c := range corpus {
		names = append(names, c.name)
	}
	return names
}

func TestMatch(t *testing.T) {
	evs := events(t)
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"empty", Spec{}, allNames()},
		{"blank", Spec{Proto: "  "}, allNames()},

		{"family ipv4", Spec{Family: "ipv4"}, []string{"tcp-syn", "tcp-est", "tcp-zone-orig", "udp-dns", "icmp", "sctp", "dccp", "gre", "igmp"}},
		{"family ipv6", Spec{Family: "IPv6"}, []string{"tcp6", "udp-mapped", "icmpv6"}},
		{"family both", Spec{Family: "inet,inet6"}, allNames()},
		{"family number", Spec{Family: "10"}, []string{"tcp6", "udp-mapped", "icmpv6"}},

		{"proto tcp", Spec{Proto: "tcp"}, []string{"tcp-syn", "tcp-est", "tcp-zone-orig", "tcp6"}},
		{"proto names ORed", Spec{Proto: "UDP, icmp"}, []string{"udp-dns", "udp-mapped", "icmp"}},
		{"proto icmpv6 alias", Spec{Proto: "ipv6-icmp"}, []string{"icmpv6"}},
		{"proto number", Spec{Proto: "2,47"}, []string{"gre", "igmp"}},
		{"proto sctp dccp", Spec{Proto: "sctp,dccp"}, []string{"sctp", "dccp"}},
		{"proto absent", Spec{Proto: "udplite"}, nil},

		{"src host", Spec{Src: "192.168.1.6"}, []string{"tcp-syn", "icmp", "igmp"}},
		{"src prefix", Spec{Src: "10.0.0.0/8"}, []string{"tcp-est", "udp-dns", "sctp", "dccp", "gre"}},
		{"src prefix host bits masked", Spec{Src: "10.1.2.3/16"}, []string{"sctp", "dccp"}},
		{"src v4 prefix never matches v6", Spec{Src: "0.0.0.0/0"}, []string{"tcp-syn", "tcp-est", "tcp-zone-orig", "udp-dns", "icmp", "sctp", "dccp", "gre", "igmp"}},
		{"src v6 prefix", Spec{Src: "2001:db8::/32"}, []string{"tcp6", "icmpv6"}},
		{"src mapped not special", Spec{Src: "10.0.0.1"}, nil},
		{"src mapped as v6", Spec{Src: "::ffff:10.0.0.0/104"}, []string{"udp-mapped"}},
		{"src ORed", Spec{Src: "172.16.0.0/12, 2001:db8::1"}, []string{"tcp-zone-orig", "tcp6", "icmpv6"}},
		{"dst is original dst", Spec{Dst: "93.184.216.34"}, []string{"tcp-est"}},
		{"dst not reply dst", Spec{Dst: "203.0.113.7"}, nil},
		{"dst prefix", Spec{Dst: "224.0.0.0/4"}, []string{"igmp"}},
		{"src and dst ANDed", Spec{Src: "10.0.0.5", Dst: "10.0.0.53"}, []string{"udp-dns"}},

		{"port either side", Spec{Port: "22"}, []string{"tcp-syn", "dccp"}},
		{"port source side", Spec{Port: "40000"}, []string{"udp-dns"}},
		{"port range", Spec{Port: "5000-5001"}, []string{"sctp"}},
		{"port not gre keys", Spec{Port: "80"}, []string{"tcp6"}},
		{"port never icmp", Spec{Port: "0-65535"}, []string{"tcp-syn", "tcp-est", "tcp-zone-orig", "tcp6", "udp-dns", "udp-mapped", "sctp", "dccp"}},
		{"sport", Spec{SPort: "32775,51000"}, []string{"tcp-syn", "tcp-est"}},
		{"sport not dport", Spec{SPort: "22"}, nil},
		{"dport", Spec{DPort: "22"}, []string{"tcp-syn", "dccp"}},
		{"dport ranges", Spec{DPort: "1-79,443"}, []string{"tcp-syn", "tcp-est", "udp-dns", "dccp"}},
		{"dport range end", Spec{DPort: "2000-8080"}, []string{"tcp-zone-orig", "udp-mapped", "sctp"}},
		{"sport and dport ANDed", Spec{SPort: "6000", DPort: "22"}, []string{"dccp"}},
		{"port and proto", Spec{Proto: "tcp", Port: "22"}, []string{"tcp-syn"}},

		{"state", Spec{State: "SYN_SENT"}, []string{"tcp-syn"}},
		{"state case-insensitive", Spec{State: "syn_recv"}, []string{"tcp-zone-orig"}},
		{"state shared name", Spec{State: "established"}, []string{"tcp-est", "tcp6", "sctp"}},
		{"state shared name narrowed", Spec{State: "ESTABLISHED", Proto: "sctp"}, []string{"sctp"}},
		{"state ORed", Spec{State: "SYN_SENT,request"}, []string{"tcp-syn", "dccp"}},
		{"state number", Spec{State: "1"}, []string{"tcp-syn", "dccp"}},
		{"state never stateless", Spec{State: "NONE"}, nil},

		{"status unreplied", Spec{Status: "unreplied"}, []string{"tcp-syn", "udp-mapped", "icmp", "dccp"}},
		{"status replied", Spec{Status: "replied"}, []string{"tcp-est", "tcp-zone-orig", "tcp6", "udp-dns", "icmpv6", "sctp", "gre", "igmp"}},
		{"status seen_reply is replied", Spec{Status: "SEEN_REPLY"}, []string{"tcp-est", "tcp-zone-orig", "tcp6", "udp-dns", "icmpv6", "sctp", "gre", "igmp"}},
		{"status assured", Spec{Status: "Assured"}, []string{"tcp-est", "tcp6", "sctp", "igmp"}},
		{"status offload", Spec{Status: "offload"}, []string{"tcp6"}},
		{"status hw_offload", Spec{Status: "hw_offload"}, nil},
		{"status ORed", Spec{Status: "unreplied,offload"}, []string{"tcp-syn", "tcp6", "udp-mapped", "icmp", "dccp"}},
		{"status negated alone", Spec{Status: "!assured"}, []string{"tcp-syn", "tcp-zone-orig", "udp-dns", "udp-mapped", "icmp", "icmpv6", "dccp", "gre"}},
		{"status negated ANDed", Spec{Status: "!assured,!unreplied"}, []string{"tcp-zone-orig", "udp-dns", "icmpv6", "gre"}},
		{"status plain and negated", Spec{Status: "replied,!assured"}, []string{"tcp-zone-orig", "udp-dns", "icmpv6", "gre"}},
		{"status plain ORed negated ANDed", Spec{Status: "unreplied,assured,!offload"}, []string{"tcp-syn", "tcp-est", "udp-mapped", "icmp", "sctp", "dccp", "igmp"}},
		{"status text carries no confirmed", Spec{Status: "confirmed"}, nil},
		{"status not confirmed", Spec{Status: "!confirmed"}, allNames()},
		{"status space after bang", Spec{Status: "! assured"}, []string{"tcp-syn", "tcp-zone-orig", "udp-dns", "udp-mapped", "icmp", "icmpv6", "dccp", "gre"}},

		{"zone", Spec{Zone: "3"}, []string{"tcp-est", "sctp"}},
		{"zone 0 is no zone", Spec{Zone: "0"}, []string{"tcp-syn", "tcp-zone-orig", "tcp6", "udp-dns", "udp-mapped", "icmp", "icmpv6", "dccp", "gre", "igmp"}},
		{"zone one direction", Spec{Zone: "7"}, []string{"tcp-zone-orig"}},
		{"zone ORed", Spec{Zone: "7,3"}, []string{"tcp-est", "tcp-zone-orig", "sctp"}},

		{"mark decimal", Spec{Mark: "16"}, []string{"tcp-est"}},
		{"mark hex", Spec{Mark: "0xFF"}, []string{"tcp6"}},
		{"mark 0 is no mark", Spec{Mark: "0"}, []string{"tcp-syn", "udp-dns", "udp-mapped", "icmp", "icmpv6", "sctp", "dccp", "gre", "igmp"}},
		{"mark mask", Spec{Mark: "0x10/0x10"}, []string{"tcp-est", "tcp6"}},
		{"mark mask low bits", Spec{Mark: "1/0xff"}, []string{"tcp-zone-orig"}},
		{"mark ORed", Spec{Mark: "16,255"}, []string{"tcp-est", "tcp6"}},

		{"flags ANDed", Spec{Family: "ipv4", Proto: "tcp,sctp", DPort: "443,5001", Status: "assured", Zone: "3", Mark: "0x10"}, []string{"tcp-est"}},
		{"flags ANDed to nothing", Spec{Proto: "udp", State: "ESTABLISHED"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.spec)
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.spec, err)
			}
			if diff := cmp.Diff(tt.want, matching(f, evs, corpusName)); diff != "" {
				t.Errorf("%s matches (-want +got):\n%s", f, diff)
			}
		})
	}
}

func TestMatchIPv4In16Bytes(t *testing.T) {
	ev := events(t)[0] // tcp-syn, from 192.168.1.6
	ev.Entry.Orig.Src = netip.AddrFrom16(ev.Entry.Orig.Src.As16())
	for _, spec := range []Spec{{Src: "192.168.1.6"}, {Src: "192.168.0.0/16"}} {
		f, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Match(&ev) {
			t.Errorf("%s does not match an IPv4 entry whose source %s is kept in 16 bytes", f, ev.Entry.Orig.Src)
		}
	}
}

func TestNilFilter(t *testing.T) {
	evs := events(t)
	var f *Filter
	if !f.Empty() {
		t.Error("nil filter is not Empty")
	}
	if diff := cmp.Diff(allNames(), matching(f, evs, corpusName)); diff != "" {
		t.Errorf("nil filter matches (-want +got):\n%s", diff)
	}
	if got := f.String(); got != "any" {
		t.Errorf("nil filter String() = %q, want %q", got, "any")
	}
}

func TestEmpty(t *testing.T) {
	tests := []struct {
		spec Spec
		want bool
	}{
		{Spec{}, true},
		{Spec{Proto: " "}, true},
		{Spec{Family: "ipv4"}, false},
		{Spec{Proto: "tcp"}, false},
		{Spec{Src: "::/0"}, false},
		{Spec{Dst: "10.0.0.1"}, false},
		{Spec{Port: "1"}, false},
		{Spec{SPort: "1"}, false},
		{Spec{DPort: "1"}, false},
		{Spec{State: "NONE"}, false},
		{Spec{Status: "!assured"}, false},
		{Spec{Zone: "0"}, false},
		{Spec{Mark: "0/0"}, false},
	}
	for _, tt := range tests {
		f, err := New(tt.spec)
		if err != nil {
			t.Fatalf("New(%+v): %v", tt.spec, err)
		}
		if got := f.Empty(); got != tt.want {
			t.Errorf("New(%+v).Empty() = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{}, "any"},
		{Spec{Family: "inet6, IPv4,ipv4"}, "--family=ipv4,ipv6"},
		{Spec{Proto: "UDP,tcp,6,ipv6-icmp,200"}, "--proto=tcp,udp,icmpv6,200"},
		{Spec{Src: "10.9.8.7/8,10.0.0.0/8,192.168.1.1,2001:db8::1/128,::/0"}, "--src=10.0.0.0/8,192.168.1.1,::/0,2001:db8::1"},
		{Spec{Dst: "192.168.1.1/32"}, "--dst=192.168.1.1"},
		{Spec{Port: "443,80,81-90,85-100,102,101", SPort: "0010", DPort: "7-7"}, "--port=80-102,443 --sport=10 --dport=7"},
		{Spec{State: "established,Syn_Sent,03,ESTABLISHED"}, "--state=3,ESTABLISHED,SYN_SENT"},
		{Spec{Status: "!offload,ASSURED,unreplied,!unreplied"}, "--status=unreplied,assured,!unreplied,!offload"},
		{Spec{Status: "!replied,seen_reply,dst_nat"}, "--status=replied,dst_nat,!replied"},
		{Spec{Zone: "3,0,3"}, "--zone=0,3"},
		{Spec{Mark: "255,0x10/0x10,16,0/0"}, "--mark=0x0/0x0,0x10/0x10,0x10,0xff"},
		{
			Spec{Family: "ipv4", Proto: "tcp", Src: "10.0.0.0/8", Dst: "10.0.0.1", Port: "1", SPort: "2", DPort: "3", State: "close", Status: "assured", Zone: "1", Mark: "1"},
			"--family=ipv4 --proto=tcp --src=10.0.0.0/8 --dst=10.0.0.1 --port=1 --sport=2 --dport=3 --state=CLOSE --status=assured --zone=1 --mark=0x1",
		},
	}
	for _, tt := range tests {
		f, err := New(tt.spec)
		if err != nil {
			t.Fatalf("New(%+v): %v", tt.spec, err)
		}
		if diff := cmp.Diff(tt.want, f.String()); diff != "" {
			t.Errorf("New(%+v).String() (-want +got):\n%s", tt.spec, diff)
		}
	}
}

// flagErrors returns every *FlagError joined in err, with each Msg cleared
// so that tests do not depend on wording.
func flagErrors(t *testing.T, err error) []FlagError {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []FlagError
	for _, e := range errs {
		var fe *FlagError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v is not a *FlagError", e)
		}
		if !strings.Contains(fe.Error(), fe.Flag+": ") {
			t.Errorf("message %q does not name the flag %s", fe.Error(), fe.Flag)
		}
		out = append(out, FlagError{Flag: fe.Flag, Item: fe.Item})
	}
	return out
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []FlagError
	}{
		{"family", Spec{Family: "ipv5,ipv4,7"}, []FlagError{{Flag: "--family", Item: "ipv5"}, {Flag: "--family", Item: "7"}}},
		{"proto", Spec{Proto: "tcp,unknown,256,-1"}, []FlagError{{Flag: "--proto", Item: "unknown"}, {Flag: "--proto", Item: "256"}, {Flag: "--proto", Item: "-1"}}},
		{"empty item", Spec{Proto: "tcp,,udp"}, []FlagError{{Flag: "--proto", Item: "tcp,,udp"}}},
		{"trailing comma", Spec{Zone: "1,"}, []FlagError{{Flag: "--zone", Item: "1,"}}},
		{"src", Spec{Src: "10.0.0.300,10.0.0.0/33,fe80::1%eth0,host,10.0.0.1"}, []FlagError{{Flag: "--src", Item: "10.0.0.300"}, {Flag: "--src", Item: "10.0.0.0/33"}, {Flag: "--src", Item: "fe80::1%eth0"}, {Flag: "--src", Item: "host"}}},
		{"dst", Spec{Dst: "1.2.3.4/"}, []FlagError{{Flag: "--dst", Item: "1.2.3.4/"}}},
		{"ports", Spec{Port: "http", SPort: "70000", DPort: "20-10,1-2-3,+5,-5, 5- "}, []FlagError{
			{Flag: "--port", Item: "http"},
			{Flag: "--sport", Item: "70000"},
			{Flag: "--dport", Item: "20-10"}, {Flag: "--dport", Item: "1-2-3"}, {Flag: "--dport", Item: "+5"}, {Flag: "--dport", Item: "-5"}, {Flag: "--dport", Item: "5-"},
		}},
		{"state", Spec{State: "SYN_SENT,OPENED,256,-1"}, []FlagError{{Flag: "--state", Item: "OPENED"}, {Flag: "--state", Item: "256"}, {Flag: "--state", Item: "-1"}}},
		{"status", Spec{Status: "assured,bogus,!!assured,bit16,!"}, []FlagError{{Flag: "--status", Item: "bogus"}, {Flag: "--status", Item: "!!assured"}, {Flag: "--status", Item: "bit16"}, {Flag: "--status", Item: "!"}}},
		{"status contradiction", Spec{Status: "assured,!assured"}, []FlagError{{Flag: "--status", Item: "assured,!assured"}}},
		{"status negated contradiction", Spec{Status: "!replied,!unreplied"}, []FlagError{{Flag: "--status", Item: "!replied,!unreplied"}}},
		{"zone", Spec{Zone: "65536,a,0x1"}, []FlagError{{Flag: "--zone", Item: "65536"}, {Flag: "--zone", Item: "a"}, {Flag: "--zone", Item: "0x1"}}},
		{"mark", Spec{Mark: "0x100000000,1/2,x,0x,1/,010_0,0b1"}, []FlagError{
			{Flag: "--mark", Item: "0x100000000"}, {Flag: "--mark", Item: "1/2"}, {Flag: "--mark", Item: "x"},
			{Flag: "--mark", Item: "0x"}, {Flag: "--mark", Item: "1/"}, {Flag: "--mark", Item: "010_0"}, {Flag: "--mark", Item: "0b1"},
		}},
		{"all flags at once", Spec{Family: "x", Proto: "x", Src: "x", Dst: "x", Port: "x", SPort: "x", DPort: "x", State: "x", Status: "x", Zone: "x", Mark: "x"}, []FlagError{
			{Flag: "--family", Item: "x"}, {Flag: "--proto", Item: "x"}, {Flag: "--src", Item: "x"}, {Flag: "--dst", Item: "x"},
			{Flag: "--port", Item: "x"}, {Flag: "--sport", Item: "x"}, {Flag: "--dport", Item: "x"}, {Flag: "--state", Item: "x"},
			{Flag: "--status", Item: "x"}, {Flag: "--zone", Item: "x"}, {Flag: "--mark", Item: "x"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.spec)
			if err == nil {
				t.Fatalf("New(%+v) = %s, want an error", tt.spec, f)
			}
			if f != nil {
				t.Errorf("New(%+v) returned a filter with its error", tt.spec)
			}
			if diff := cmp.Diff(tt.want, flagErrors(t, err)); diff != "" {
				t.Errorf("New(%+v) errors (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}

func TestFlagErrorMessage(t *testing.T) {
	_, err := New(Spec{SPort: "70000"})
	var fe *FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("New: %v is not a *FlagError", err)
	}
	// The one place a message is compared: it is the operator's interface.
	if want := `--sport: "70000" is not a port (0-65535) or a port range (1000-2000)`; fe.Error() != want {
		t.Errorf("message = %q, want %q", fe.Error(), want)
	}
}

// parseString is the inverse of Filter.String: it reads the flag form back
// into a Spec.
func parseString(t testing.TB, s string) Spec {
	t.Helper()
	var spec Spec
	if s == "any" {
		return spec
	}
	spec.LabelNames = testLabels(t)
	fields := map[string]*string{
		flagFamily: &spec.Family, flagProto: &spec.Proto, flagSrc: &spec.Src, flagDst: &spec.Dst,
		flagPort: &spec.Port, flagSPort: &spec.SPort, flagDPort: &spec.DPort, flagState: &spec.State,
		flagStatus: &spec.Status, flagZone: &spec.Zone, flagMark: &spec.Mark,
		flagReplySrc: &spec.ReplySrc, flagReplyDst: &spec.ReplyDst, flagReplySPort: &spec.ReplySPort,
		flagReplyDPort: &spec.ReplyDPort, flagMaskSrc: &spec.MaskSrc, flagMaskDst: &spec.MaskDst,
		flagSrcNAT: &spec.SrcNATAddr, flagDstNAT: &spec.DstNATAddr, flagAnyNAT: &spec.AnyNATAddr,
		flagLabel: &spec.Label, flagOrigZone: &spec.OrigZone, flagReplyZone: &spec.ReplyZone,
		flagICMPType: &spec.ICMPType, flagICMPCode: &spec.ICMPCode, flagICMPID: &spec.ICMPID,
		flagSecmark: &spec.Secmark, flagSrcKey: &spec.GRESrcKey, flagDstKey: &spec.GREDstKey,
		flagReplySKey: &spec.GREReplySrcKey, flagReplyDKey: &spec.GREReplyDstKey,
		flagOrigVtag: &spec.OrigVtag, flagReplyVtag: &spec.ReplyVtag, flagRole: &spec.Role,
	}
	bare := map[string]*bool{flagSrcNAT: &spec.SrcNAT, flagDstNAT: &spec.DstNAT, flagAnyNAT: &spec.AnyNAT}
	for _, kv := range strings.Split(s, " ") {
		if b := bare[kv]; b != nil && !*b {
			*b = true
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		p := fields[k]
		if !ok || p == nil || *p != "" || v == "" {
			t.Fatalf("String() = %q: bad flag %q", s, kv)
		}
		*p = v
	}
	return spec
}

// equalFilters compares compiled filters, field by field.
var equalFilters = cmp.Options{
	cmp.AllowUnexported(Filter{}, statusCond{}, portRange{}, markItem{}, maskedAddr{}, natCond{}, natItem{}, labelItem{}, vtagCond{}),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func TestStringRoundTrip(t *testing.T) {
	spec := Spec{
		Family: "ipv6,ipv4", Proto: "tcp,17,ipv6-icmp", Src: "10.1.1.1/8,::1", Dst: "2001:db8::/48",
		Port: "80,79,1-5", SPort: "9", DPort: "65535", State: "established,7", Status: "unreplied,offload,!assured,!dst_nat",
		Zone: "9,1", Mark: "0x1/0x3,7",
	}
	checkRoundTrip(t, spec, events(t))
}

// checkRoundTrip checks that spec's filter, printed and parsed back, yields
// the same compiled filter, prints alike and matches alike.
func checkRoundTrip(t *testing.T, spec Spec, evs []model.Event) {
	t.Helper()
	f, err := New(spec)
	if err != nil {
		t.Fatalf("New(%+v): %v", spec, err)
	}
	s := f.String()
	g, err := New(parseString(t, s))
	if err != nil {
		t.Fatalf("New(parse(%q)): %v", s, err)
	}
	if diff := cmp.Diff(f, g, equalFilters); diff != "" {
		t.Errorf("%q parsed back (-want +got):\n%s", s, diff)
	}
	if got := g.String(); got != s {
		t.Errorf("%q parsed back prints %q", s, got)
	}
	for i := range evs {
		if f.Match(&evs[i]) != g.Match(&evs[i]) {
			t.Errorf("%q parsed back matches event %d differently", s, i)
		}
	}
}

func FuzzNew(f *testing.F) {
	f.Add("ipv4", "tcp", "10.0.0.0/8", "::1", "80", "1000-2000", "22", "SYN_SENT", "unreplied,!assured", "3", "0x10/0xff")
	f.Add("inet6,ipv4", "UDP,17,ipv6-icmp", "2001:db8::/32,1.2.3.4", "", "0-65535", "", "", "established,3", "!replied", "", "16")
	f.Add("", "", "", "", "", "", "", "", "assured,!assured", "", "1/2")
	f.Add("x", ",", "10.0.0.1/33", "fe80::1%eth0", "70000", "5-1", "+5", "none", "!", "65536", "0x")
	evs := append(events(f), ctEvents(f)...)
	flagNames := []string{flagFamily, flagProto, flagSrc, flagDst, flagPort, flagSPort, flagDPort, flagState, flagStatus, flagZone, flagMark,
		flagReplySrc, flagReplyDst, flagReplySPort, flagReplyDPort, flagMaskSrc, flagMaskDst, flagSrcNAT, flagDstNAT, flagAnyNAT,
		flagLabel, flagOrigZone, flagReplyZone, flagICMPType, flagICMPCode, flagICMPID, flagSecmark}
	f.Fuzz(func(t *testing.T, family, proto, src, dst, port, sport, dport, state, status, zone, mark string) {
		spec := Spec{Family: family, Proto: proto, Src: src, Dst: dst, Port: port, SPort: sport, DPort: dport, State: state, Status: status, Zone: zone, Mark: mark}
		checkFuzzSpec(t, spec, evs, flagNames)
	})
}

// checkFuzzSpec checks that New either fails with *FlagErrors naming known
// flags or yields a filter that matches without panicking and round-trips.
func checkFuzzSpec(t *testing.T, spec Spec, evs []model.Event, flagNames []string) {
	t.Helper()
	fl, err := New(spec)
	if err != nil {
		if fl != nil {
			t.Errorf("New(%+v) returned a filter with its error", spec)
		}
		for _, fe := range flagErrors(t, err) {
			if !slices.Contains(flagNames, fe.Flag) {
				t.Errorf("error names unknown flag %q", fe.Flag)
			}
		}
		return
	}
	for i := range evs {
		fl.Match(&evs[i])
	}
	checkRoundTrip(t, spec, evs)
}

func TestMatchAllocs(t *testing.T) {
	evs := events(t)
	f, err := New(benchSpec)
	if err != nil {
		t.Fatal(err)
	}
	checkMatchAllocs(t, f, evs)
}

// benchSpec is a filter an operator might run: every kind of check, most
// events rejected late.
var benchSpec = Spec{
	Family: "ipv4,ipv6", Proto: "tcp,udp,sctp", Src: "10.0.0.0/8,192.168.0.0/16,2001:db8::/32",
	Port: "22,53,443,5000-5001", Status: "!offload", Zone: "0,3", Mark: "0/0xff00",
}

func BenchmarkMatch(b *testing.B) {
	evs := append(events(b), ctEvents(b)...)
	for _, bb := range []struct {
		name string
		spec Spec
	}{
		{"empty", Spec{}},
		{"proto", Spec{Proto: "tcp"}},
		{"typical", benchSpec},
		{"conntrack", Spec{
			Proto: "tcp,udp,icmp", ReplyDst: "203.0.113.0/24,2001:db8::/32", AnyNAT: true, OrigZone: "0",
			Src: "10.0.0.1,::1", MaskSrc: "255.0.0.255", Label: "red", LabelNames: testLabels(b), Secmark: "0/0xff",
		}},
	} {
		f, err := New(bb.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				if f.Match(&evs[i%len(evs)]) {
					n++
				}
			}
			_ = n
		})
	}
}
