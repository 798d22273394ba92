package graph_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
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
	// A client an earlier version wrote, without its project's search token.
	f := newFixture(t)
	f.client("old", "web", "email", "old.timer@example.com")
	run("MATCH (n {project: '" + f.project + "'}) WHERE n:Client OR n:Value REMOVE n.searchToken")
	run("DROP INDEX client_search IF EXISTS")
	run("CREATE FULLTEXT INDEX client_search FOR (n:Client|Value) ON EACH [n.project, n.displayName, n.value]")
	s := graphtest.Store(t, graph.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))) // opens anew
	if got := eventual(); got != true {
		t.Errorf("after Open, client_search eventually consistent = %v, want true", got)
	}
	run("CALL db.awaitIndex('client_search', 60)")
	page, err := s.SearchClients(ctx, f.project, "old.timer@example.com", "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != "old" {
		t.Errorf("search of a client written before the search token = %+v, %v; want it found", page.Items, err)
	}
}

// A project's search is its own, whatever the ids of the others: one whose
// id holds this one's as a word ("acme" in "acme-eu") has no share of its
// hits, however many of its clients match better.
func TestASearchIsNotCrowdedOutByAProjectOfASimilarID(t *testing.T) {
	f := newFixture(t)
	other := f.project + "-eu"
	if _, err := f.s.CreateProject(f.ctx, other, "Europe", "RU"); err != nil {
		t.Fatal(err)
	}
	var ops []graph.Op
	for i := range 2100 {
		ops = append(ops, graph.Op{Line: i + 1, Kind: graph.OpUpsertClient, Client: identity.ClientInput{
			ID: fmt.Sprint("eu", i), Channel: identity.Channel{Kind: "web", Account: "acme"}, DisplayName: "Ivan"}})
	}
	if _, err := f.s.Write(f.ctx, other, ops, graph.WriteOptions{Resolve: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: "a",
		Channel: identity.Channel{Kind: "web", Account: "acme"}, DisplayName: "Ivanov"}); err != nil {
		t.Fatal(err)
	}
	page, err := f.s.SearchClients(f.ctx, f.project, "ivan", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != "a" {
		t.Errorf("search of %q for ivan = %+v, want its client a", f.project, page.Items)
	}
}
