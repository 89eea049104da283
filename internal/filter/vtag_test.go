package filter

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// vtagCorpus are the entries of the --orig-vtag, --reply-vtag and --role
// tests: ctnetlink's protocol info, which no text line carries.
var vtagCorpus = []struct {
	name  string
	entry model.Entry
}{
	{"sctp", sctpEntry(model.FieldOrigVtag|model.FieldReplyVtag, 0xdeadbeef, 7)},
	{"sctp-other", sctpEntry(model.FieldOrigVtag|model.FieldReplyVtag, 7, 0xdeadbeef)},
	// A destroy event: the kernel sends the state without the vtags.
	{"sctp-destroy", sctpEntry(0, 0, 0)},
	// Vtags of zero, present: not the same as absent.
	{"sctp-zero", sctpEntry(model.FieldOrigVtag|model.FieldReplyVtag, 0, 0)},
	{"dccp-client", dccpEntry(model.FieldDCCPRole, model.DCCPRoleClient)},
	{"dccp-server", dccpEntry(model.FieldDCCPRole, model.DCCPRoleServer)},
	{"dccp-destroy", dccpEntry(0, 0)},
	{"dccp-unknown-role", dccpEntry(model.FieldDCCPRole, 5)},
	// Protocol info of another protocol than the entry's (a decoder
	// cannot produce it; the protocol check must still hold).
	{"tcp-with-vtags", func() model.Entry {
		e := sctpEntry(model.FieldOrigVtag|model.FieldReplyVtag, 0xdeadbeef, 7)
		e.Proto = model.ProtoTCP
		return e
	}()},
	{"udp-with-role", func() model.Entry {
		e := dccpEntry(model.FieldDCCPRole, model.DCCPRoleServer)
		e.Proto = model.ProtoUDP
		return e
	}()},
}

func sctpEntry(fields model.Field, orig, reply uint32) model.Entry {
	return model.Entry{Family: model.FamilyIPv4, Proto: model.ProtoSCTP, Fields: model.FieldState | fields, State: model.SCTPEstablished,
		Orig:     model.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 5000, DstPort: 36412},
		Reply:    model.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 36412, DstPort: 5000},
		OrigVtag: orig, ReplyVtag: reply}
}

func dccpEntry(fields model.Field, role model.DCCPRole) model.Entry {
	return model.Entry{Family: model.FamilyIPv6, Proto: model.ProtoDCCP, Fields: model.FieldState | fields, State: model.DCCPOpen,
		Orig:     model.Tuple{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), SrcPort: 5001, DstPort: 9},
		Reply:    model.Tuple{Src: netip.MustParseAddr("2001:db8::2"), Dst: netip.MustParseAddr("2001:db8::1"), SrcPort: 9, DstPort: 5001},
		DCCPRole: role}
}

func vtagEvents() []model.Event {
	evs := make([]model.Event, len(vtagCorpus))
	for i, c := range vtagCorpus {
		evs[i] = model.Event{Type: model.EventUpdate, Entry: c.entry}
	}
	return evs
}

// vtagName names the entries of vtagEvents.
func vtagName(i int) string { return vtagCorpus[i].name }

func TestMatchVtagRole(t *testing.T) {
	evs := vtagEvents()
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"orig vtag hex", Spec{OrigVtag: "0xDEADBEEF"}, []string{"sctp"}},
		{"orig vtag decimal", Spec{OrigVtag: "3735928559"}, []string{"sctp"}},
		{"orig vtag list", Spec{OrigVtag: "7, 0xdeadbeef"}, []string{"sctp", "sctp-other"}},
		{"reply vtag", Spec{ReplyVtag: "7"}, []string{"sctp"}},
		{"both directions ANDed", Spec{OrigVtag: "7", ReplyVtag: "7"}, nil},
		{"both directions", Spec{OrigVtag: "7", ReplyVtag: "0xdeadbeef"}, []string{"sctp-other"}},
		{"zero matches a present zero only", Spec{OrigVtag: "0"}, []string{"sctp-zero"}},
		{"with --proto", Spec{Proto: "sctp", ReplyVtag: "0x0"}, []string{"sctp-zero"}},
		{"role client", Spec{Role: "client"}, []string{"dccp-client"}},
		{"role server, any case", Spec{Role: "SERVER"}, []string{"dccp-server"}},
		{"role abbreviated, as conntrack takes it", Spec{Role: "Cl"}, []string{"dccp-client"}},
		{"roles ORed", Spec{Role: "server,client"}, []string{"dccp-client", "dccp-server"}},
		{"role with --dport", Spec{Role: "server", DPort: "9"}, []string{"dccp-server"}},
		{"role with another --dport", Spec{Role: "server", DPort: "10"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, matching(f, evs, vtagName)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			checkRoundTrip(t, tt.spec, evs)
		})
	}
}

func TestVtagRoleErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []FlagError
	}{
		{"vtag past 32 bits", Spec{OrigVtag: "4294967296"}, []FlagError{{Flag: flagOrigVtag, Item: "4294967296"}}},
		{"vtag not a number", Spec{ReplyVtag: "1,tag,0x"}, []FlagError{{Flag: flagReplyVtag, Item: "tag"}, {Flag: flagReplyVtag, Item: "0x"}}},
		{"vtag negative", Spec{OrigVtag: "-1"}, []FlagError{{Flag: flagOrigVtag, Item: "-1"}}},
		{"empty item", Spec{OrigVtag: "1,,2"}, []FlagError{{Flag: flagOrigVtag, Item: "1,,2"}}},
		{"unknown role", Spec{Role: "client,peer,clients"}, []FlagError{{Flag: flagRole, Item: "peer"}, {Flag: flagRole, Item: "clients"}}},
		{"role by number", Spec{Role: "1"}, []FlagError{{Flag: flagRole, Item: "1"}}},
		{"role with a vtag", Spec{Role: "client", OrigVtag: "1"}, []FlagError{{Flag: flagRole, Item: "client"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.spec)
			if err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tt.spec, f)
			}
			var got []FlagError
			for _, fe := range flagErrors(t, err) {
				got = append(got, FlagError{Flag: fe.Flag, Item: fe.Item})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestVtagString(t *testing.T) {
	f, err := New(Spec{Proto: "sctp", ReplyVtag: "16,0x10,3735928559", OrigVtag: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.String(), "--proto=sctp --orig-vtag=0x0 --reply-vtag=0x10,0xdeadbeef"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	g, err := New(Spec{Role: "server,client,Client"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.String(), "--role=client,server"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if g.Empty() {
		t.Error("a --role filter is Empty")
	}
}

func TestMatchVtagAllocs(t *testing.T) {
	evs := append(append(events(t), ctEvents(t)...), vtagEvents()...)
	for _, s := range []Spec{{OrigVtag: "1,2,3,0xdeadbeef", ReplyVtag: "7"}, {Role: "server"}} {
		f, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		checkMatchAllocs(t, f, evs)
	}
}
