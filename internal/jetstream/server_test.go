package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Helpers that run real NATS servers for the tests: embedded ones (the same
// server as the nats-server binary, in process) and the binary itself.

// startServer starts an embedded JetStream server storing in dir, on port
// (-1: a random one), and shuts it down when t ends.
func startServer(t testing.TB, dir string, port int, tweak func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	if tweak != nil {
		tweak(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats server not ready after 10 s")
	}
	return s
}

func serverPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// requireCommand skips a test whose program is missing, except under CI
// (CI set), where it fails: a green CI run must have run it (the rule of
// internal/nstest, which unit tests cannot import).
func requireCommand(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("test cannot run under CI: needs %s (scripts/install-deps.sh installs it)", name)
		}
		t.Skipf("needs %s (scripts/install-deps.sh installs it)", name)
	}
	return path
}

// binaryServer is a nats-server process.
type binaryServer struct {
	cmd *exec.Cmd
}

// startBinary starts nats-server with JetStream storing in dir on port and
// waits until it accepts JetStream requests.
func startBinary(t testing.TB, path, dir string, port int) *binaryServer {
	t.Helper()
	cmd := exec.Command(path, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	b := &binaryServer{cmd: cmd}
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			t.Logf("nats-server output:\n%s", out.String())
		}
	})
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server not ready after 15 s: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
}

// kill sends SIGKILL and reaps the process.
func (b *binaryServer) kill() {
	if b.cmd.ProcessState != nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	_ = b.cmd.Wait()
}

// connect returns a JetStream client of url for the test's own checks.
func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func addStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, err := js.CreateStream(ctx, cfg)
		if err == nil {
			return
		}
		// A cluster that has just formed may have no meta leader yet.
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrJetStreamNotEnabled) &&
			!strings.Contains(err.Error(), "no suitable peers") && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("create stream %s: %v", cfg.Name, err)
		}
		time.Sleep(100 * time.Millisecond) // waiting for a cluster to elect a leader
	}
}

// storedIDs returns the Nats-Msg-Id of every message of stream, in stream
// order.
func storedIDs(t testing.TB, js jetstream.JetStream, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := int(info.State.Msgs)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, total)
	for len(ids) < total {
		batch, err := cons.Fetch(min(1000, total-len(ids)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for m := range batch.Messages() {
			ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch: %v", err)
		}
	}
	return ids
}

// wantIDs returns the message ids of records lo..hi of run.
func wantIDs(run string, lo, hi uint64) []string {
	var ids []string
	for s := lo; s <= hi; s++ {
		ids = append(ids, Record{RunID: run, Seq: s}.MsgID())
	}
	return ids
}

func checkStored(t testing.TB, js jetstream.JetStream, stream string, want []string) {
	t.Helper()
	if diff := cmp.Diff(want, storedIDs(t, js, stream)); diff != "" {
		t.Errorf("stream %s (-want +got):\n%s", stream, diff)
	}
}
