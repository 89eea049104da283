package jetstream

import (
	"context"
	"errors"
	"fmt"
	"github.com/ctwatch/ctwatch/internal/servertest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

const testRun = "7d9c1a4e-5b2f-4c3d-8e1a-000000000001"

func testRecord(run string, seq uint64) Record {
	return Record{RunID: run, Seq: seq, Data: fmt.Appendf(nil,
		`{"time":"2026-12-07T05:00:00Z","level":"info","run":%q,"seq":%d,"event":"new","proto":"tcp","src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":443}`,
		run, seq)}
}

func newPublisher(t testing.TB, url, subject string, tweak func(*Config)) *Publisher {
	t.Helper()
	cfg := Config{Target: Target{Server: url, Subject: subject}, AckTimeout: 2 * time.Second, Logger: zerolog.Nop()}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// patientAcks is a newPublisher tweak for tests that count publishes and
// duplicates exactly: an ack timeout long enough that no publish is
// retried for slowness.
func patientAcks(c *Config) { c.AckTimeout = time.Minute }

// publishAll runs p over recs and returns the results in the order Run
// reported them; hook, if not nil, is called on Run's goroutine after each
// result with the count so far.
func publishAll(t testing.TB, p *Publisher, recs []Record, hook func(n int)) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Batches of 1, 7 and 64 records in turn: what a feeder sends from a
	// slow queue and a busy one, some larger than a test's window.
	in := make(chan []Record, 1024)
	go func() {
		defer close(in)
		sizes := []int{1, 7, 64}
		for i, k := 0, 0; i < len(recs); k++ {
			j := min(i+sizes[k%len(sizes)], len(recs))
			select {
			case in <- recs[i:j]:
			case <-ctx.Done():
				return
			}
			i = j
		}
	}()
	var results []Result
	err := p.Run(ctx, in, func(r Result) {
		results = append(results, r)
		if hook != nil {
			hook(len(results))
		}
	})
	if err != nil {
		t.Fatalf("run: %v (after %d results, stats %+v)", err, len(results), p.Stats())
	}
	return results
}

func records(run string, lo, hi uint64) []Record {
	var recs []Record
	for s := lo; s <= hi; s++ {
		recs = append(recs, testRecord(run, s))
	}
	return recs
}

// okResults is what Run reports when every record of lo..hi is stored.
func okResults(lo, hi uint64) []Result {
	var rs []Result
	for s := lo; s <= hi; s++ {
		rs = append(rs, Result{Seq: s})
	}
	return rs
}

func checkResults(t testing.TB, want, got []Result) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return (a == nil) == (b == nil) })); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

func fleetStream(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       "CTWATCH",
		Subjects:   []string{"ctwatch.>"},
		Storage:    jetstream.FileStorage,
		Replicas:   replicas,
		Duplicates: 10 * time.Minute,
	}
}

func TestPublishStoresEveryRecordOnceInOrder(t *testing.T) {
	s := servertest.StartNATS(t, t.TempDir(), -1, nil)
	url := s.ClientURL()
	js := servertest.JetStream(t, url)
	servertest.AddStream(t, js, fleetStream(1))
	// No publish may time out here (the test counts every publish once):
	// a loaded machine under -race can take seconds over a window's acks.
	p := newPublisher(t, url, "ctwatch.host1", patientAcks)

	name, err := p.CheckStream(context.Background())
	if err != nil || name != "CTWATCH" {
		t.Fatalf("CheckStream = %q, %v; want CTWATCH, nil", name, err)
	}
	const n = 5000
	checkResults(t, okResults(1, n), publishAll(t, p, records(testRun, 1, n), nil))
	checkStored(t, js, "CTWATCH", wantIDs(testRun, 1, n))
	st := p.Stats()
	if st.Acked != n || st.Duplicates != 0 || st.Refused != 0 || st.Published != n {
		t.Errorf("stats %+v: want %d acked and published, no duplicates, none refused", st, n)
	}
	if want := uint64(len(testRecord(testRun, 1).Data)) * 9; st.Bytes < want {
		t.Errorf("stats: %d bytes acked, want more than %d", st.Bytes, want)
	}
}

// A record published again with its Msg-Id (as a restarted ctwatch does
// with its spool) is stored once.
func TestRepublishedRecordsStoredOnce(t *testing.T) {
	s := servertest.StartNATS(t, t.TempDir(), -1, nil)
	js := servertest.JetStream(t, s.ClientURL())
	servertest.AddStream(t, js, fleetStream(1))

	first := newPublisher(t, s.ClientURL(), "ctwatch.host1", patientAcks)
	checkResults(t, okResults(1, 100), publishAll(t, first, records(testRun, 1, 100), nil))
	first.Close()

	again := newPublisher(t, s.ClientURL(), "ctwatch.host1", patientAcks)
	checkResults(t, okResults(51, 150), publishAll(t, again, records(testRun, 51, 150), nil))
	checkStored(t, js, "CTWATCH", wantIDs(testRun, 1, 150))
	if st := again.Stats(); st.Duplicates != 50 || st.Acked != 100 {
		t.Errorf("stats %+v: want 100 acked of which 50 duplicates", st)
	}
}

func TestCheckStreamWithoutStream(t *testing.T) {
	s := servertest.StartNATS(t, t.TempDir(), -1, nil)
	p := newPublisher(t, s.ClientURL(), "ctwatch.host1", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.CheckStream(ctx)
	var nse *NoStreamError
	if !errors.As(err, &nse) {
		t.Fatalf("CheckStream: %v, want a *NoStreamError", err)
	}
	if nse.Subject != "ctwatch.host1" || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("error %#v: want subject ctwatch.host1, matching jetstream.ErrStreamNotFound", nse)
	}
	if msg := err.Error(); !strings.Contains(msg, `"ctwatch.host1"`) || !strings.Contains(msg, "nats stream add") {
		t.Errorf("error %q should name the subject and how to create the stream", msg)
	}
}

// Publishes fail (no stream answers) and are retried until the operator
// creates the stream; then each record is stored once, in order.
func TestRetriedUntilStreamExists(t *testing.T) {
	s := servertest.StartNATS(t, t.TempDir(), -1, nil)
	js := servertest.JetStream(t, s.ClientURL())
	p := newPublisher(t, s.ClientURL(), "ctwatch.host1", nil)
	created := createStreamOnFailure(p, js)
	const n = 300
	checkResults(t, okResults(1, n), publishAll(t, p, records(testRun, 1, n), nil))
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	// The stream appeared while records were in flight: those sent after
	// it did are stored before the earlier ones' retries (package doc).
	checkStoredOnce(t, js, "CTWATCH", wantIDs(testRun, 1, n))
	if st := p.Stats(); st.Failures == 0 || st.Retries == 0 {
		t.Errorf("stats %+v: want failures and retries", st)
	}
}

// Publishes that nobody answers (a plain subscriber takes the subject, so
// the server says no "no responders" either) time out and are retried with
// their Msg-Id until a stream takes the subject: each stored once.
func TestUnansweredPublishesTimeOutAndAreRetried(t *testing.T) {
	s := servertest.StartNATS(t, t.TempDir(), -1, nil)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe("ctwatch.host1", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js := servertest.JetStream(t, s.ClientURL())
	p := newPublisher(t, s.ClientURL(), "ctwatch.host1", func(c *Config) { c.AckTimeout = 200 * time.Millisecond })
	created := createStreamOnFailure(p, js)
	const n = 300
	start := time.Now()
	checkResults(t, okResults(1, n), publishAll(t, p, records(testRun, 1, n), nil))
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	checkStoredOnce(t, js, "CTWATCH", wantIDs(testRun, 1, n))
	st := p.Stats()
	if st.Failures < n || st.Retries < n {
		t.Errorf("stats %+v: want every record's first attempt failed (timed out) and retried", st)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("done in %v, before the first ack timeout", took)
	}
}

func TestRefusedRecordsSkipped(t *testing.T) {
	big := func(seq uint64, size int) Record {
		return Record{RunID: testRun, Seq: seq, Data: []byte(`{"pad":"` + strings.Repeat("x", size) + `"}`)}
	}
	for _, tc := range []struct {
		name   string
		server func(*server.Options)
		stream func(*jetstream.StreamConfig)
		cause  error
	}{
		{
			name:   "server max payload",
			server: func(o *server.Options) { o.MaxPayload = 2048 },
			cause:  nats.ErrMaxPayload,
		},
		{
			name:   "stream max message size",
			stream: func(c *jetstream.StreamConfig) { c.MaxMsgSize = 2048 },
			cause:  jetstream.ErrStreamMessageExceedsMaximum,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servertest.StartNATS(t, t.TempDir(), -1, tc.server)
			js := servertest.JetStream(t, s.ClientURL())
			cfg := fleetStream(1)
			if tc.stream != nil {
				tc.stream(&cfg)
			}
			servertest.AddStream(t, js, cfg)
			p := newPublisher(t, s.ClientURL(), "ctwatch.host1", nil)
			recs := records(testRun, 1, 10)
			recs[4] = big(5, 4000)
			got := publishAll(t, p, recs, nil)
			want := okResults(1, 10)
			want[4].Err = ErrRefused
			checkResults(t, want, got)
			var re *RefusedError
			if !errors.As(got[4].Err, &re) || re.Seq != 5 || !errors.Is(re, ErrRefused) || !errors.Is(re, tc.cause) {
				t.Errorf("result 5: %v, want a *RefusedError of seq 5 matching ErrRefused and %v", got[4].Err, tc.cause)
			}
			ids := wantIDs(testRun, 1, 10)
			checkStored(t, js, "CTWATCH", append(ids[:4:4], ids[5:]...))
			if st := p.Stats(); st.Refused != 1 || st.Acked != 9 {
				t.Errorf("stats %+v: want 1 refused, 9 acked", st)
			}
		})
	}
}

// The embedded server is shut down with records in flight and a new one
// started on the same store and port: every record is stored once, in
// order.
func TestServerRestartMidStream(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartNATS(t, dir, -1, nil)
	port := servertest.NATSPort(s)
	url := s.ClientURL()
	js := servertest.JetStream(t, url)
	servertest.AddStream(t, js, fleetStream(1))
	p := newPublisher(t, url, "ctwatch.host1", nil)
	const n = 20000
	results := publishAll(t, p, records(testRun, 1, n), func(got int) {
		if got == 5000 {
			s.Shutdown()
			s.WaitForShutdown()
			servertest.StartNATS(t, dir, port, nil)
		}
	})
	checkResults(t, okResults(1, n), results)
	checkStored(t, js, "CTWATCH", wantIDs(testRun, 1, n))
	st := p.Stats()
	if st.Disconnects == 0 || st.Reconnects == 0 || st.ReconnectAttempts == 0 {
		t.Errorf("stats %+v: want disconnects, reconnect attempts and reconnects counted", st)
	}
	t.Logf("stats %+v", st)
}

// A nats-server process is SIGKILLed with records in flight and restarted
// on its store and port while the publisher goes on: every record is stored
// once, in order, acked ones included. Both with the server's default
// sync_interval (from 2.10 a single server writes a record to its file
// before it acks it: a SIGKILL loses nothing, a power cut may) and with
// sync_interval: always (fsynced before the ack), as docs/delivery.md says.
func TestNATSServerKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server and starts it four times")
	}
	bin := servertest.BuildNATS(t)
	for _, tc := range []struct {
		name       string
		syncAlways bool
	}{
		{name: "default sync", syncAlways: false},
		{name: "sync always", syncAlways: true},
	} {
		t.Run(tc.name, func(t *testing.T) { testKilledMidStream(t, bin, tc.syncAlways) })
	}
}

func testKilledMidStream(t *testing.T, bin string, syncAlways bool) {
	dir := t.TempDir()
	port := servertest.FreeTCPPort(t)
	conf := servertest.NATSConfig(t, dir, port, syncAlways)
	// servers receives each server started; the cleanup kills them all,
	// the restarted one included even when the test fails before it is up.
	servers := make(chan *servertest.NATSProcess, 2)
	t.Cleanup(func() {
		for len(servers) > 0 {
			s := <-servers
			s.Kill()
			if t.Failed() {
				t.Logf("nats-server output:\n%s", s.Output())
			}
		}
	})
	first, err := servertest.RunNATS(bin, conf)
	if err != nil {
		t.Fatal(err)
	}
	servers <- first
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	js := servertest.JetStream(t, url)
	servertest.AddStream(t, js, fleetStream(1))
	p := newPublisher(t, url, "ctwatch.host1", nil)
	const n, killAt = 10000, 3000
	// Killed from another goroutine while Run has records in flight, and
	// restarted at once while Run goes on.
	restarted := make(chan error, 1)
	var atKill Stats
	go func() {
		var ok bool
		atKill, ok = waitInFlight(p, killAt, 200)
		first.Kill()
		if !ok {
			restarted <- fmt.Errorf("never %d records in flight past %d acked: %+v", 200, killAt, atKill)
			return
		}
		s, err := servertest.RunNATS(bin, conf)
		if err == nil {
			servers <- s
		}
		restarted <- err
	}()
	t.Cleanup(func() { <-restarted }) // no server left starting behind the test's back
	results := publishAll(t, p, records(testRun, 1, n), nil)
	if err := <-restarted; err != nil {
		t.Fatalf("kill and restart: %v", err)
	}
	restarted <- nil // for the cleanup
	checkResults(t, okResults(1, n), results)
	checkStored(t, js, "CTWATCH", wantIDs(testRun, 1, n))
	st := p.Stats()
	if st.Disconnects == 0 || st.Reconnects == 0 || st.Retries == 0 {
		t.Errorf("stats %+v: want the kill seen as a disconnect and a reconnect, and records in flight sent again", st)
	}
	t.Logf("killed with %d acked, %d attempts unanswered; stats %+v", atKill.Acked, atKill.Published-atKill.Acked, st)
}

// waitInFlight waits until p has acked at least acked records and has at
// least inFlight more published, and returns its stats then; false when
// that does not happen within 30 s.
func waitInFlight(p *Publisher, acked, inFlight uint64) (Stats, bool) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := p.Stats()
		if st.Acked >= acked && st.Published >= st.Acked+inFlight {
			return st, true
		}
		if time.Now().After(deadline) {
			return st, false
		}
		time.Sleep(100 * time.Microsecond) // polling counters: no event to wait on
	}
}

// A 3-node cluster with an R3 stream loses a node mid-stream, the stream's
// leader or the node the publisher is connected to: delivery goes on and
// every record is stored once. The order in the stream is the records'
// order except for records in flight at the loss: a publish that the old
// leader never answered is retried after later ones the new leader stored
// (records carry their seq, by which a consumer orders them).
func TestClusterLosesNode(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster takes seconds to form")
	}
	for _, tc := range []struct {
		name string
		// lose picks the node to shut down and the one the publisher
		// connects to, given the stream leader's index.
		lose func(leader int) (lost, conn int)
	}{
		{name: "stream leader", lose: func(l int) (int, int) { return l, (l + 1) % 3 }},
		{name: "connected follower", lose: func(l int) (int, int) { return (l + 1) % 3, (l + 1) % 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t)
			var urls []string
			for _, s := range nodes {
				urls = append(urls, s.ClientURL())
			}
			js := servertest.JetStream(t, strings.Join(urls, ","))
			servertest.AddStream(t, js, fleetStream(3))
			leader := streamLeader(t, js, nodes)
			lost, conn := tc.lose(leader)

			p := newPublisher(t, nodes[conn].ClientURL(), "ctwatch.host1", nil)
			const n, loseAt = 10000, 3000
			// Shut down while Run has records in flight.
			shut := make(chan Stats, 1)
			go func() {
				st, ok := waitInFlight(p, loseAt, 200)
				nodes[lost].Shutdown()
				if !ok {
					t.Errorf("never %d records in flight past %d acked: %+v", 200, loseAt, st)
				}
				shut <- st
			}()
			results := publishAll(t, p, records(testRun, 1, n), nil)
			atLoss := <-shut
			acked := atLoss.Acked
			checkResults(t, okResults(1, n), results)
			// Read through a node that stayed up.
			moved := checkStoredOnce(t, servertest.JetStream(t, nodes[(lost+1)%3].ClientURL()), "CTWATCH", wantIDs(testRun, 1, n))
			if acked >= n {
				t.Errorf("every record acked before %s was shut down: nothing tested", nodes[lost].Name())
			}
			st := p.Stats()
			if tc.name == "connected follower" && st.Reconnects == 0 {
				t.Errorf("stats %+v: want a reconnect to another node", st)
			}
			t.Logf("lost %s (stream leader %s) with %d acked, %d attempts unanswered; %d records stored out of place; stats %+v",
				nodes[lost].Name(), nodes[leader].Name(), acked, atLoss.Published-atLoss.Acked, moved, st)
		})
	}
}

// startCluster starts a 3-node JetStream cluster of embedded servers and
// waits for its meta leader.
func startCluster(t testing.TB) []*server.Server {
	t.Helper()
	clientPorts := []int{servertest.FreeTCPPort(t), servertest.FreeTCPPort(t), servertest.FreeTCPPort(t)}
	routePorts := []int{servertest.FreeTCPPort(t), servertest.FreeTCPPort(t), servertest.FreeTCPPort(t)}
	var routes []string
	for _, rp := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", rp))
	}
	var nodes []*server.Server
	for i := range 3 {
		nodes = append(nodes, startClusterNode(t, i, clientPorts[i], routePorts[i], routes))
	}
	waitMetaLeader(t, nodes)
	return nodes
}

// streamLeader returns the index in nodes of the CTWATCH stream's leader.
func streamLeader(t testing.TB, js jetstream.JetStream, nodes []*server.Server) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "CTWATCH")
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	name := s.CachedInfo().Cluster.Leader
	for i, n := range nodes {
		if n.Name() == name {
			return i
		}
	}
	t.Fatalf("stream leader %q is none of the nodes", name)
	return -1
}

// waitMetaLeader waits until the cluster has elected a JetStream meta
// leader that sees every node with JetStream, and every node is current
// with it: before that a stream create request goes unanswered until its
// deadline, or finds too few peers for three replicas.
func waitMetaLeader(t testing.TB, nodes []*server.Server) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		leaders, current := 0, 0
		for _, s := range nodes {
			// Only the leader lists the peers.
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(nodes) {
				leaders++
			}
			if s.JetStreamIsCurrent() {
				current++
			}
		}
		if leaders == 1 && current == len(nodes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream meta leader after 60 s (%d leaders, %d nodes current)", leaders, current)
		}
		time.Sleep(20 * time.Millisecond) // polling: the server has no election event to wait on
	}
}

func startClusterNode(t testing.TB, i, port, routePort int, routes []string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: fmt.Sprintf("n%d", i+1),
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		Cluster:    server.ClusterOpts{Name: "ctw", Host: "127.0.0.1", Port: routePort},
		Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("cluster node %d not ready", i+1)
	}
	return s
}

// createStreamOnFailure creates the fleet stream once p has seen a failed
// publish, and sends the result.
func createStreamOnFailure(p *Publisher, js jetstream.JetStream) <-chan error {
	created := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(time.Minute)
		for p.Stats().Failures == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling a counter: no event to wait on
		}
		created <- servertest.CreateStream(js, fleetStream(1))
	}()
	return created
}
