package graph

import (
	"cmp"
	"context"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// DumpClient is a client with what resolution reads of it.
type DumpClient struct {
	ID             string
	MultiContactID string
	Excluded       bool
	Values         []identity.Value // unblocked values only, with their source
}

// Dump is a whole project's inputs to resolution and its result, for
// checking the store against the offline oracle (identity.Components) and
// for repairs. It reads the whole project: not for request paths.
type Dump struct {
	Rules   []identity.Rule // enabled rules
	Clients []DumpClient
	Links   [][2]string
	// Quarantined are the keys over the cap, as "rule\x1ekey": they link
	// nobody. Which keys are quarantined depends on history (a key stays
	// quarantined until allowed), so the oracle takes it from the graph.
	Quarantined map[string]bool
	// AcceptUnverifiedWidgetValues is the project's switch: see
	// identity.LinkingValues.
	AcceptUnverifiedWidgetValues bool
}

// DumpProject reads a project's clients, unblocked values, links and rules.
func (s *Store) DumpProject(ctx context.Context, project string) (Dump, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (Dump, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return Dump{}, err
		}
		d := Dump{Rules: ps.activeRules(), AcceptUnverifiedWidgetValues: ps.AcceptUnverifiedWidgetValues}
		p := map[string]any{"project": project}
		err = stream(ctx, tx, `MATCH (c:Client {project: $project})
			RETURN c.id AS id, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
				`+valuesColumn+`
			ORDER BY id`, p, func(rec *neo4j.Record) {
			c := DumpClient{ID: str(rec, "id"), MultiContactID: str(rec, "mc"), Excluded: boolean(rec, "excluded")}
			c.Values = valuesOf(rec)
			slices.SortFunc(c.Values, func(a, b identity.Value) int {
				return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Value, b.Value))
			})
			d.Clients = append(d.Clients, c)
		})
		if err != nil {
			return Dump{}, err
		}
		err = stream(ctx, tx, `MATCH (a:Client {project: $project})-[:LINKED]->(b:Client) RETURN a.id AS a, b.id AS b ORDER BY a, b`, p,
			func(rec *neo4j.Record) { d.Links = append(d.Links, [2]string{str(rec, "a"), str(rec, "b")}) })
		if err != nil {
			return Dump{}, err
		}
		d.Quarantined = map[string]bool{}
		err = stream(ctx, tx, `MATCH (k:MatchKey {project: $project, quarantined: true}) RETURN k.rule AS rule, k.key AS key`, p,
			func(rec *neo4j.Record) { d.Quarantined[str(rec, "rule")+"\x1e"+str(rec, "key")] = true })
		return d, err
	})
}

// Stored is the project's multi-contacts as the graph holds them: the
// clients grouped by their multi-contact id, each group sorted, the groups
// in the order of their first member, as Components orders its own.
func (d Dump) Stored() [][]string {
	byMC := map[string][]string{}
	for _, c := range d.Clients {
		byMC[c.MultiContactID] = append(byMC[c.MultiContactID], c.ID)
	}
	out := make([][]string, 0, len(byMC))
	for _, members := range byMC {
		slices.Sort(members)
		out = append(out, members)
	}
	slices.SortFunc(out, func(a, b []string) int { return cmp.Compare(a[0], b[0]) })
	return out
}

// Components computes, offline, the components that the dump's rules,
// values and links imply, without the quarantined keys.
func (d Dump) Components() [][]string {
	ids, keys, links := d.OracleInput()
	return identity.Components(ids, keys, links)
}

// OracleInput is what the offline union-find takes: every client, the
// linking keys of each, and the manual links between included clients.
func (d Dump) OracleInput() (ids []string, keys map[string][]string, links [][2]string) {
	ids = make([]string, len(d.Clients))
	keys = map[string][]string{}
	excluded := map[string]bool{}
	for i, c := range d.Clients {
		ids[i] = c.ID
		if c.Excluded {
			excluded[c.ID] = true
			continue
		}
		vals := identity.LinkingValues(c.Values, d.AcceptUnverifiedWidgetValues)
		for _, r := range d.Rules {
			ks, _ := identity.MatchKeys(r, vals)
			for _, k := range ks {
				if id := r.ID + "\x1e" + k; !d.Quarantined[id] {
					keys[c.ID] = append(keys[c.ID], id)
				}
			}
		}
	}
	for _, l := range d.Links {
		if !excluded[l[0]] && !excluded[l[1]] {
			links = append(links, l)
		}
	}
	return ids, keys, links
}
