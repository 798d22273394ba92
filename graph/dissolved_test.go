package graph

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// A multi-contact that a resolution reaches through an id read before its
// lock, and that was dissolved meanwhile (its only member removed), is
// not taken as live: it holds nobody, and taking it would delete it again,
// a second DELETED event for one multi-contact.
func TestADissolvedMultiContactIsNotLockedAsLive(t *testing.T) {
	s := replica(t)
	ctx := context.Background()
	project := fmt.Sprintf("dis%d", time.Now().UnixNano()%1e9)
	if _, err := s.CreateProject(ctx, project, project, "RU"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertClient(ctx, project, identity.ClientInput{ID: "o", Channel: identity.Channel{Kind: "web", Account: "a"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Client(ctx, project, "o")
	if err != nil {
		t.Fatal(err)
	}
	gone := c.MultiContactID
	if err := s.RemoveClient(ctx, project, "o"); err != nil {
		t.Fatal(err)
	}
	_, err = writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return noResult{}, err
		}
		r := resolution{ctx: ctx, tx: tx, ps: ps}
		for name, lock := range map[string]func(map[string]identity.MCInfo, map[string]bool) error{
			"lock": func(l map[string]identity.MCInfo, a map[string]bool) error { return r.lock([]string{gone}, l, a) },
			"a round": func(l map[string]identity.MCInfo, a map[string]bool) error {
				_, _, _, err := r.lockAndLoad(nil, []string{gone}, l, a, nil)
				return err
			},
		} {
			locked, aliases := map[string]identity.MCInfo{}, map[string]bool{}
			if err := lock(locked, aliases); err != nil {
				return noResult{}, err
			}
			if _, live := locked[gone]; live || !aliases[gone] {
				t.Errorf("%s: the dissolved %s is locked as live", name, gone)
			}
		}
		return noResult{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
