//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ctwatch/ctwatch/internal/nstest"
	"github.com/ctwatch/ctwatch/internal/servertest"
)

// dlInsert makes n UDP entries in ns with ctnetlink, numbered from first by
// their source port: n NEW events, without traffic.
func dlInsert(ns *nstest.NS, first, n int) {
	for i := first; i < first+n; i++ {
		ns.Run("conntrack", "-I", "-p", "udp", "-s", "10.9.0.1", "-d", "10.9.0.2",
			"--sport", strconv.Itoa(10000+i), "--dport", "53", "-t", "60")
	}
}

// dlWaitNews reads stdout records until n NEW records came, and returns
// every record read.
func dlWaitNews(p *wtProc, n int) []map[string]any {
	p.t.Helper()
	var all []map[string]any
	news := 0
	for news < n {
		r, before := p.waitRecord(fmt.Sprintf("NEW record %d of %d", news+1, n), func(r map[string]any) bool { return r["event"] == "new" })
		all = append(append(all, before...), r)
		news++
	}
	return all
}

// dlStop stops ctwatch and returns the rest of its stdout records; the
// last must be the stop record.
func dlStop(t *testing.T, p *wtProc) []map[string]any {
	t.Helper()
	rest, code, _ := p.stop()
	if code != 0 && code != 128+int(syscall.SIGINT) {
		t.Errorf("exit status %d; stderr:\n%s", code, p.stderr.String())
	}
	var recs []map[string]any
	for _, l := range rest {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line is not JSON: %v: %q", err, l)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 || recs[len(recs)-1]["event"] != "stop" {
		t.Fatalf("stdout does not end with the stop record; stderr:\n%s", p.stderr.String())
	}
	return recs
}

// dlSeqs returns the seq of each JSON record.
func dlSeqs(t *testing.T, lines []string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, l := range lines {
		var r struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Seq == 0 {
			t.Fatalf("record without seq: %v: %q", err, l)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func dlRange(n uint64) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i + 1)
	}
	return s
}

// TestDeliverySyslog: with stdout, syslog over TCP and syslog over UDP as
// outputs at once, a real rsyslog gets every record on each input, each
// once, byte for byte as stdout has it, and the stop record says each
// output took them all.
func TestDeliverySyslog(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	rs := servertest.StartRsyslog(t)
	ns := nstest.New(t)
	p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--heartbeat", "0",
		"--output", "-", "--output", "syslog+tcp://"+rs.TCP, "--output", "syslog+udp://"+rs.UDP)
	_, recs := p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	const n = 150
	dlInsert(ns, 0, n)
	recs = append(recs, dlWaitNews(p, n)...)
	recs = append(recs, dlStop(t, p)...)
	stop := recs[len(recs)-1]
	last := uint64(stop["seq"].(float64))
	if got := uint64(len(recs)) + 1; got != last { // the dump record is not in recs
		t.Errorf("stdout: %d records, last seq %d", got, last)
	}
	byInput := map[string][]string{}
	for _, l := range rs.WaitRecords(2 * int(last)) {
		byInput[l.Input] = append(byInput[l.Input], l.Msg)
	}
	for _, in := range []string{"imtcp", "imudp"} {
		seqs := dlSeqs(t, byInput[in])
		slices.Sort(seqs)
		if diff := cmp.Diff(dlRange(last), seqs); diff != "" {
			t.Errorf("%s: sequence numbers (-want +got):\n%s", in, diff)
		}
	}
	for _, o := range stop["outputs"].([]any) {
		o := o.(map[string]any)
		if o["written"].(float64) != float64(last-1) || o["dropped"].(float64) != 0 {
			t.Errorf("stop record: output %v, want %d written (all before the stop record), none dropped", o, last-1)
		}
	}
}

// TestDeliverySyslogRestart: rsyslog stops while ctwatch runs and records
// keep coming; they wait in the output's queue and, once rsyslog is back,
// arrive in order: every record reaches rsyslog once, and the stream on
// stdout says the syslog output lost nothing.
func TestDeliverySyslogRestart(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	rs := servertest.StartRsyslog(t)
	ns := nstest.New(t)
	p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--heartbeat", "0",
		"--output", "-", "--output", "syslog+tcp://"+rs.TCP)
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	const n = 100
	dlInsert(ns, 0, n)
	dlWaitNews(p, n)
	rs.WaitRecords(n + 2) // start, dump and the NEW records: delivered before the stop
	rs.Stop()
	dlInsert(ns, n, n)
	dlWaitNews(p, n)
	start := time.Now()
	rs.Start()
	dlInsert(ns, 2*n, n)
	recs := dlWaitNews(p, n)
	// Delivered before the stop, whose flush is short.
	rs.WaitRecords(int(recs[len(recs)-1]["seq"].(float64)))
	recs = dlStop(t, p)
	stop := recs[len(recs)-1]
	last := uint64(stop["seq"].(float64))
	var lines []string
	for _, l := range rs.WaitRecords(int(last)) {
		if l.Input == "imtcp" {
			lines = append(lines, l.Msg)
		}
	}
	seqs := dlSeqs(t, lines)
	if diff := cmp.Diff(dlRange(last), seqs); diff != "" {
		t.Errorf("rsyslog's sequence numbers, in order of arrival (-want +got):\n%s", diff)
	}
	o := stop["outputs"].([]any)[1].(map[string]any)
	if o["dropped"].(float64) != 0 {
		t.Errorf("stop record: syslog output %v, want nothing dropped", o)
	}
	t.Logf("backlog delivered within %v of rsyslog's restart", time.Since(start))
}

// TestDeliveryJetStream: records published to a JetStream stream are stored
// once each, in order, with Nats-Msg-Id run-seq, also across a restart of
// the server on its store in the middle of the stream.
func TestDeliveryJetStream(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	dir := t.TempDir()
	srv := servertest.StartNATS(t, dir, -1, nil)
	port := servertest.NATSPort(srv)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	js := servertest.JetStream(t, url)
	servertest.AddStream(t, js, jetstream.StreamConfig{Name: "CTWATCH", Subjects: []string{"ctwatch.>"},
		Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute})
	ns := nstest.New(t)
	p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--heartbeat", "0",
		"--output", "-", "--output", url+"/ctwatch.test")
	start, _ := p.waitRecord("the start record", func(r map[string]any) bool { return r["event"] == "start" })
	run := start["run"].(string)
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	const n = 100
	dlInsert(ns, 0, n)
	dlWaitNews(p, n)
	srv.Shutdown()
	srv.WaitForShutdown()
	dlInsert(ns, n, n)
	dlWaitNews(p, n)
	servertest.StartNATS(t, dir, port, nil)
	dlInsert(ns, 2*n, n)
	recs := dlWaitNews(p, n)
	// The backlog goes out once the client has reconnected: wait for it
	// before the stop, whose flush is short (a memory queue's remainder
	// is lost at exit, and counted).
	js = servertest.JetStream(t, url)
	before := uint64(recs[len(recs)-1]["seq"].(float64))
	wtPoll(t, "the backlog in the stream", func() bool {
		return uint64(len(servertest.Stored(t, js, "CTWATCH"))) >= before
	})
	recs = dlStop(t, p)
	last := uint64(recs[len(recs)-1]["seq"].(float64))
	var msgs []servertest.StoredMsg
	wtPoll(t, "every record in the stream", func() bool {
		msgs = servertest.Stored(t, js, "CTWATCH")
		return uint64(len(msgs)) >= last
	})
	var ids, want []string
	var lines []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
		lines = append(lines, string(m.Data))
	}
	for i := uint64(1); i <= last; i++ {
		want = append(want, fmt.Sprintf("%s-%d", run, i))
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("stored Nats-Msg-Ids, in stream order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(dlRange(last), dlSeqs(t, lines)); diff != "" {
		t.Errorf("stored records' seq (-want +got):\n%s", diff)
	}
}

// TestDeliverySpoolCrash: with the JetStream server down, ctwatch spools
// its records and is killed (SIGKILL); started again on the same spool
// once the server is back, it delivers what the dead process had spooled,
// with that run's ids, then its own: the stream holds every record once.
func TestDeliverySpoolCrash(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	dir := t.TempDir()
	srv := servertest.StartNATS(t, dir, -1, nil)
	port := servertest.NATSPort(srv)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	servertest.AddStream(t, servertest.JetStream(t, url), jetstream.StreamConfig{Name: "CTWATCH",
		Subjects: []string{"ctwatch.>"}, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute})
	srv.Shutdown()
	srv.WaitForShutdown()

	spoolDir := t.TempDir()
	ns := nstest.New(t)
	// The nats output first: a record is in its spool before stdout has it.
	args := []string{"watch", "--netns", ns.Name, "--heartbeat", "0", "--spool", spoolDir,
		"--output", url + "/ctwatch.test", "--output", "-"}
	p := wtStartNoWait(t, args...)
	start, _ := p.waitRecord("the start record", func(r map[string]any) bool { return r["event"] == "start" })
	run1 := start["run"].(string)
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	const n = 100
	dlInsert(ns, 0, n)
	recs := dlWaitNews(p, n)
	seen1 := uint64(recs[len(recs)-1]["seq"].(float64))
	p.signal(syscall.SIGKILL)
	if _, code, _ := p.wait(time.Now()); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit status %d after SIGKILL", code)
	}

	servertest.StartNATS(t, dir, port, nil)
	p = wtStartNoWait(t, args...)
	start, _ = p.waitRecord("the start record", func(r map[string]any) bool { return r["event"] == "start" })
	run2 := start["run"].(string)
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	dlInsert(ns, n, n)
	dlWaitNews(p, n)
	recs = dlStop(t, p)
	last2 := uint64(recs[len(recs)-1]["seq"].(float64))
	if !strings.Contains(p.stderr.String(), "records of an earlier run wait in the spool") {
		t.Errorf("the second run did not say it found the first one's records; stderr:\n%s", p.stderr.String())
	}

	js := servertest.JetStream(t, url)
	var msgs []servertest.StoredMsg
	wtPoll(t, "the second run's records in the stream", func() bool {
		msgs = servertest.Stored(t, js, "CTWATCH")
		return len(msgs) > 0 && msgs[len(msgs)-1].ID == fmt.Sprintf("%s-%d", run2, last2)
	})
	count := map[string]int{}
	for _, m := range msgs {
		count[m.ID]++
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("%s stored %d times", id, c)
		}
	}
	for i := uint64(1); i <= seen1; i++ {
		if count[fmt.Sprintf("%s-%d", run1, i)] != 1 {
			t.Errorf("record %d of the killed run, spooled before it died, is not in the stream", i)
		}
	}
	for i := uint64(1); i <= last2; i++ {
		if count[fmt.Sprintf("%s-%d", run2, i)] != 1 {
			t.Errorf("record %d of the second run is not in the stream", i)
		}
	}
}

// TestDeliverySyslogQueueFull: rsyslog is down longer than the output's
// memory queue holds: the records that find it full are dropped, and the
// loss is counted exactly in the stream: once rsyslog is back, the records
// it received and the lost of the gap records naming the syslog output add
// up to every sequence number of the run, and stdout, which lost nothing,
// has the same gap records.
func TestDeliverySyslogQueueFull(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	rs := servertest.StartRsyslog(t)
	ns := nstest.New(t)
	name := "syslog+tcp://" + rs.TCP
	p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--heartbeat", "0", "--queue-max-bytes", "20000",
		"--output", "-", "--output", name)
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	rs.WaitRecords(2)
	rs.Stop()
	const n = 200
	dlInsert(ns, 0, n)
	recs := dlWaitNews(p, n)
	// The loss is said while rsyslog is still down.
	r, more := p.waitRecord("a gap record of the syslog output", func(r map[string]any) bool {
		return r["event"] == "gap" && r["output"] == name
	})
	recs = append(append(recs, more...), r)
	rs.Start()
	// What the queue kept goes out once the client has reconnected: wait
	// for it before the stop, whose flush is short.
	var sofar float64
	for _, r := range recs {
		if r["event"] == "gap" && r["output"] == name {
			sofar += r["lost"].(float64)
		}
	}
	rs.WaitRecords(int(recs[len(recs)-1]["seq"].(float64)) - int(sofar))
	recs = append(recs, dlStop(t, p)...)
	last := uint64(recs[len(recs)-1]["seq"].(float64))
	var lostStdout float64
	for _, r := range recs {
		if r["event"] == "gap" && r["output"] == name {
			lostStdout += r["lost"].(float64)
		}
	}
	got := rs.WaitRecords(int(last) - int(lostStdout))
	var lines []string
	for _, l := range got {
		if l.Input == "imtcp" {
			lines = append(lines, l.Msg)
		}
	}
	var lost float64
	for _, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r["event"] == "gap" && r["output"] == name {
			lost += r["lost"].(float64)
		}
	}
	if lost == 0 {
		t.Fatal("no loss: the queue did not fill")
	}
	if uint64(len(lines))+uint64(lost) != last {
		t.Errorf("rsyslog: %d records + %v lost in its gap records = %v, want every one of the %d", len(lines), lost, float64(len(lines))+lost, last)
	}
	if lost != lostStdout {
		t.Errorf("gap records of the syslog output: %v lost on rsyslog, %v on stdout", lost, lostStdout)
	}
	seqs := dlSeqs(t, lines)
	if !slices.IsSorted(seqs) {
		t.Errorf("rsyslog's records are out of order: %v", seqs)
	}
}

// TestDeliveryJetStreamNoStream: a subject no stream takes is said at
// start, with how to create the stream; the records wait, and reach the
// stream once the operator has made it.
func TestDeliveryJetStreamNoStream(t *testing.T) {
	nstest.RequireCommand(t, "conntrack")
	srv := servertest.StartNATS(t, t.TempDir(), -1, nil)
	url := fmt.Sprintf("nats://127.0.0.1:%d", servertest.NATSPort(srv))
	ns := nstest.New(t)
	p := wtStartNoWait(t, "watch", "--netns", ns.Name, "--heartbeat", "0", "--output", "-", "--output", url+"/ctwatch.late")
	p.waitRecord("the dump record", func(r map[string]any) bool { return r["event"] == "dump" })
	if s := p.stderr.String(); !strings.Contains(s, `no JetStream stream takes subject "ctwatch.late"`) || !strings.Contains(s, "nats stream add") {
		t.Errorf("stderr does not say that no stream takes the subject:\n%s", s)
	}
	dlInsert(ns, 0, 10)
	dlWaitNews(p, 10)
	js := servertest.JetStream(t, url)
	servertest.AddStream(t, js, jetstream.StreamConfig{Name: "LATE", Subjects: []string{"ctwatch.>"}, Duplicates: 10 * time.Minute})
	wtPoll(t, "the waiting records in the new stream", func() bool {
		return len(servertest.Stored(t, js, "LATE")) >= 12 // start, dump and the 10 NEW records
	})
	recs := dlStop(t, p)
	last := uint64(recs[len(recs)-1]["seq"].(float64))
	var msgs []servertest.StoredMsg
	wtPoll(t, "every record in the stream", func() bool {
		msgs = servertest.Stored(t, js, "LATE")
		return uint64(len(msgs)) >= last
	})
	var lines []string
	for _, m := range msgs {
		lines = append(lines, string(m.Data))
	}
	if diff := cmp.Diff(dlRange(last), dlSeqs(t, lines)); diff != "" {
		t.Errorf("stored records' seq (-want +got):\n%s", diff)
	}
}
