// Package health serves a service's liveness (/healthz) and readiness (/readyz)
// endpoints, and its Prometheus metrics (/metrics) on the same port, so one Kubernetes
// port serves probes and scrapes.
package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Server answers /healthz with 200 while the process runs and /readyz with 200 once
// SetReady(true) was called (connected and assigned), 503 before.
type Server struct {
	ready atomic.Bool
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

// Option adds to what the server serves.
type Option func(*http.ServeMux)

// WithMetrics serves h (a Prometheus exposition handler) at /metrics.
func WithMetrics(h http.Handler) Option {
	return func(mux *http.ServeMux) { mux.Handle("/metrics", h) }
}

// Listen starts serving on addr ("" disables the endpoint: Listen returns a Server that
// only tracks readiness).
func Listen(addr string, opts ...Option) (*Server, error) {
	s := &Server{}
	if addr == "" {
		return s, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	for _, o := range opts {
		o(mux)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the listening address, or "" when disabled.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// SetReady sets readiness.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Ready reports readiness.
func (s *Server) Ready() bool { return s.ready.Load() }

// Close stops serving.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
