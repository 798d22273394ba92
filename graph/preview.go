package graph

import (
	"context"
	"hash/maphash"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// PreviewRules says what rules (their enabled ones) would do to the
// project's multi-contacts, were they its rules, without changing
// anything. It streams the project once, as the batch path does: a
// client's values are turned into its keys as they arrive and only the
// union-find, the clients' current multi-contacts and a 64-bit hash of
// each key are kept, so a preview of a million clients needs tens of
// megabytes, not the project's values. (Two keys of the same hash would
// join their clients in the preview only; at 64 bits that takes billions
// of keys.)
func (s *Store) PreviewRules(ctx context.Context, project string, rules []identity.Rule) (identity.RulePreview, error) {
	var enabled []identity.Rule
	for _, r := range rules {
		if r.Enabled {
			enabled = append(enabled, r)
		}
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.RulePreview, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return identity.RulePreview{}, err
		}
		uf := identity.NewUnionFind()
		var mc []string
		seed := maphash.MakeSeed()
		firstOf := map[uint64]int32{} // key -> the first client that holds it
		p := map[string]any{"project": project}
		err = stream(ctx, tx, `MATCH (c:Client {project: $project})
			RETURN c.id AS id, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
				[(c)-[h:HAS]->(v:Value) WHERE NOT coalesce(v.blocked, false) |
					{field: v.field, value: v.value, verified: h.verified, source: h.source}] AS values`, p,
			func(rec *neo4j.Record) {
				i := uf.Index(str(rec, "id"))
				mc = append(mc, str(rec, "mc"))
				if boolean(rec, "excluded") {
					return
				}
				vals := identity.LinkingValues(valuesOf(rec), ps.AcceptUnverifiedWidgetValues)
				for _, r := range enabled {
					keys, _ := identity.MatchKeys(r, vals)
					for _, k := range keys {
						h := maphash.String(seed, r.ID+"\x1e"+k)
						if first, ok := firstOf[h]; ok {
							uf.UnionIndex(first, i)
						} else {
							firstOf[h] = i
						}
					}
				}
			})
		if err != nil {
			return identity.RulePreview{}, err
		}
		err = stream(ctx, tx, `MATCH (a:Client {project: $project})-[:LINKED]->(b:Client)
			WHERE NOT coalesce(a.excluded, false) AND NOT coalesce(b.excluded, false)
			RETURN a.id AS a, b.id AS b`, p,
			func(rec *neo4j.Record) { uf.Union(str(rec, "a"), str(rec, "b")) })
		if err != nil {
			return identity.RulePreview{}, err
		}
		return identity.PreviewOf(uf, mc), nil
	})
}
