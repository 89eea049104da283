package servertest

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

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StartNATS starts an embedded NATS server with JetStream (the same server
// as the nats-server binary, in the test's process), storing in dir, on
// port (-1: a random one), and shuts it down when t ends. tweak, if not
// nil, changes its options first.
func StartNATS(t testing.TB, dir string, port int, tweak func(*server.Options)) *server.Server {
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
		t.Fatalf("new nats server: %v", err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats server not ready after 10 s")
	}
	return s
}

// NATSPort returns the client port of s.
func NATSPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// JetStream returns a JetStream client of url for the test's own checks.
func JetStream(t testing.TB, url string) jetstream.JetStream {
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

// AddStream creates the stream, or fails t.
func AddStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	if err := CreateStream(js, cfg); err != nil {
		t.Fatal(err)
	}
}

// CreateStream creates the stream, each attempt bounded on its own: a
// request that reaches a cluster between leaders is not answered at all.
// It does not touch a testing.T, so that a test's other goroutines can call
// it.
func CreateStream(js jetstream.JetStream, cfg jetstream.StreamConfig) error {
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
		time.Sleep(100 * time.Millisecond) // a cluster electing a leader gives no event to wait on
	}
}

// StoredMsg is one message of a stream: its Nats-Msg-Id and data.
type StoredMsg struct {
	ID   string
	Data []byte
}

// Stored returns every message of stream, in stream order. A read that
// fails (a cluster still settling after losing a node) is started again,
// for up to a minute.
func Stored(t testing.TB, js jetstream.JetStream, stream string) []StoredMsg {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		msgs, err := readStream(js, stream)
		if err == nil {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("read stream %s: %v", stream, err)
		}
		time.Sleep(100 * time.Millisecond) // the cluster settles with no event to wait on
	}
}

// StoredIDs returns the Nats-Msg-Id of every message of stream, in stream
// order, as Stored reads them.
func StoredIDs(t testing.TB, js jetstream.JetStream, stream string) []string {
	t.Helper()
	msgs := Stored(t, js, stream)
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func readStream(js jetstream.JetStream, stream string) ([]StoredMsg, error) {
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
	msgs := make([]StoredMsg, 0, total)
	for len(msgs) < total {
		batch, err := cons.Fetch(min(1000, total-len(msgs)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		for m := range batch.Messages() {
			msgs = append(msgs, StoredMsg{ID: m.Headers().Get(jetstream.MsgIDHeader), Data: m.Data()})
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
	}
	return msgs, nil
}

// NATSProcess is a nats-server program of its own, for what must not
// share the test's process: a benchmark that counts only the client's CPU,
// a server killed with SIGKILL.
type NATSProcess struct {
	// URL is the client URL, nats://127.0.0.1:PORT.
	URL    string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

// BuildNATS builds the nats-server program of the module version go.mod
// requires (the server the embedded tests run) into a directory of t's and
// returns its path. Debian's nats-server (2.9) is not used: it acknowledges
// records it holds only in its own memory, and loses them to a SIGKILL.
func BuildNATS(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		missing(t, "no go command to build nats-server with")
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	return bin
}

// NATSConf is a nats-server config file NATSConfig wrote: its path and the
// client URL of the server it configures.
type NATSConf struct{ Path, URL string }

// NATSConfig writes the config file of a single JetStream server on port
// storing in dir/store. With syncAlways
// (sync_interval: always) the server fsyncs every write before it acks, so
// an acked record survives a power cut, not only a SIGKILL.
func NATSConfig(t testing.TB, dir string, port int, syncAlways bool) NATSConf {
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
	return NATSConf{Path: conf, URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
}

// StartNATSProcess runs bin (from BuildNATS) with JetStream storing in
// dir, on port, and returns once it is ready; t's cleanup kills it.
func StartNATSProcess(t testing.TB, bin, dir string, port int) *NATSProcess {
	t.Helper()
	p, err := RunNATS(bin, NATSConfig(t, dir, port, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// RunNATS starts the nats-server program bin with config conf and
// returns once it says it is ready (it logs so after JetStream is up). It
// does not touch a testing.T, so that a test's other goroutines can restart
// a server; the caller kills it.
func RunNATS(bin string, conf NATSConf) (*NATSProcess, error) {
	cmd := exec.Command(bin, "-c", conf.Path)
	out := &lockedBuffer{ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nats-server: %w", err)
	}
	p := &NATSProcess{URL: conf.URL, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-out.ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("nats-server exited at start: %s\n%s", cmd.ProcessState, out)
	case <-time.After(30 * time.Second):
		p.Kill()
		return nil, fmt.Errorf("nats-server not ready after 30 s:\n%s", out)
	}
}

// Output returns what the server logged.
func (p *NATSProcess) Output() string { return p.out.String() }

// Kill sends SIGKILL and waits until the process is reaped.
func (p *NATSProcess) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
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
