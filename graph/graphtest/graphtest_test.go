package graphtest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

// nudges records the projects a store nudged.
type nudges struct {
	mu       sync.Mutex
	projects []string
}

func (n *nudges) Nudge(project string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.projects = append(n.projects, project)
}

func (n *nudges) saw(project string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.projects {
		if p == project {
			return true
		}
	}
	return false
}

// TestStoreAppliesOptionsOfEveryCall: the shared store is opened by the
// first call, so a later call's options must still reach the store it
// returns (here a notifier, which hears the events of a new client).
func TestStoreAppliesOptionsOfEveryCall(t *testing.T) {
	shared := graphtest.Store(t)
	if again := graphtest.Store(t); again != shared {
		t.Error("calls without options return different stores, want the shared one")
	}
	var n nudges
	s := graphtest.Store(t, graph.WithNotifier(&n))
	if s == shared {
		t.Fatal("a call with options returned the shared store, which was opened without them")
	}
	ctx := context.Background()
	project := fmt.Sprintf("graphtest-%d", time.Now().UnixNano())
	if _, err := s.CreateProject(ctx, project, "graphtest", "RU"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertClient(ctx, project, identity.ClientInput{ID: "c1", Channel: identity.Channel{Kind: "telegram", Account: "a"}}); err != nil {
		t.Fatal(err)
	}
	if !n.saw(project) {
		t.Errorf("the notifier passed to Store was not nudged for %s", project)
	}
}
