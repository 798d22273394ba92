// Package graphtest connects tests to the Neo4j that `make test` starts.
package graphtest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
)

// Config is the test server's address from the environment
// (NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE).
func Config() graph.Config {
	return graph.Config{URI: os.Getenv("NEO4J_URI"), User: os.Getenv("NEO4J_USER"),
		Password: os.Getenv("NEO4J_PASSWORD"), Database: os.Getenv("NEO4J_DATABASE")}
}

// Require stops a test that needs Neo4j when none is configured: a skip
// under -short, otherwise a failure that says how to run the tests.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("NEO4J_URI") == "" {
		if testing.Short() {
			t.Skip("no Neo4j under -short")
		}
		t.Fatal("NEO4J_URI is not set: run the tests with `make test`, which starts a local Neo4j")
	}
}

var (
	once    sync.Once
	store   *graph.Store
	openErr error
)

// Store returns the store shared by a test binary's tests; each test
// isolates its data in a project of its own. Test stores do not resume
// the re-resolutions they find RUNNING (graph.WithoutResuming): those are
// other tests' work, in progress. A test that passes options
// (a notifier, a logger, a retry observer) gets a store of its own, opened
// with them and closed when the test ends: the shared store was opened
// once, without them, and options never change a store after Open.
func Store(t testing.TB, opts ...graph.Option) *graph.Store {
	t.Helper()
	Require(t)
	if len(opts) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, err := graph.Open(ctx, Config(), append([]graph.Option{graph.WithoutResuming()}, opts...)...)
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		store, openErr = graph.Open(ctx, Config(), graph.WithoutResuming())
	})
	if openErr != nil {
		t.Fatalf("open store: %v", openErr)
	}
	return store
}

// Driver connects to the test server directly, for a test that reads or
// changes the graph behind the store's back; it is closed when the test
// ends.
func Driver(t testing.TB) neo4j.DriverWithContext {
	t.Helper()
	Require(t)
	cfg := Config()
	d, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
	if err != nil {
		t.Fatalf("connect to Neo4j: %v", err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}
