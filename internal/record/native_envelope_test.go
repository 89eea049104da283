package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/health"
	"github.com/ctwatch/ctwatch/internal/record"
)

// lockedBuffer is a bytes.Buffer for writers on several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestSeqOrder: records written from several goroutines at once (the watch
// loop and the health monitor share an encoder) reach the output in the
// order of their sequence numbers, 1..N without a hole or a repeat, and
// Seq is N; a record its level filters out takes no number.
func TestSeqOrder(t *testing.T) {
	const writers, each = 4, 300
	var out lockedBuffer
	enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&out).Level(zerolog.InfoLevel), Clock: time.Now})
	ev := fullEvent()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				switch (g + i) % 4 {
				case 0:
					enc.Entry(&ev, nil)
				case 1:
					enc.Health(&health.Record{Kind: health.KindStats, Count: 1, Max: 2})
				case 2:
					enc.Gap(&record.Gap{Stage: record.StageOutput, Lost: 1, Total: 1})
				case 3:
					enc.Heartbeat(&record.Heartbeat{Written: enc.Seq()})
				}
				enc.Reconcile(&record.Reconcile{Reason: "periodic"}) // debug: filtered out
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(out.b.String()), "\n")
	var got, want []uint64
	for i, l := range lines {
		var r struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, l)
		}
		got = append(got, r.Seq)
		want = append(want, uint64(i+1))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sequence numbers in output order (-want +got):\n%s", diff)
	}
	if n := enc.Seq(); n != writers*each || len(lines) != writers*each {
		t.Errorf("Seq %d, %d records; want %d of each", n, len(lines), writers*each)
	}
}

// TestHeartbeatJSON pins the native heartbeat record.
func TestHeartbeatJSON(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	enc := record.New(record.Config{Run: testRun, Host: testHost, Log: zerolog.New(&buf), Clock: func() time.Time { return now }})
	enc.Heartbeat(&record.Heartbeat{Uptime: 61500 * time.Millisecond, New: 1, Update: 2, Destroy: 3, Written: 0,
		LostKernel: 4, LostOutput: 5, QueueDepth: 6})
	want := `{"level":"info","time":"2026-11-22T05:00:00.000000000Z","event":"heartbeat","seq":1,"run":"run-1","host":{"name":"host-1"},` +
		`"uptime_s":61.5,"events":{"new":1,"update":2,"destroy":3},"written":0,"lost":{"kernel":4,"output":5},"queue":6}` + "\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestHostEscaped: a host name that JSON must escape comes out escaped.
func TestHostEscaped(t *testing.T) {
	var buf bytes.Buffer
	record.New(record.Config{Host: `a"b\c`, Log: zerolog.New(&buf)}).StatsError(errors.New("timeout"))
	var r struct {
		Host struct{ Name string }
	}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if r.Host.Name != `a"b\c` {
		t.Errorf("host.name %q, want %q", r.Host.Name, `a"b\c`)
	}
}
