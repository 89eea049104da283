//go:build integration

package integration

import (
	"github.com/google/go-cmp/cmp"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/ctstat"
	"github.com/ctwatch/ctwatch/internal/doctor"
	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/internal/record"
)

// maxFillable bounds the nf_conntrack_max this test is willing to fill.
// nf_conntrack_max is global and read-only outside the initial namespace on
// this kernel, so rather than lower the host's limit the test fills its own
// namespace's table to it: each namespace counts its own entries against
// the global limit.
const maxFillable = 1 << 21

// healthRecord is a health record as the watch loop writes it.
type healthRecord struct {
	Level     string            `json:"level"`
	Event     string            `json:"event"`
	Count     uint32            `json:"count"`
	Max       uint32            `json:"max"`
	Fill      float64           `json:"fill"`
	Threshold float64           `json:"threshold"`
	Delta     map[string]uint64 `json:"delta"`
	Hint      string            `json:"hint"`
	Top       *struct {
		Src []struct {
			Addr    string `json:"addr"`
			Entries int    `json:"entries"`
		} `json:"src"`
		DPort []struct {
			Proto   string `json:"proto"`
			Port    uint16 `json:"port"`
			Entries int    `json:"entries"`
		} `json:"dport"`
		Scanned int  `json:"scanned"`
		Sampled bool `json:"sampled"`
	} `json:"top"`
}

// check runs one Monitor check and returns its records as written with
// the record encoder and read back.
func check(t *testing.T, m *health.Monitor) []healthRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	enc := record.New(record.Config{Log: zerolog.New(&buf)})
	if err := m.Check(ctx, func(r health.Record) { enc.Health(&r) }); err != nil {
		t.Fatal(err)
	}
	var recs []healthRecord
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r healthRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func healthEventNames(recs []healthRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Event)
	}
	return out
}

// TestHealthTableFull fills a namespace's table to nf_conntrack_max with
// entries that cannot be early-dropped, one source address holding most of
// them, then sends real traffic. It checks that the Monitor, reading the
// real table, warns at 80, 90 and 95 % naming that source, that `ctwatch
// stats` shows the table at its limit with the drop counter growing, that
// the Monitor reports the drops, and that doctor fails the table.
func TestHealthTableFull(t *testing.T) {
	ns := nstest.New(t)
	ns.EnableTracking()

	h := ns.Handle()
	read := func(ctx context.Context) (ctstat.Reading, error) { return ctstat.Read(ctx, h) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	r0, err := read(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	max := int(r0.Max)
	if max == 0 || max > maxFillable {
		nstest.Skip(t, "nf_conntrack_max is %d: this test fills tables of at most %d entries", max, maxFillable)
	}

	// 60 % of the entries come from one source to udp/443, the rest each
	// from its own source to udp/53. Destinations number the entries, so
	// every tuple is unique.
	hog := netip.MustParseAddr("10.1.0.1")
	flows := make([]bulkFlow, max+1)
	for i := range flows {
		dst := netip.AddrFrom4([4]byte{172, byte(16 + i>>16), byte(i >> 8), byte(i)})
		if i%10 < 6 {
			flows[i] = bulkFlow{src: hog, dst: dst, sport: 40000, dport: 443}
		} else {
			flows[i] = bulkFlow{src: netip.AddrFrom4([4]byte{10, byte(2 + i>>16), byte(i >> 8), byte(i)}), dst: dst, sport: 40000, dport: 53}
		}
	}

	const maxDump = 50_000
	m := health.NewMonitor(health.Config{
		Interval:   time.Second,
		Thresholds: health.Thresholds{80, 90, 95},
		TopN:       3,
		MaxDump:    maxDump,
	}, read, dumpFunc(ns))
	// A namespace whose conntrack never tracked a packet also says so.
	if diff := cmp.Diff([]string{"stats", "not_tracking"}, healthEventNames(check(t, m))); diff != "" {
		t.Fatalf("empty table: records (-want +got):\n%s", diff)
	}
	// The binary watches the same fill end to end. It subscribes to
	// DESTROY only, so that the fill's quarter million NEW events do not
	// bury its health records.
	w := wtStart(t, "watch", "--netns", ns.Name, "--events", "destroy", "--stats-interval", "100ms", "--table-warn", "80,90,95")
	wtPressure := func(th float64) {
		t.Helper()
		r, _ := w.waitRecord(fmt.Sprintf("watch's table_pressure at %v %%", th), func(r map[string]any) bool {
			return r["event"] == "table_pressure" && r["threshold"] == th
		})
		top, _ := r["top"].(map[string]any)
		src, _ := top["src"].([]any)
		if len(src) == 0 || src[0].(map[string]any)["addr"] != hog.String() || r["level"] != "warn" {
			t.Errorf("watch's table_pressure at %v %%: %v; want a warning naming %s first", th, r, hog)
		}
	}

	created := 0
	for _, th := range []float64{80, 90, 95} {
		target := int(math.Ceil(float64(max) * th / 100))
		n, full := createBulk(t, ns, flows[created:target])
		created += n
		if full || created != target {
			t.Fatalf("filling to %v %%: created %d of %d, table full: %v", th, created, target, full)
		}
		recs := check(t, m)
		if diff := strings.Join(healthEventNames(recs), ","); diff != "stats,table_pressure" {
			t.Fatalf("at %v %%: records %s, want stats,table_pressure", th, diff)
		}
		p := recs[1]
		if p.Level != "warn" || p.Threshold != th || p.Count != uint32(created) || p.Max != uint32(max) {
			t.Errorf("at %v %%: pressure record %+v", th, p)
		}
		if p.Top == nil || len(p.Top.Src) == 0 || len(p.Top.DPort) == 0 {
			t.Fatalf("at %v %%: no top holders: %+v", th, p)
		}
		if p.Top.Src[0].Addr != hog.String() || p.Top.DPort[0].Proto != "udp" || p.Top.DPort[0].Port != 443 {
			t.Errorf("at %v %%: top source %+v, top port %+v; want %s and udp/443", th, p.Top.Src[0], p.Top.DPort[0], hog)
		}
		if !p.Top.Sampled || p.Top.Scanned != maxDump {
			t.Errorf("at %v %%: scanned %d, sampled %v; want a sample of %d", th, p.Top.Scanned, p.Top.Sampled, maxDump)
		}
		wtPressure(th)
	}

	// The rest of the table, then one more: refused for want of room.
	n, full := createBulk(t, ns, flows[created:])
	created += n
	if !full || created != max {
		t.Fatalf("created %d entries of a %d-entry table, table full: %v", created, max, full)
	}

	before := statsOf(t, "--netns", ns.Name)
	if *before.Count != uint32(max) || *before.Fill != 100 {
		t.Fatalf("full table: stats says count %d fill %v", *before.Count, *before.Fill)
	}

	// Real traffic: each datagram to a new port is a new flow, for which
	// the kernel finds no room and drops the packet.
	const datagrams = 50
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for p := range datagrams {
			// The kernel refuses the send (EPERM) when it drops the
			// packet; that refusal is the point.
			unix.Sendto(fd, []byte("ping"), 0, &unix.SockaddrInet4{Port: 20000 + p, Addr: [4]byte{127, 0, 0, 1}})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var after statsJSON
	waitFor(t, "the drop counter to count the datagrams", func() bool {
		after = statsOf(t, "--netns", ns.Name)
		return after.Stats["drop"] >= before.Stats["drop"]+datagrams
	})
	if *after.Count != uint32(max) {
		t.Errorf("after traffic: count %d, want %d", *after.Count, max)
	}

	recs := check(t, m)
	if got := strings.Join(healthEventNames(recs), ","); got != "stats,drops" {
		t.Fatalf("after traffic: records %s, want stats,drops", got)
	}
	d := recs[1]
	if d.Level != "warn" || d.Delta["drop"] < datagrams || !strings.Contains(d.Hint, "nf_conntrack_max") || !strings.Contains(d.Hint, "notrack") {
		t.Errorf("drops record %+v", d)
	}
	if recs[0].Delta["drop"] != d.Delta["drop"] {
		t.Errorf("stats delta drop %d, drops record %d", recs[0].Delta["drop"], d.Delta["drop"])
	}

	r, _ := w.waitRecord("watch's drops record", func(r map[string]any) bool { return r["event"] == "drops" })
	if delta, _ := r["delta"].(map[string]any); r["level"] != "warn" || delta["drop"] == nil || delta["drop"].(float64) < 1 {
		t.Errorf("watch's drops record %v", r)
	}

	rep, status := doctorOf(t, ns.Name)
	if got := statuses(rep, "table_fill", "drops"); got["table_fill"] != doctor.Fail || got["drops"] != doctor.Warn || status != 1 {
		t.Errorf("doctor on a full table: %v, exit %d; want table_fill fail, drops warn, exit 1", got, status)
	}
}
