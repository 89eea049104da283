package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Timeouts of the HTTP server: a scraper gets ScrapeTimeout to be served,
// and a stopping server waits ShutdownTimeout for scrapes in flight.
const (
	ScrapeTimeout   = 10 * time.Second
	ShutdownTimeout = 5 * time.Second
)

// Handler returns the HTTP handler of /metrics, serving g's metrics, and
// /healthz, which answers 200 "ok" while health returns nil, or 503 with
// its error (a nil health is always healthy).
func Handler(g prometheus.Gatherer, health func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// A collector's error loses its metrics, not the scrape.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             ScrapeTimeout,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if health != nil {
			if err := health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, err.Error()+"\n")
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// Serve listens on addr (--metrics-addr, such as "127.0.0.1:9567") and
// serves Handler until ctx is done, then shuts down gracefully. It returns
// nil after a shutdown, or why it could not listen or serve.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, health func() error) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics: %w", err)
	}
	return ServeListener(ctx, ln, g, health)
}

// ServeListener is Serve on a listener the caller opened (to learn the port
// of ":0", or to fail early on a bad address); it closes ln.
func ServeListener(ctx context.Context, ln net.Listener, g prometheus.Gatherer, health func() error) error {
	srv := &http.Server{
		Handler:           Handler(g, health),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      ScrapeTimeout + 5*time.Second,
		IdleTimeout:       time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		<-errc
		return fmt.Errorf("shut down metrics server: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}
