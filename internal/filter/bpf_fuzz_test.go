package filter

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// FuzzBPF holds the generator to its contract for random filter specs:
// the program assembles (or is refused as too large, and only then), is
// never over the kernel's limit, passes the kernel's attach-time checks
// (every jump in range, scratch cells written before read, a return at the
// end), and for random kernel-shaped messages accepts exactly what Match
// accepts of the decoded event, for the criteria it compiles. extra adds
// that many items to one flag, to reach the limit.
func FuzzBPF(f *testing.F) {
	f.Add(uint64(1), uint16(0), uint8(0))
	f.Add(uint64(2), uint16(300), uint8(1))
	f.Add(uint64(3), uint16(5000), uint8(2))
	f.Add(uint64(4), uint16(2000), uint8(3))
	f.Add(uint64(5), uint16(1500), uint8(4))
	f.Fuzz(func(t *testing.T, seed uint64, extra uint16, which uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(extra)<<8|uint64(which)))
		s := randomSpec(r)
		addExtra(r, &s, int(extra%6000), which)
		flt, err := New(s)
		if err != nil {
			return // not a filter: New's tests cover its errors
		}
		prog, err := flt.BPF()
		if err != nil {
			if !errors.Is(err, ErrProgramTooLarge) {
				t.Fatalf("%s: %v", shorten(flt.String()), err)
			}
			return
		}
		if prog == nil {
			if !flt.Kernel().Empty() {
				t.Fatalf("%s: no program", flt)
			}
			return
		}
		if len(prog) > MaxInstructions {
			t.Fatalf("%d instructions", len(prog))
		}
		if err := checkClassic(prog); err != nil {
			t.Fatalf("%s: %v", shorten(flt.String()), err)
		}
		k := flt.Kernel()
		for range 50 {
			ev := randomEvent(r)
			v, dec := verdict(t, prog, &ev)
			if m := k.Match(&dec); v != m {
				t.Fatalf("%s: program %v, Match %v on %s", shorten(flt.String()), v, m, evString(&dec))
			}
		}
	})
}

// addExtra adds n random items to the flag which names.
func addExtra(r *rand.Rand, s *Spec, n int, which uint8) {
	if n == 0 {
		return
	}
	items := make([]string, n)
	for i := range items {
		switch which % 5 {
		case 0, 1:
			items[i] = strconv.Itoa(r.IntN(65536))
		case 2:
			items[i] = "10." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + ".0/" + strconv.Itoa(8+r.IntN(25))
		case 3:
			items[i] = "2001:db8:" + strconv.FormatInt(int64(r.IntN(65536)), 16) + "::/" + strconv.Itoa(32+r.IntN(97))
		default:
			items[i] = strconv.Itoa(r.IntN(65536))
		}
	}
	v := strings.Join(items, ",")
	switch which % 5 {
	case 0:
		s.DPort = v
	case 1:
		s.Port = v
	case 2:
		s.Src = v
	case 3:
		s.Dst = v
	default:
		s.Zone = v
	}
}

// FuzzBPFMessage runs the programs of the test filters on arbitrary bytes:
// a program never fails to run, and it accepts every message that is not
// a conntrack entry event (another type, or too short to be one) for
// userspace to decide.
func FuzzBPFMessage(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 8 {
		ev := randomEvent(r)
		f.Add(encodeEvent(&ev))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 20))
	var progs [][]bpf.RawInstruction
	for _, s := range specs {
		flt, err := New(s)
		if err != nil {
			f.Fatal(err)
		}
		p, err := flt.BPF()
		if err != nil {
			f.Fatal(err)
		}
		progs = append(progs, p)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		entry := len(msg) >= offAttrs && (binary.NativeEndian.Uint16(msg[offNlmsgType:]) == uint16(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)) ||
			binary.NativeEndian.Uint16(msg[offNlmsgType:]) == uint16(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtDelete)))
		for i, p := range progs {
			v, err := runClassic(p, msg)
			if err != nil {
				t.Fatalf("%+v: %v", specs[i], err)
			}
			if !entry && v == 0 {
				t.Fatalf("%+v: refused a message that is not an entry event: % x", specs[i], msg)
			}
		}
	})
}
