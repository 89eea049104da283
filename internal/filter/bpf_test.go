package filter

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// verdict runs f's program on the message of ev and returns whether it
// accepts it, and the event as the socket's decoder reads the message.
func verdict(t testing.TB, prog []bpf.RawInstruction, ev *model.Event) (bool, model.Event) {
	t.Helper()
	msg := encodeEvent(ev)
	got, decoded, err := decodeMessage(msg)
	if err != nil {
		t.Fatalf("decode the test's own message: %v", err)
	}
	if !decoded {
		got = *ev
	}
	v, err := runClassic(prog, msg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return v != 0, got
}

// compile builds the filter of s and its program, checked as the kernel
// checks it.
func compile(t testing.TB, s Spec) (*Filter, []bpf.RawInstruction) {
	t.Helper()
	f, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	prog, err := f.BPF()
	if err != nil {
		t.Fatalf("%s: BPF: %v", shorten(f.String()), err)
	}
	if prog != nil {
		if err := checkClassic(prog); err != nil {
			t.Fatalf("%s: the kernel would refuse the program: %v", shorten(f.String()), err)
		}
	}
	return f, prog
}

// specs are typical and corner-case filters.
var specs = []Spec{
	{Family: "ipv4"},
	{Family: "ipv6"},
	{Family: "ipv4,ipv6"},
	{Proto: "tcp"},
	{Proto: "udp", DPort: "694"},
	{Proto: "tcp,udp", DPort: "53"},
	{Proto: "0,1,2,3,4,5,200,201,202,255"},
	{Port: "80,443"},
	{Port: "0"},
	{SPort: "1000-2000,3000", DPort: "0-1023"},
	{DPort: "65535"},
	{State: "ESTABLISHED"},
	{State: "SYN_SENT,TIME_WAIT", Proto: "tcp"},
	{State: "0,3"},
	{Status: "unreplied"},
	{Status: "replied,assured"},
	{Status: "!assured"},
	{Status: "unreplied,!assured"},
	{Status: "!assured,!offload"},
	{Status: "!unreplied"},
	{Status: "assured,unreplied,!confirmed"},
	{Zone: "0"},
	{Zone: "3"},
	{Zone: "1,2,3,7"},
	{Mark: "0"},
	{Mark: "16"},
	{Mark: "0x10/0xf0,0xff,0x1/0x1"},
	{Src: "10.0.0.5"},
	{Src: "10.0.0.0/8,192.168.1.0/24"},
	{Src: "0.0.0.0/0"},
	{Dst: "2001:db8::/32"},
	{Dst: "2001:db8::2,::ffff:10.0.0.0/104,::/0"},
	{Src: "10.0.0.0/8,2001:db8::/33", Dst: "93.184.216.34"},
	{Src: "2001:db8::1,2001:db8::2,2001:db8:0:1::/64,2001:db8:1::/48,fe80::/10"},
	{Proto: "tcp", Src: "10.0.0.0/8", DPort: "443", Status: "assured", Mark: "16", Zone: "3", State: "ESTABLISHED", Family: "ipv4"},
}

func TestBPFCorpus(t *testing.T) {
	evs := events(t)
	for _, s := range specs {
		f, prog := compile(t, s)
		if prog == nil {
			t.Fatalf("%s: no program", f)
		}
		t.Run(f.String(), func(t *testing.T) {
			var want, got []string
			for i := range evs {
				for _, typ := range []model.EventType{model.EventNew, model.EventUpdate, model.EventDestroy} {
					ev := evs[i]
					ev.Type = typ
					v, dec := verdict(t, prog, &ev)
					name := corpus[i].name + "/" + strconv.Itoa(int(typ))
					if f.Kernel().Match(&dec) {
						want = append(want, name)
					}
					if v {
						got = append(got, name)
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("accepted (-Match +program):\n%s", diff)
			}
		})
	}
}

func TestBPFRandomEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range specs {
		f, prog := compile(t, s)
		k := f.Kernel()
		matched := 0
		for range 2000 {
			ev := randomEvent(r)
			v, dec := verdict(t, prog, &ev)
			m := k.Match(&dec)
			if v != m {
				t.Fatalf("%s: program %v, Match %v on %s", f, v, m, evString(&dec))
			}
			if m {
				matched++
			}
		}
		t.Logf("%-40s %4d instructions, %4d of 2000 random events", f, len(prog), matched)
	}
}

func TestBPFOtherMessages(t *testing.T) {
	// A filter that refuses every entry: whatever passes is let through as
	// not an entry.
	_, prog := compile(t, Spec{Proto: "255", Zone: "65535", Mark: "0xdead"})
	msg := func(typ ctnl.HeaderType, payload ...byte) []byte {
		b, at := ctnl.AppendMessage(nil, typ, 0, 0, 2)
		b = append(b, payload...)
		return ctnl.EndMessage(b, at)
	}
	done := make([]byte, 16)
	binary.NativeEndian.PutUint32(done, 16)
	binary.NativeEndian.PutUint16(done[4:], 3) // NLMSG_DONE
	short := make([]byte, 16)
	binary.NativeEndian.PutUint32(short, 16)
	binary.NativeEndian.PutUint16(short[4:], uint16(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)))
	for name, m := range map[string][]byte{
		"done":        done,
		"error":       msg(2, 0, 0, 0, 0),
		"expectation": msg(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlinkExp, ctnl.IPCTNLMsgExpNew)),
		"exp-delete":  msg(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlinkExp, ctnl.IPCTNLMsgExpDelete)),
		"ct-get":      msg(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtGet)),
		"short-entry": short,
	} {
		v, err := runClassic(prog, m)
		if err != nil || v == 0 {
			t.Errorf("%s: verdict %d, %v; want accepted", name, v, err)
		}
	}
	// And the filter does refuse an entry.
	ev := events(t)[0]
	if v, _ := verdict(t, prog, &ev); v {
		t.Errorf("entry %s accepted", evString(&ev))
	}
}

func TestBPFNothingToCompile(t *testing.T) {
	for _, f := range []*Filter{nil, mustNew(t, Spec{})} {
		prog, err := f.BPF()
		if prog != nil || err != nil {
			t.Errorf("%s: BPF() = %d instructions, %v; want none", f, len(prog), err)
		}
	}
}

func mustNew(t testing.TB, s Spec) *Filter {
	t.Helper()
	f, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBPFTooLarge(t *testing.T) {
	var ports []string
	for p := 1; p < 9000; p += 2 { // no two touch: one jump each
		ports = append(ports, strconv.Itoa(p))
	}
	f := mustNew(t, Spec{DPort: strings.Join(ports, ",")})
	prog, err := f.BPF()
	if !errors.Is(err, ErrProgramTooLarge) || prog != nil {
		t.Fatalf("BPF() = %d instructions, %v; want ErrProgramTooLarge", len(prog), err)
	}
	if !strings.Contains(err.Error(), "--dport=1,3,5,") {
		t.Errorf("error %q does not name the filter", err)
	}
	// Just under the limit it fits, with jumps further than 255.
	f = mustNew(t, Spec{DPort: strings.Join(ports[:3900], ",")})
	_, prog = compile(t, Spec{DPort: strings.Join(ports[:3900], ",")})
	if len(prog) > MaxInstructions {
		t.Fatalf("%d instructions", len(prog))
	}
	for _, p := range []uint16{1, 3, 7999, 8001, 2, 0, 8000} {
		ev := events(t)[0]
		ev.Entry.Orig.DstPort = p
		v, dec := verdict(t, prog, &ev)
		if m := f.Match(&dec); v != m {
			t.Errorf("dport %d: program %v, Match %v", p, v, m)
		}
	}
}

func TestBPFSplit(t *testing.T) {
	f := mustNew(t, Spec{Proto: "udp", DPort: "694", Status: "!assured"})
	k, u := f.Split()
	if diff := cmp.Diff([2]string{f.String(), "any"}, [2]string{k, u}); diff != "" {
		t.Errorf("Split (-want +got):\n%s", diff)
	}
	// What the program does not compile stays in userspace: the program
	// is the kernel part's, and Match still checks the rest.
	f = mustNew(t, Spec{Proto: "udp", ReplySrc: "10.0.0.53", OrigZone: "3"})
	k, u = f.Split()
	if diff := cmp.Diff([2]string{"--proto=udp", "--reply-src=10.0.0.53 --orig-zone=3"}, [2]string{k, u}); diff != "" {
		t.Errorf("Split with userspace flags (-want +got):\n%s", diff)
	}
	prog, err := f.BPF()
	if err != nil {
		t.Fatal(err)
	}
	only := mustNew(t, Spec{Proto: "udp"})
	want, err := only.BPF()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, prog); diff != "" {
		t.Errorf("program of %s is not that of its kernel part (-want +got):\n%s", f, diff)
	}
	if prog, err := mustNew(t, Spec{ReplySrc: "10.0.0.53"}).BPF(); prog != nil || err != nil {
		t.Errorf("userspace-only filter: %d instructions, %v; want none", len(prog), err)
	}
	var none *Filter
	k, u = none.Split()
	if diff := cmp.Diff([2]string{"any", "any"}, [2]string{k, u}); diff != "" {
		t.Errorf("nil Split (-want +got):\n%s", diff)
	}
}

// TestBPFStable: Stable drops exactly the criteria a flow may stop meeting
// (--state, --status, --mark), and SplitStable puts them in userspace
// beside what the program never compiles.
func TestBPFStable(t *testing.T) {
	f := mustNew(t, Spec{Proto: "tcp", DPort: "443", State: "SYN_SENT", Status: "unreplied", Mark: "0x10/0xf0", ReplySrc: "10.0.0.53"})
	if diff := cmp.Diff(mustNew(t, Spec{Proto: "tcp", DPort: "443", ReplySrc: "10.0.0.53"}).String(), f.Stable().String()); diff != "" {
		t.Errorf("Stable (-want +got):\n%s", diff)
	}
	k, u := f.SplitStable()
	want := [2]string{
		mustNew(t, Spec{Proto: "tcp", DPort: "443"}).String(),
		mustNew(t, Spec{State: "SYN_SENT", Status: "unreplied", Mark: "0x10/0xf0", ReplySrc: "10.0.0.53"}).String(),
	}
	if diff := cmp.Diff(want, [2]string{k, u}); diff != "" {
		t.Errorf("SplitStable (-want +got):\n%s", diff)
	}
	// An event the stable program lets through and the whole filter does
	// not: an answered flow's UPDATE still reaches the tracker.
	prog, err := f.Stable().BPF()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := f.BPF()
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) >= len(whole) {
		t.Errorf("stable program of %d instructions, whole of %d: want fewer", len(prog), len(whole))
	}
	var none *Filter
	if none.Stable() != nil {
		t.Error("nil Stable is not nil")
	}
	k, u = none.SplitStable()
	if diff := cmp.Diff([2]string{"any", "any"}, [2]string{k, u}); diff != "" {
		t.Errorf("nil SplitStable (-want +got):\n%s", diff)
	}
}

// TestBPFSizes keeps typical programs short: one test per criterion, the
// common prefix once.
func TestBPFSizes(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		max  int
	}{
		{Spec{Proto: "udp", DPort: "694"}, 36},
		{Spec{Proto: "tcp", DPort: "22,80,443"}, 38},
		{Spec{Src: "10.0.0.0/8"}, 28},
		{Spec{Src: "2001:db8::/32"}, 28},
		{Spec{Status: "unreplied"}, 20},
		{Spec{Mark: "0x10/0xf0"}, 20},
		{Spec{Zone: "3"}, 44},
		{Spec{State: "ESTABLISHED", Proto: "tcp"}, 60},
	} {
		f, prog := compile(t, c.spec)
		t.Logf("%-30s %d instructions", f, len(prog))
		if len(prog) > c.max {
			t.Errorf("%s: %d instructions, want at most %d", f, len(prog), c.max)
		}
	}
}

func TestNlmsgTypeByteOrder(t *testing.T) {
	// The header is in host order; a BPF half-word load reads big-endian.
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 0x0102)
	if got, want := nlmsgTypeBE(0x0102), uint32(binary.BigEndian.Uint16(b[:])); got != want {
		t.Errorf("nlmsgTypeBE = %#x, want %#x", got, want)
	}
}

// evString prints ev as conntrack -E does, with its zones and status.
func evString(ev *model.Event) string {
	return string(model.AppendText(nil, ev, &model.TextOptions{})) + " status=" + strconv.FormatUint(uint64(ev.Entry.Status), 16) + " fields=" + strconv.FormatUint(uint64(ev.Entry.Fields), 16)
}
