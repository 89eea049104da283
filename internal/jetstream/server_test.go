package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// buildServer builds the nats-server program of the module version that
// go.mod requires (the server the embedded tests run, as a program of its
// own) into a directory of t's, and returns its path. Debian's nats-server
// (2.9) is not used: it acks records it holds only in its own memory, and
// loses them to a SIGKILL.
func buildServer(t testing.TB) string {
	t.Helper()
	gobin := requireCommand(t, "go")
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	return bin
}

// binaryServer is a nats-server process.
type binaryServer struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

// lockedBuffer collects a process's output, written by exec's copying
// goroutine and read by the test.
type lockedBuffer struct {
	mu    sync.Mutex
	buf   strings.Builder
	ready chan struct{} // closed at the first "Server is ready"
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if strings.Contains(b.buf.String(), "Server is ready") {
		select {
		case <-b.ready:
		default:
			close(b.ready)
		}
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverConfig is the config file of a single JetStream server on port
// storing in dir. sync_interval: always makes the server fsync every write
// before it acks, so an acked record survives a SIGKILL (and a power cut).
const serverConfig = `listen: "127.0.0.1:%d"
server_name: "ctwatch-test"
jetstream {
  store_dir: %q
  sync_interval: always
}
`

// startBinary starts the nats-server program bin with config file conf and
// returns once it says it is ready (it logs so after JetStream is up).
func startBinary(bin, conf string) (*binaryServer, error) {
	cmd := exec.Command(bin, "-c", conf)
	out := &lockedBuffer{ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nats-server: %w", err)
	}
	b := &binaryServer{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()
	select {
	case <-out.ready:
		return b, nil
	case <-b.exited:
		return nil, fmt.Errorf("nats-server exited at start: %s\n%s", cmd.ProcessState, out)
	case <-time.After(30 * time.Second):
		b.kill()
		return nil, fmt.Errorf("nats-server not ready after 30 s:\n%s", out)
	}
}

// kill sends SIGKILL and waits until the process is reaped.
func (b *binaryServer) kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
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
