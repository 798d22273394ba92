package graph

import (
	"context"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// The protections that keep one shared value from gluing strangers together (README, "Protections"). Each is reversible and resolves what it touches.

// LinkClients links two clients by hand, whatever their values say.
func (s *Store) LinkClients(ctx context.Context, project, a, b string) error {
	return s.manualLink(ctx, project, a, b, true)
}

// UnlinkClients removes a manual link; the multi-contact splits if nothing else links them.
func (s *Store) UnlinkClients(ctx context.Context, project, a, b string) error {
	return s.manualLink(ctx, project, a, b, false)
}

func (s *Store) manualLink(ctx context.Context, project, a, b string, link bool) error {
	if a == b {
		return identity.Errorf("b", identity.CodeInvalidArgument, "a client cannot be linked to itself")
	}
	if a > b { // one edge per pair, always from the smaller id
		a, b = b, a
	}
	action, q := "unlinkClients", `MATCH (a)-[l:LINKED]-(b) DELETE l RETURN count(l) AS n`
	if link {
		action, q = "linkClients", `MERGE (a)-[l:LINKED]->(b) ON CREATE SET l.at = $now, l.new = true
			WITH l, coalesce(l.new, false) AS created REMOVE l.new RETURN CASE WHEN created THEN 1 ELSE 0 END AS n`
	}
	cause := identity.Cause{Kind: identity.CauseManual, Action: action}
	return s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		rec, err := single(ctx, tx, `OPTIONAL MATCH (a:Client {project: $project, id: $a})
			OPTIONAL MATCH (b:Client {project: $project, id: $b})
			RETURN a IS NOT NULL AS hasA, b IS NOT NULL AS hasB`,
			map[string]any{"project": project, "a": a, "b": b})
		if err != nil {
			return touched{}, err
		}
		if !boolean(rec, "hasA") {
			return touched{}, notFound("client", a)
		}
		if !boolean(rec, "hasB") {
			return touched{}, notFound("client", b)
		}
		rec, err = single(ctx, tx, `MATCH (a:Client {project: $project, id: $a}), (b:Client {project: $project, id: $b}) `+q,
			map[string]any{"project": project, "a": a, "b": b, "now": s.now().UTC()})
		if err != nil || i64(rec, "n") == 0 {
			return touched{}, err
		}
		return touched{clients: []string{a, b}}, nil
	})
}

// BlockValue stops a value from linking anybody (a shared office phone,
// test@test.com). Clients keep it; it is listed as blocked.
func (s *Store) BlockValue(ctx context.Context, project, field, raw string) (string, error) {
	return s.setBlocked(ctx, project, field, raw, true)
}

// UnblockValue lets a blocked value link again.
func (s *Store) UnblockValue(ctx context.Context, project, field, raw string) (string, error) {
	return s.setBlocked(ctx, project, field, raw, false)
}

func (s *Store) setBlocked(ctx context.Context, project, field, raw string, blocked bool) (string, error) {
	var value string
	action := map[bool]string{true: "blockValue", false: "unblockValue"}[blocked]
	cause := identity.Cause{Kind: identity.CauseManual, Action: action, Field: field}
	err := s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		var err error
		if value, err = ps.catalog.Normalize(field, raw); err != nil {
			return touched{}, err
		}
		// Locked before the flag is read, as an exclusion locks its client.
		// Unblocked, a value nobody holds goes, as one taken from its last
		// holder does: only the block list kept it.
		rec, err := single(ctx, tx, `MERGE (v:Value {project: $project, field: $field, value: $value})
			ON CREATE SET v.blocked = false, v.searchToken = $token
			SET v.locked = true REMOVE v.locked
			WITH v, v.blocked <> $blocked AS changed
			SET v.blocked = $blocked
			WITH v, changed, CASE WHEN changed THEN [(v)<-[:HAS]-(c:Client) | c.id] ELSE [] END AS clients
			CALL {
				WITH v
				WITH v, v.field AS field, v.value AS value WHERE NOT v.blocked AND NOT EXISTS { (v)<-[:HAS]-() }
				DETACH DELETE v
				WITH field, value`+deleteUnheldKeysOf+`
			}
			RETURN changed, clients`,
			map[string]any{"project": project, "token": searchToken(project), "field": field, "value": value, "blocked": blocked})
		if err != nil {
			return touched{}, err
		}
		return touched{clients: strs(rec, "clients")}, nil
	})
	return value, err
}

// BlockedValues lists a project's blocked values.
func (s *Store) BlockedValues(ctx context.Context, project string) ([]identity.KeyPart, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.KeyPart, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return nil, err
		}
		recs, err := collect(ctx, tx, `MATCH (v:Value {project: $project, blocked: true})
			RETURN v.field AS field, v.value AS value ORDER BY field, value LIMIT 10000`, map[string]any{"project": project})
		out := make([]identity.KeyPart, len(recs))
		for i, rec := range recs {
			out[i] = identity.KeyPart{Field: str(rec, "field"), Value: str(rec, "value")}
		}
		return out, err
	})
}

// ExcludeClient keeps a client out of every link (a test account, a bot).
func (s *Store) ExcludeClient(ctx context.Context, project, client string) error {
	return s.setExcluded(ctx, project, client, true)
}

// IncludeClient undoes ExcludeClient.
func (s *Store) IncludeClient(ctx context.Context, project, client string) error {
	return s.setExcluded(ctx, project, client, false)
}

func (s *Store) setExcluded(ctx context.Context, project, client string, excluded bool) error {
	action := map[bool]string{true: "excludeClient", false: "includeClient"}[excluded]
	cause := identity.Cause{Kind: identity.CauseManual, Action: action}
	return s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		// Locked before the flag is read: two calls that read it first
		// would both act on the old value, and one would do nothing.
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id})
			SET c.locked = true REMOVE c.locked
			WITH c, coalesce(c.excluded, false) <> $excluded AS changed
			SET c.excluded = $excluded
			RETURN changed, [(c)-[:LINKED]-(o:Client) | o.id] AS linked`,
			map[string]any{"project": project, "id": client, "excluded": excluded})
		if err != nil || rec == nil {
			return touched{}, orNotFound(err, "client", client)
		}
		if !boolean(rec, "changed") {
			return touched{}, nil
		}
		return touched{clients: append([]string{client}, strs(rec, "linked")...), updated: []string{client}}, nil
	})
}

// AllowKey lifts a key's quarantine: it links its clients again, whatever the cap.
func (s *Store) AllowKey(ctx context.Context, project, rule, key string) error {
	cause := identity.Cause{Kind: identity.CauseManual, Action: "allowKey", Rule: rule}
	return s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		rec, err := single(ctx, tx, `MATCH (k:MatchKey {project: $project, rule: $rule, key: $key})
			SET k.allowed = true, k.quarantined = false
			RETURN [(k)<-[:MATCHES]-(c:Client) | c.id] AS clients`,
			map[string]any{"project": project, "rule": rule, "key": key})
		if err != nil || rec == nil {
			return touched{}, orNotFound(err, "key", key)
		}
		return touched{clients: strs(rec, "clients")}, nil
	})
}

// QuarantinedKeys lists the keys that passed the cap, largest first; not
// those that nobody holds now (their quarantine stays for when they have
// holders again).
func (s *Store) QuarantinedKeys(ctx context.Context, project string) ([]identity.QuarantinedKey, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.QuarantinedKey, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return nil, err
		}
		recs, err := collect(ctx, tx, `MATCH (k:MatchKey {project: $project, quarantined: true})
			WITH k, COUNT { (k)<-[:MATCHES]-() } AS size WHERE size > 0
			RETURN k.rule AS rule, k.key AS key, k.quarantinedAt AS since, size
			ORDER BY size DESC, rule, key LIMIT 1000`, map[string]any{"project": project})
		out := make([]identity.QuarantinedKey, len(recs))
		for i, rec := range recs {
			out[i] = identity.QuarantinedKey{Rule: str(rec, "rule"), Key: str(rec, "key"), Parts: identity.KeyParts(str(rec, "key")),
				Size: int(i64(rec, "size")), Since: when(rec, "since")}
		}
		return out, err
	})
}

// Explain returns the evidence between two clients of one multi-contact: the
// shortest chain of rule matches and manual links, empty when they are not linked.
func (s *Store) Explain(ctx context.Context, project, a, b string) ([]identity.LinkStep, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.LinkStep, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		rec, err := single(ctx, tx, `MATCH (a:Client {project: $project, id: $a}), (b:Client {project: $project, id: $b})
			WHERE a.mc = b.mc AND a <> b
			MATCH p = shortestPath((a)-[:MATCHES|LINKED*..64]-(b))
			WHERE all(n IN nodes(p) WHERE (n:Client AND NOT coalesce(n.excluded, false)) OR (n:MatchKey AND NOT n.quarantined))
			RETURN [n IN nodes(p) | CASE WHEN n:Client THEN {client: n.id} ELSE {rule: n.rule, key: n.key} END] AS path`,
			map[string]any{"project": project, "a": a, "b": b})
		if err != nil || rec == nil {
			return nil, err
		}
		names := map[string]string{}
		for _, r := range ps.rules {
			names[r.ID] = r.Name
		}
		var steps []identity.LinkStep
		path := list(rec, "path")
		for i := 0; i+1 < len(path); {
			from, _ := path[i].(map[string]any)
			next, _ := path[i+1].(map[string]any)
			if c := mapStr(next, "client"); c != "" { // a manual link
				steps = append(steps, identity.LinkStep{From: mapStr(from, "client"), To: c, Manual: true})
				i++
				continue
			}
			to, _ := path[i+2].(map[string]any)
			rule := mapStr(next, "rule")
			steps = append(steps, identity.LinkStep{From: mapStr(from, "client"), To: mapStr(to, "client"), Rule: rule,
				RuleName: names[rule], Parts: identity.KeyParts(mapStr(next, "key"))})
			i += 2
		}
		return steps, nil
	})
}
