package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// writeServerConfig writes the config file of a single JetStream server on
// port storing in dir/store, and returns its path. With syncAlways
// (sync_interval: always) the server fsyncs every write before it acks, so
// an acked record survives a power cut, not only a SIGKILL.
func writeServerConfig(t testing.TB, dir string, port int, syncAlways bool) string {
	t.Helper()
	sync := ""
	if syncAlways {
		sync = "  sync_interval: always\n"
	}
	conf := filepath.Join(dir, "nats-server.conf")
	text := fmt.Sprintf("listen: \"127.0.0.1:%d\"\nserver_name: \"ctwatch-test\"\njetstream {\n  store_dir: %q\n%s}\n",
		port, filepath.Join(dir, "store"), sync)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

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

// addStream creates the stream, or fails t.
func addStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	if err := createStream(js, cfg); err != nil {
		t.Fatal(err)
	}
}

// createStream creates the stream, each attempt bounded on its own: a
// request that reaches a cluster between leaders is not answered at all.
// It does not touch a testing.T, so that a test's other goroutines can call
// it.
func createStream(js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, cfg)
		cancel()
		if err == nil {
			return nil
		}
		var api *jetstream.APIError
		if errors.As(err, &api) && api.Code != 503 || time.Now().After(deadline) {
			return fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
		time.Sleep(100 * time.Millisecond) // waiting for a cluster to elect a leader
	}
}

// storedIDs returns the Nats-Msg-Id of every message of stream, in stream
// order. A read that fails (a cluster still settling after losing a node)
// is started again, for up to a minute.
func storedIDs(t testing.TB, js jetstream.JetStream, stream string) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ids, err := readIDs(js, stream)
		if err == nil {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("read stream %s: %v", stream, err)
		}
		time.Sleep(100 * time.Millisecond) // the cluster settles with no event to wait on
	}
}

func readIDs(js jetstream.JetStream, stream string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	total := int(s.CachedInfo().State.Msgs)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	ids := make([]string, 0, total)
	for len(ids) < total {
		batch, err := cons.Fetch(min(1000, total-len(ids)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		for m := range batch.Messages() {
			ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
	}
	return ids, nil
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
	got := storedIDs(t, js, stream)
	if diff := cmp.Diff(want, got); diff != "" {
		seen := make(map[string]int, len(got))
		var dups, firstDup int
		for i, id := range got {
			if _, ok := seen[id]; ok {
				if dups == 0 {
					firstDup = i
				}
				dups++
			}
			seen[id] = i
		}
		t.Errorf("stream %s: %d messages, %d of them again (the first at %d), want %d once each in order (-want +got):\n%s",
			stream, len(got), dups, firstDup, len(want), diff)
	}
}

// checkStoredOnce checks that stream holds each of want exactly once and
// nothing else, in any order, and returns how many are not where the order
// of want puts them.
func checkStoredOnce(t testing.TB, js jetstream.JetStream, stream string, want []string) int {
	t.Helper()
	got := storedIDs(t, js, stream)
	sorted := slices.Clone(got)
	index := make(map[string]int, len(want))
	for i, id := range want {
		index[id] = i
	}
	slices.SortStableFunc(sorted, func(a, b string) int {
		ia, oka := index[a]
		ib, okb := index[b]
		if !oka || !okb {
			return strings.Compare(a, b)
		}
		return ia - ib
	})
	if diff := cmp.Diff(want, sorted); diff != "" {
		t.Errorf("stream %s: %d messages, want %d once each (in seq order, -want +got):\n%s", stream, len(got), len(want), diff)
	}
	moved := 0
	for i, id := range got {
		if i >= len(want) || want[i] != id {
			moved++
		}
	}
	return moved
}
