package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

var testTime = time.Date(2026, 12, 7, 5, 41, 42, 123456789, time.FixedZone("x", 3600))

func TestAppend(t *testing.T) {
	ts := AppendTimestamp(nil, testTime)
	if got, want := string(ts), "2026-12-07T04:41:42.123456Z"; got != want || len(ts) != TimestampLen {
		t.Fatalf("timestamp %q, want %q", got, want)
	}
	line := []byte(`{"seq":7,"type":"new","note":"é\"]"}` + "\n")
	for _, tc := range []struct {
		name string
		cfg  FormatConfig
		rec  Record
		want string
	}{{
		name: "default",
		cfg:  FormatConfig{Hostname: "node-1", ProcID: 4242},
		rec:  Record{Line: line, Seq: 7, Run: "r", Level: zerolog.InfoLevel, Kind: "new"},
		want: `<30>1 2026-12-07T04:41:42.123456Z node-1 ctwatch 4242 new - {"seq":7,"type":"new","note":"é\"]"}`,
	}, {
		name: "structured data",
		cfg:  FormatConfig{Facility: Local0, Hostname: "node-1", ProcID: 1, EnterpriseNumber: 32473},
		rec:  Record{Line: line, Seq: 18446744073709551615, Run: `9b2c"\]`, Level: zerolog.WarnLevel},
		want: `<132>1 2026-12-07T04:41:42.123456Z node-1 ctwatch 1 - [ctwatch@32473 seq="18446744073709551615" run="9b2c\"\\\]"] {"seq":7,"type":"new","note":"é\"]"}`,
	}, {
		name: "nil fields",
		cfg:  FormatConfig{AppName: "a b\x00", Facility: 200},
		rec:  Record{Level: zerolog.ErrorLevel, Kind: "a-very-long-kind-of-record-beyond-32"},
		want: `<27>1 2026-12-07T04:41:42.123456Z - a_b_ - a-very-long-kind-of-record-beyon -`,
	}} {
		got := NewFormat(tc.cfg).Append(nil, ts, &tc.rec)
		if diff := cmp.Diff(tc.want, string(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestSeverityOf(t *testing.T) {
	got := map[zerolog.Level]Severity{}
	for _, l := range []zerolog.Level{zerolog.TraceLevel, zerolog.DebugLevel, zerolog.InfoLevel, zerolog.WarnLevel,
		zerolog.ErrorLevel, zerolog.FatalLevel, zerolog.PanicLevel, zerolog.NoLevel} {
		got[l] = SeverityOf(l)
	}
	want := map[zerolog.Level]Severity{zerolog.TraceLevel: 7, zerolog.DebugLevel: 7, zerolog.InfoLevel: 6,
		zerolog.WarnLevel: 4, zerolog.ErrorLevel: 3, zerolog.FatalLevel: 2, zerolog.PanicLevel: 1, zerolog.NoLevel: 6}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAppendAllocs(t *testing.T) {
	f := NewFormat(FormatConfig{Hostname: "node-1", ProcID: 4242, EnterpriseNumber: 32473})
	rec := Record{Line: bytes.Repeat([]byte("x"), 600), Seq: 1 << 40, Run: "6f1c0c1e-8d4b-4f43-9b8e-2a0c5b0e7d11", Kind: "destroy"}
	buf := make([]byte, 0, 4096)
	frame := make([]byte, 0, 4096)
	var ts [TimestampLen]byte
	n := testing.AllocsPerRun(1000, func() {
		AppendTimestamp(ts[:0], testTime)
		buf = f.Append(buf[:0], ts[:], &rec)
		frame, _ = AppendFrame(frame[:0], OctetCounting, buf)
		rec.Seq++
	})
	if n != 0 {
		t.Errorf("%v allocations per message, want 0", n)
	}
}

// parsed is a message split by a strict RFC 5424 reading.
type parsed struct {
	pri                                         int
	ts, host, app, procid, msgid, seq, run, msg string
	sd                                          bool
}

// parse5424 reads msg as RFC 5424 with ctwatch's structured data.
func parse5424(msg []byte) (parsed, error) {
	var p parsed
	if len(msg) < 4 || msg[0] != '<' {
		return p, errors.New("no PRI")
	}
	end := bytes.IndexByte(msg, '>')
	if end < 2 || end > 4 {
		return p, errors.New("bad PRI")
	}
	pri, err := strconv.Atoi(string(msg[1:end]))
	if err != nil || pri > 191 || (end > 2 && msg[1] == '0') {
		return p, fmt.Errorf("bad PRI %q", msg[1:end])
	}
	p.pri = pri
	rest := msg[end+1:]
	if !bytes.HasPrefix(rest, []byte("1 ")) {
		return p, errors.New("no version 1")
	}
	rest = rest[2:]
	fields := make([]string, 5)
	limits := []int{TimestampLen, maxHostname, maxAppName, maxProcID, maxMsgID}
	for i := range fields {
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return p, fmt.Errorf("header field %d missing", i)
		}
		f := rest[:sp]
		if len(f) > limits[i] {
			return p, fmt.Errorf("header field %d longer than %d", i, limits[i])
		}
		for _, c := range f {
			if c < 33 || c > 126 {
				return p, fmt.Errorf("header field %d: byte %d", i, c)
			}
		}
		fields[i] = string(f)
		rest = rest[sp+1:]
	}
	p.ts, p.host, p.app, p.procid, p.msgid = fields[0], fields[1], fields[2], fields[3], fields[4]
	if _, err := time.Parse(time.RFC3339Nano, p.ts); err != nil {
		return p, err
	}
	switch {
	case len(rest) > 0 && rest[0] == '-':
		rest = rest[1:]
	case bytes.HasPrefix(rest, []byte("[ctwatch@")):
		p.sd = true
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			return p, errors.New("unterminated SD-ID")
		}
		rest = rest[i:]
		for _, name := range []string{"seq", "run"} {
			pre := " " + name + `="`
			if !bytes.HasPrefix(rest, []byte(pre)) {
				return p, fmt.Errorf("no %s param", name)
			}
			rest = rest[len(pre):]
			var v []byte
			for {
				if len(rest) == 0 {
					return p, errors.New("unterminated param value")
				}
				c := rest[0]
				rest = rest[1:]
				if c == '\\' && len(rest) > 0 && (rest[0] == '"' || rest[0] == '\\' || rest[0] == ']') {
					v = append(v, rest[0])
					rest = rest[1:]
					continue
				}
				if c == '"' {
					break
				}
				if c == ']' {
					return p, errors.New("unescaped ] in param value")
				}
				v = append(v, c)
			}
			if name == "seq" {
				p.seq = string(v)
			} else {
				p.run = string(v)
			}
		}
		if len(rest) == 0 || rest[0] != ']' {
			return p, errors.New("unterminated SD element")
		}
		rest = rest[1:]
	default:
		return p, errors.New("no structured data")
	}
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return p, errors.New("no space before MSG")
		}
		p.msg = string(rest[1:])
	}
	return p, nil
}

func FuzzFormat(f *testing.F) {
	f.Add([]byte(`{"seq":1}`+"\n"), uint64(1), "6f1c0c1e-8d4b-4f43-9b8e-2a0c5b0e7d11", int8(1), "new", "node-1", uint32(32473), uint8(3))
	f.Add([]byte("a\nb"), uint64(0), `"]\`, int8(-1), "", "", uint32(0), uint8(0))
	f.Add([]byte{}, ^uint64(0), "", int8(7), "k i n d\xff", "\x00host", uint32(1), uint8(23))
	f.Fuzz(func(t *testing.T, line []byte, seq uint64, run string, level int8, kind, host string, pen uint32, fac uint8) {
		fm := NewFormat(FormatConfig{Facility: Facility(fac), Hostname: host, ProcID: 99, EnterpriseNumber: pen})
		rec := Record{Line: line, Seq: seq, Run: run, Level: zerolog.Level(level), Kind: kind}
		ts := AppendTimestamp(nil, testTime)
		msg := fm.Append(nil, ts, &rec)
		p, err := parse5424(msg)
		if err != nil {
			t.Fatalf("invalid message %q: %v", msg, err)
		}
		facility := Facility(fac)
		if facility == 0 || facility > Local7 {
			facility = Daemon
		}
		if want := int(facility)*8 + int(SeverityOf(rec.Level)); p.pri != want {
			t.Errorf("PRI %d, want %d", p.pri, want)
		}
		want := bytes.TrimSuffix(line, []byte("\n"))
		if p.msg != string(want) || p.ts != string(ts) || p.procid != "99" || p.app != "ctwatch" {
			t.Errorf("message %q does not carry line %q, ts %q", msg, line, ts)
		}
		if p.sd != (pen != 0) || (p.sd && (p.seq != strconv.FormatUint(seq, 10) || p.run != run)) {
			t.Errorf("structured data of %q: seq %q run %q, want %d %q", msg, p.seq, p.run, seq, run)
		}
		framed, _ := AppendFrame([]byte("prev"), OctetCounting, msg)
		sp := bytes.IndexByte(framed[4:], ' ')
		n, err := strconv.Atoi(string(framed[4 : 4+sp]))
		if err != nil || n != len(framed)-4-sp-1 || !bytes.Equal(framed[4+sp+1:], msg) {
			t.Fatalf("octet-counted frame %q does not count %d bytes", framed, len(msg))
		}
		lf, ok := AppendFrame(nil, LineFeed, msg)
		if ok != (bytes.IndexByte(msg, '\n') < 0) {
			t.Fatalf("line-feed framing of %q: ok %v", msg, ok)
		}
		if ok && (bytes.IndexByte(lf, '\n') != len(lf)-1) {
			t.Fatalf("line-feed frame %q is not one line", lf)
		}
		if dg, _ := AppendFrame(nil, Datagram, msg); !bytes.Equal(dg, msg) {
			t.Fatalf("datagram %q, want %q", dg, msg)
		}
	})
}

func BenchmarkFormat(b *testing.B) {
	f := NewFormat(FormatConfig{Hostname: "node-1", ProcID: 4242})
	rec := Record{Line: benchLine(1), Seq: 1, Run: "6f1c0c1e-8d4b-4f43-9b8e-2a0c5b0e7d11", Kind: "new"}
	buf := make([]byte, 0, 4096)
	frame := make([]byte, 0, 4096)
	var ts [TimestampLen]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(rec.Line)))
	for b.Loop() {
		AppendTimestamp(ts[:0], testTime)
		buf = f.Append(buf[:0], ts[:], &rec)
		frame, _ = AppendFrame(frame[:0], OctetCounting, buf)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// benchLine is a flow record of the size ctwatch writes (about 450 bytes).
func benchLine(seq uint64) []byte {
	return fmt.Appendf(nil, `{"level":"info","seq":%d,"run":"6f1c0c1e-8d4b-4f43-9b8e-2a0c5b0e7d11","type":"new","time":"2026-12-07T05:41:42.123456Z","proto":"tcp","src":"10.0.3.17","dst":"93.184.216.34","sport":51234,"dport":443,"state":"SYN_SENT","mark":0,"zone":0,"id":3735928559,"timeout":120,"reply":{"src":"93.184.216.34","dst":"10.0.3.17","sport":443,"dport":51234},"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","netns":"host"}`, seq)
}

func FuzzAppendTimestamp(f *testing.F) {
	f.Add(testTime.UnixNano())
	f.Add(int64(0))
	f.Fuzz(func(t *testing.T, ns int64) {
		tm := time.Unix(0, ns)
		if y := tm.UTC().Year(); y < 0 || y > 9999 {
			t.Skip()
		}
		got := string(AppendTimestamp(nil, tm))
		if want := tm.UTC().Format("2006-01-02T15:04:05.000000Z"); got != want {
			t.Fatalf("AppendTimestamp(%v) = %q, want %q", tm, got, want)
		}
	})
}
