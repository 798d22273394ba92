package graph

import (
	"cmp"
	"context"
	"hash/maphash"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// PreviewRules says what rules (their enabled ones) would do to the
// project's multi-contacts, were they its rules, without changing
// anything. It streams the project once, as the batch path does: a
// client's values are turned into its keys as they arrive, and only the
// union-find, a 64-bit hash of each client's current multi-contact and one
// (64-bit hash of the key, client) pair per key held are kept, so a preview
// of a million clients needs about a hundred megabytes, not the project's
// values. The pairs, sorted, give each key's holders as one run. (Two keys
// or multi-contacts of the same hash would change the preview's counts
// only; at 64 bits that takes billions of them.)
//
// Keys link as they would after the change: a key held by more clients
// than the cap links nobody, unless it is allowed; a rule the project has
// already (the same fields, the same requireVerified) keeps its keys'
// allowed states, and their quarantines unless the cap changes. keyCap is
// the cap to preview with (0: the project's); a different one re-decides
// every quarantine, as changing it does.
func (s *Store) PreviewRules(ctx context.Context, project string, keyCap int, rules []identity.Rule) (identity.RulePreview, error) {
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
		seed := maphash.MakeSeed()
		hash := func(rule, key string) uint64 { return maphash.String(seed, rule+"\x1e"+key) }
		p := map[string]any{"project": project}
		recheck := keyCap != 0 && keyCap != ps.KeyCap
		if keyCap == 0 {
			keyCap = ps.KeyCap
		}

		// The states of the keys of the rules kept, under the previewed rule's id.
		kept := map[string]string{} // the project's rule id -> the previewed rule's
		for _, pr := range enabled {
			for _, r := range ps.activeRules() {
				if slices.Equal(r.Canonical().Fields, pr.Canonical().Fields) && r.RequireVerified == pr.RequireVerified {
					kept[r.ID] = pr.ID
				}
			}
		}
		const quarantined, allowed = 1, 2
		state := map[uint64]int8{}
		err = stream(ctx, tx, `MATCH (k:MatchKey {project: $project}) WHERE k.quarantined OR k.allowed
			RETURN k.rule AS rule, k.key AS key, k.allowed AS allowed`, p,
			func(rec *neo4j.Record) {
				id, ok := kept[str(rec, "rule")]
				if !ok {
					return
				}
				st := int8(quarantined)
				if boolean(rec, "allowed") {
					st = allowed
				}
				state[hash(id, str(rec, "key"))] = st
			})
		if err != nil {
			return identity.RulePreview{}, err
		}

		// Every client once: its index, its multi-contact (hashed: the
		// preview only compares them), the keys it holds.
		uf := identity.NewUnionFind()
		var mc []uint64 // 0: none yet
		type held struct {
			key    uint64
			client int32
		}
		var keys []held
		err = stream(ctx, tx, `MATCH (c:Client {project: $project})
			RETURN c.id AS id, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
				`+valuesColumn, p,
			func(rec *neo4j.Record) {
				i := uf.Index(str(rec, "id"))
				var m uint64
				if id := str(rec, "mc"); id != "" {
					m = max(1, maphash.String(seed, id))
				}
				mc = append(mc, m)
				if boolean(rec, "excluded") {
					return
				}
				vals := identity.LinkingValues(valuesOf(rec), ps.AcceptUnverifiedWidgetValues)
				for _, r := range enabled {
					ks, _ := identity.MatchKeys(r, vals)
					for _, k := range ks {
						keys = append(keys, held{hash(r.ID, k), i})
					}
				}
			})
		if err != nil {
			return identity.RulePreview{}, err
		}
		slices.SortFunc(keys, func(a, b held) int { return cmp.Compare(a.key, b.key) })
		for len(keys) > 0 {
			n := 1 // keys[:n] are the holders of one key
			for n < len(keys) && keys[n].key == keys[0].key {
				n++
			}
			if st := state[keys[0].key]; st == allowed || (recheck || st != quarantined) && n <= keyCap {
				for _, k := range keys[1:n] {
					uf.UnionIndex(keys[0].client, k.client)
				}
			}
			keys = keys[n:]
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
