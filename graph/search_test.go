package graph_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
)

// A database whose search index an earlier version made (updated inside
// every commit) gets it rebuilt as eventually consistent when a store opens.
func TestOpenRebuildsAnOldSearchIndex(t *testing.T) {
	graphtest.Require(t)
	ctx := context.Background()
	cfg := graphtest.Config()
	driver := graphtest.Driver(t)
	run := func(q string) *neo4j.EagerResult {
		t.Helper()
		res, err := neo4j.ExecuteQuery(ctx, driver, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res
	}
	eventual := func() any {
		t.Helper()
		res := run(`SHOW FULLTEXT INDEXES YIELD name, options WHERE name = 'client_search'
			RETURN options.indexConfig['fulltext.eventually_consistent'] AS eventual`)
		if len(res.Records) != 1 {
			t.Fatalf("client_search: %d indexes", len(res.Records))
		}
		v, _ := res.Records[0].Get("eventual")
		return v
	}
	run("DROP INDEX client_search IF EXISTS")
	run("CREATE FULLTEXT INDEX client_search FOR (n:Client|Value) ON EACH [n.project, n.displayName, n.value]")
	if eventual() != false {
		t.Fatal("the old index is eventually consistent already")
	}
	graphtest.Store(t, graph.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))) // opens anew
	if got := eventual(); got != true {
		t.Errorf("after Open, client_search eventually consistent = %v, want true", got)
	}
}
