package servertest

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// AddStream creates the stream, each attempt bounded on its own (a request
// that reaches a cluster between leaders is not answered at all), or
// fails t.
func AddStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, cfg)
		cancel()
		if err == nil {
			return
		}
		var api *jetstream.APIError
		if errors.As(err, &api) && api.Code != 503 || time.Now().After(deadline) {
			t.Fatalf("create stream %s: %v", cfg.Name, err)
		}
		time.Sleep(100 * time.Millisecond) // a cluster electing a leader gives no event to wait on
	}
}

// StoredMsg is one message of a stream: its Nats-Msg-Id and data.
type StoredMsg struct {
	ID   string
	Data []byte
}

// Stored returns every message of stream, in stream order.
func Stored(t testing.TB, js jetstream.JetStream, stream string) []StoredMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	total := int(s.CachedInfo().State.Msgs)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("consumer of %s: %v", stream, err)
	}
	msgs := make([]StoredMsg, 0, total)
	for len(msgs) < total {
		batch, err := cons.Fetch(min(1000, total-len(msgs)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch from %s: %v", stream, err)
		}
		for m := range batch.Messages() {
			msgs = append(msgs, StoredMsg{ID: m.Headers().Get(jetstream.MsgIDHeader), Data: m.Data()})
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch from %s: %v", stream, fmt.Errorf("batch: %w", err))
		}
	}
	return msgs
}
