package graph

import (
	"context"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// Catalog returns a project's field catalog, with which callers normalize
// and check values and rules without writing anything (a chat bot's check,
// a rule preview).
func (s *Store) Catalog(ctx context.Context, project string) (*identity.Catalog, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (*identity.Catalog, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		return ps.catalog, nil
	})
}

// Normalize normalizes raw as a value of field in the project, as
// SetAttribute would, and stores nothing. A refused value returns the
// typed *identity.Error a chat bot shows before asking again.
func (s *Store) Normalize(ctx context.Context, project, field, raw string) (string, error) {
	c, err := s.Catalog(ctx, project)
	if err != nil {
		return "", err
	}
	return c.Normalize(field, raw)
}
