package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/multicontact/multicontact/identity"
)

// TestTheLeaseKeepsOtherReplicasOut: while one store holds a project's
// re-resolution lease, another is told ErrResolving and changes nothing;
// once it is released, the other does the work.
func TestTheLeaseKeepsOtherReplicasOut(t *testing.T) {
	if os.Getenv("NEO4J_URI") == "" {
		if testing.Short() {
			t.Skip("no Neo4j under -short")
		}
		t.Fatal("NEO4J_URI is not set: run the tests with `make test`, which starts a local Neo4j")
	}
	ctx := context.Background()
	cfg := Config{URI: os.Getenv("NEO4J_URI"), User: os.Getenv("NEO4J_USER"), Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE")}
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		stores[i] = s
	}
	a, b := stores[0], stores[1]
	project := fmt.Sprintf("lease%d", time.Now().UnixNano())
	if _, err := a.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	if err := a.BeginBulk(ctx, project); err != nil { // RUNNING, with no background work started
		t.Fatal(err)
	}
	release, err := a.lease(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reresolve(ctx, project); !errors.Is(err, ErrResolving) {
		t.Fatalf("Reresolve while another store holds the lease: %v, want ErrResolving", err)
	}
	if p, _ := b.Project(ctx, project); p.Resolution.State != identity.ResolutionRunning {
		t.Errorf("state = %s, want RUNNING still", p.Resolution.State)
	}
	release()
	if _, err := b.Reresolve(ctx, project); err != nil {
		t.Fatalf("Reresolve after the release: %v", err)
	}
	if p, _ := b.Project(ctx, project); p.Resolution.State != identity.ResolutionIdle {
		t.Errorf("state = %s, want IDLE", p.Resolution.State)
	}
}
