package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/multicontact/multicontact/graph"
)

// ServeMain is the `serve` command: it opens the store and serves HTTP.
type ServeMain struct {
	Addr  string
	Neo4j graph.Config

	log    *slog.Logger
	store  *graph.Store
	server *http.Server
	ln     net.Listener
}

// NewServeMain returns the command with its defaults.
func NewServeMain(log *slog.Logger) *ServeMain {
	return &ServeMain{Addr: "127.0.0.1:8080", log: log}
}

// ParseFlags reads flags, with defaults from the environment (getenv).
func (m *ServeMain) ParseFlags(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&m.Addr, "addr", envOr(getenv, "MULTICONTACT_ADDR", m.Addr), "listen address (MULTICONTACT_ADDR)")
	fs.StringVar(&m.Neo4j.URI, "neo4j-uri", getenv("NEO4J_URI"), "Neo4j Bolt URI (NEO4J_URI)")
	fs.StringVar(&m.Neo4j.User, "neo4j-user", envOr(getenv, "NEO4J_USER", "neo4j"), "Neo4j user (NEO4J_USER)")
	fs.StringVar(&m.Neo4j.Database, "neo4j-database", getenv("NEO4J_DATABASE"), "Neo4j database, default the server's (NEO4J_DATABASE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m.Neo4j.Password = getenv("NEO4J_PASSWORD") // never a flag: flags show in process lists
	if m.Neo4j.URI == "" {
		return errors.New("NEO4J_URI is not set; `make run` starts a local Neo4j and sets it")
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// Run opens the store and starts serving; it returns once the listener is open.
func (m *ServeMain) Run(ctx context.Context) error {
	openCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	store, err := graph.Open(openCtx, m.Neo4j, graph.WithLogger(m.log))
	if err != nil {
		return err
	}
	m.store = store
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := store.Ready(ctx); err != nil {
			m.log.Warn("not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "neo4j": "unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	m.ln, err = net.Listen("tcp", m.Addr)
	if err != nil {
		store.Close(ctx)
		return err
	}
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.log.Info("listening", "addr", m.ln.Addr().String())
	go func() {
		if err := m.server.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("serve", "err", err)
		}
	}()
	return nil
}

// URL is the address the server listens on, for tests that listen on port 0.
func (m *ServeMain) URL() string { return "http://" + m.ln.Addr().String() }

// Close stops serving, waiting up to 10s for requests in flight, then closes the store.
func (m *ServeMain) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.store != nil {
		errs = append(errs, m.store.Close(ctx))
	}
	return errors.Join(errs...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
