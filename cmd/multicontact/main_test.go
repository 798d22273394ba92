package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// TestServeAnswersHealthAndReadiness boots the real command on port 0
// against the test Neo4j.
func TestServeAnswersHealthAndReadiness(t *testing.T) {
	graphtest.Require(t)
	m := NewServeMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.ParseFlags([]string{"-addr", "127.0.0.1:0"}, os.Getenv); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, res.StatusCode, body)
		}
	}
}

func TestServeRefusesToStartWithoutNeo4j(t *testing.T) {
	m := NewServeMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := m.ParseFlags(nil, func(string) string { return "" })
	if err == nil {
		t.Fatal("serve without NEO4J_URI should refuse to start")
	}
}

func TestEventPollComesFromTheFlagOrTheEnvironment(t *testing.T) {
	env := map[string]string{"NEO4J_URI": "bolt://127.0.0.1:1", "MULTICONTACT_EVENT_POLL": "400ms"}
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 400 * time.Millisecond},
		{[]string{"-event-poll", "1s"}, time.Second},
	} {
		m := NewServeMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := m.ParseFlags(tc.args, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		if m.EventPoll != tc.want {
			t.Errorf("ParseFlags(%v) with MULTICONTACT_EVENT_POLL=400ms: EventPoll = %s, want %s", tc.args, m.EventPoll, tc.want)
		}
	}
}

// A setting in the environment means what the same setting as a flag
// means: 0 is 0, and a value that does not parse stops the service with
// an error naming it, instead of being ignored for the default.
func TestTheEnvironmentIsReadAsFlagsAre(t *testing.T) {
	parse := func(k, v string) (*ServeMain, error) {
		env := map[string]string{"NEO4J_URI": "bolt://127.0.0.1:1", k: v}
		m := NewServeMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
		return m, m.ParseFlags(nil, func(k string) string { return env[k] })
	}
	if m, err := parse("MULTICONTACT_PREVIEW_TIMEOUT", "0"); err != nil || m.PreviewTimeout != 0 {
		t.Errorf("MULTICONTACT_PREVIEW_TIMEOUT=0: %v, %v; want 0 (the request's deadline)", m.PreviewTimeout, err)
	}
	if m, err := parse("MULTICONTACT_GRAPHIQL", "false"); err != nil || m.GraphiQL {
		t.Errorf("MULTICONTACT_GRAPHIQL=false: GraphiQL %v, %v", m.GraphiQL, err)
	}
	for k, v := range map[string]string{
		"MULTICONTACT_GRAPHIQL":       "off",
		"MULTICONTACT_SHUTDOWN_GRACE": "60",
		"MULTICONTACT_MAX_INFLIGHT":   "lots",
	} {
		if _, err := parse(k, v); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}
