package graph_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

// A large import whose process stops after writing, while a service stays
// up (a command-line import killed midway), is taken up by that service
// once no batch has come for a while: the project does not wait RUNNING,
// with clients nobody resolved, for the next service to open.
func TestAnAbandonedReresolutionIsTakenUpByARunningService(t *testing.T) {
	f := newFixture(t, []string{"email"})
	service, err := graph.Open(context.Background(), graphtest.Config(), graph.WithAdoption(200*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer service.Close(context.Background())

	// The import's process: it begins, writes, and is gone before resolving.
	if err := f.s.BeginBulk(f.ctx, f.project); err != nil {
		t.Fatal(err)
	}
	var ops []graph.Op
	for i, id := range []string{"a", "b", "c"} {
		ops = append(ops, graph.Op{Line: i + 1, Kind: graph.OpUpsertClient, Client: identity.ClientInput{ID: id,
			Channel:    identity.Channel{Kind: "web", Account: "acme"},
			Attributes: []identity.AttributeInput{{Field: "email", Value: "anna@example.com", Source: identity.SourceImport}}}})
	}
	if _, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		p, err := f.s.Project(f.ctx, f.project)
		if err != nil {
			t.Fatal(err)
		}
		if p.Resolution.State == identity.ResolutionIdle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned import's project is still %s after a minute", p.Resolution.State)
		}
	}
	service.WaitBackground(f.project)
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
}

// A re-resolution asked for a project that does not exist (a call that
// named a wrong one) ends, instead of trying again every minute until the
// store closes.
func TestABackgroundReresolutionOfNoProjectEnds(t *testing.T) {
	s := graphtest.Store(t, graph.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	s.ResolveInBackground("no-such-project")
	done := make(chan struct{})
	go func() { s.WaitBackground("no-such-project"); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the background re-resolution of a missing project still runs after 20 s")
	}
}
