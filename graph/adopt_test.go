package graph_test

import (
	"context"
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
