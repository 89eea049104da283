//go:build integration

package ctstat

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nstest"
)

// TestReaderKeepsSocket takes readings of a namespace through one Reader:
// each sees the table as it is then, a reading abandoned at its deadline
// leaves the next one working (on a fresh socket), and a closed Reader
// opens anew.
func TestReaderKeepsSocket(t *testing.T) {
	ns := nstest.New(t)
	ns.EnableTracking()
	rd := NewReader(ns.Handle())
	t.Cleanup(func() { _ = rd.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	read := func(want uint32) {
		t.Helper()
		r, err := rd.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if r.Count != want || r.Buckets == 0 || len(r.PerCPU) == 0 {
			t.Fatalf("reading: count %d buckets %d cpus %d, want count %d, buckets and cpus", r.Count, r.Buckets, len(r.PerCPU), want)
		}
	}
	read(0)
	first := rd.c
	ct := ns.Conntrack()
	for i := range 3 {
		f := conntrack.NewFlow(unix.IPPROTO_UDP, conntrack.StatusConfirmed,
			netip.MustParseAddr("10.9.0.1"), netip.AddrFrom4([4]byte{10, 9, 1, byte(i)}), 40000, 53, 600, 0)
		if err := ct.Create(f); err != nil {
			t.Fatalf("create flow: %v", err)
		}
	}
	read(3)
	conn := rd.c
	if conn != first {
		t.Error("each reading dialled a socket of its own")
	}

	expired, cancelExpired := context.WithDeadline(ctx, time.Unix(1, 0))
	defer cancelExpired()
	if _, err := rd.Read(expired); err == nil {
		t.Fatal("read with an expired deadline: no error")
	}
	read(3)
	if rd.c == conn {
		t.Error("the socket of a failed reading was kept")
	}
	if err := rd.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	read(3)
}
