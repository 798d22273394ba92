package graph

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// quarantine is a key that a write has just pushed over the project's cap.
type quarantine struct {
	key     identity.QuarantinedKey
	writer  string   // the client whose new key passed the cap
	holders []string // the clients that hold it
}

// heldValue is how a client holds one value: what decides whether it links.
type heldValue struct {
	source   identity.Source
	verified bool
	blocked  bool
}

// keyState is what a client's match keys follow: whether it is excluded,
// its values that are not blocked, and the keys it has now.
type keyState struct {
	excluded bool
	values   []identity.Value
	keys     map[[2]string]bool // rule, key
}

// refreshKeys makes the clients' MATCHES edges follow what they hold now,
// read here under their locks (syncKeys); writeOps, which holds that state
// already, writes the keys with the values (writeOutcome). Read without
// the locks, a value that a concurrent write is giving a client would be
// missed by both: the write computed its keys with the blocked flag it
// read, this with the values committed before the write.
func refreshKeys(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState, clients []string) ([]string, []quarantine, error) {
	recs, err := collect(ctx, tx, `UNWIND $in.ids AS id
		MATCH (c:Client {project: $project, id: id})
		SET c.locked = true REMOVE c.locked
		WITH c
		RETURN c.id AS id, coalesce(c.excluded, false) AS excluded,
			`+valuesColumn+`,
			[(c)-[:MATCHES]->(k:MatchKey) | {rule: k.rule, key: k.key}] AS keys`,
		map[string]any{"project": ps.ID, "in": map[string]any{"ids": nonNil(dedupe(clients))}})
	if err != nil {
		return nil, nil, err
	}
	states := make(map[string]keyState, len(recs))
	for _, rec := range recs {
		ks := keyState{excluded: boolean(rec, "excluded"), values: valuesOf(rec), keys: map[[2]string]bool{}}
		for _, k := range list(rec, "keys") {
			m, _ := k.(map[string]any)
			ks.keys[[2]string{mapStr(m, "rule"), mapStr(m, "key")}] = true
		}
		states[str(rec, "id")] = ks
	}
	return syncKeys(ctx, tx, ps, states)
}

// syncKeys makes the clients' MATCHES edges equal to the keys that their
// unblocked linking values (identity.LinkingValues) yield under the enabled
// rules (none for an excluded client). It returns the multi-contacts of
// every member of a key that has just passed the cap (the key stops
// linking, so they are resolved too), and those keys.
func syncKeys(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState, states map[string]keyState) ([]string, []quarantine, error) {
	_, seeds, quarantined, err := writeOutcome(ctx, tx, ps, outcome{states: states}, time.Time{}, nil)
	return seeds, quarantined, err
}

// writeKeys is the part of writeOutcome's statement that gives clients
// values and then makes their MATCHES edges follow their key states. A
// value found blocked where its key state assumed it free makes no key
// (the keys built from it are skipped). A key that loses its last holder
// goes when a value it is made of is gone (writeRecords deletes a value
// nobody holds); otherwise it stays, with its quarantine or an admin's
// allowing, for when it has holders again. It yields moved (the clients of
// values whose blocked flag differs from the assumption), blocked and
// quarantined (the keys it pushed over the cap).
const writeKeys = `CALL {
			UNWIND $in.adds AS r
			MATCH (c:Client {project: $project, id: r.client})
			MERGE (v:Value {project: $project, field: r.field, value: r.value})
			ON CREATE SET v.blocked = false, v.searchToken = $token
			MERGE (c)-[h:HAS]->(v)
			ON CREATE SET h.source = r.source, h.verified = r.verified, h.at = $now, h.extension = r.extension
			ON MATCH SET h.source = CASE WHEN r.verified AND NOT h.verified THEN r.source
					WHEN h.source = 'WIDGET' AND NOT h.verified AND r.source <> 'WIDGET' THEN r.source ELSE h.source END,
				h.verified = h.verified OR r.verified, h.extension = coalesce(r.extension, h.extension)
			WITH r, coalesce(v.blocked, false) AS blocked WHERE blocked <> r.blocked
			RETURN collect(r.client) AS moved, collect(CASE WHEN blocked THEN r.field + '=' + r.value END) AS blocked
		}
		CALL {
			UNWIND $in.del AS r
			MATCH (:Client {project: $project, id: r.client})-[m:MATCHES]->(k:MatchKey {project: $project, rule: r.rule, key: r.key})
			DELETE m
			WITH collect(DISTINCT k) AS ks // all edges first: two clients may let go of one key
			UNWIND ks AS k
			WITH k WHERE NOT EXISTS { (k)<-[:MATCHES]-() } AND ` + madeOfAGoneValue + `
			DETACH DELETE k
		}
		CALL {
			WITH blocked
			UNWIND [r IN $in.add WHERE none(part IN r.parts WHERE part IN blocked)] AS r
			MATCH (c:Client {project: $project, id: r.client})
			MERGE (k:MatchKey {project: $project, rule: r.rule, key: r.key})
			ON CREATE SET k.quarantined = false, k.allowed = false
			MERGE (c)-[:MATCHES]->(k)
			WITH k, min(c.id) AS writer
			WHERE NOT k.quarantined AND NOT k.allowed AND COUNT { (k)<-[:MATCHES]-() } > $cap
			SET k.quarantined = true, k.quarantinedAt = datetime()
			RETURN collect({rule: k.rule, key: k.key, since: k.quarantinedAt, writer: writer,
				holders: [(k)<-[:MATCHES]-(o:Client) | o.id],
				mcs: [(k)<-[:MATCHES]-(o:Client) WHERE o.mc IS NOT NULL | o.mc]}) AS quarantined
		}`

// madeOfAGoneValue is the condition that a value the key k is made of has
// no node any more ($keySep is identity.KeySep; a field key never holds
// '=', a value may).
const madeOfAGoneValue = `any(part IN split(k.key, $keySep) WHERE NOT EXISTS {
				(:Value {project: $project, field: split(part, '=')[0], value: substring(part, size(split(part, '=')[0]) + 1)}) })`

// deleteUnheldKeysOf is the clause that follows the deletion of a Value:
// with field and value in scope, it deletes the keys of one-field rules
// made of it that nobody holds (an excluded client's, a disabled rule's,
// the keys of a value once blocked), so that no key names a value that
// is gone. A key of several fields is found by a forget
// (deleteKeysMadeOf), which reads the project's unheld keys.
const deleteUnheldKeysOf = `
		CALL {
			WITH field, value
			MATCH (r:Rule {project: $project}) WHERE all(f IN r.fields WHERE f = field)
			MATCH (k:MatchKey {project: $project, rule: r.id, key: field + '=' + value})
			WHERE NOT EXISTS { (k)<-[:MATCHES]-() }
			DETACH DELETE k
		}`

// givenAgain is a value's edge once the value is given with source and
// verified, as writeKeys' MERGE above writes it (decide.go computes keys
// with it before the statement runs): a new edge (had false) takes
// them; an edge already there becomes verified when either is, and takes
// the new source when it becomes verified or when only a visitor's
// unverified typing vouched for it. The value's blocked flag stays.
func givenAgain(h heldValue, had bool, source identity.Source, verified bool) heldValue {
	switch {
	case !had:
		h.source, h.verified = source, verified
	case verified && !h.verified, h.source == identity.SourceWidget && !h.verified && source != identity.SourceWidget:
		h.source, h.verified = source, h.verified || verified
	default:
		h.verified = h.verified || verified
	}
	return h
}

// planKeys compares each client's keys with those its state yields: the
// MATCHES edges to delete, and those to add (sorted by key: a fixed order
// of key locks makes deadlocks rarer), each with the "field=value" parts
// it is built from.
func planKeys(ps *projectState, states map[string]keyState) (add, del []map[string]any) {
	rules := ps.activeRules()
	for _, id := range keysOf(states) {
		st := states[id]
		want := map[[2]string]bool{}
		if !st.excluded {
			vals := identity.LinkingValues(st.values, ps.AcceptUnverifiedWidgetValues)
			for _, r := range rules {
				keys, _ := identity.MatchKeys(r, vals) // bounded; the cut is deterministic
				for _, k := range keys {
					want[[2]string{r.ID, k}] = true
				}
			}
		}
		for rk := range st.keys {
			if want[rk] {
				delete(want, rk)
			} else {
				del = append(del, map[string]any{"client": id, "rule": rk[0], "key": rk[1]})
			}
		}
		for rk := range want {
			add = append(add, map[string]any{"client": id, "rule": rk[0], "key": rk[1], "parts": partsOf(rk[1])})
		}
	}
	sort.Slice(add, func(i, j int) bool {
		return add[i]["rule"].(string)+add[i]["key"].(string) < add[j]["rule"].(string)+add[j]["key"].(string)
	})
	return add, del
}

// partsOf is the "field=value" parts a key is built from.
func partsOf(key string) []string {
	var out []string
	for _, p := range identity.KeyParts(key) {
		out = append(out, p.Field+"="+p.Value)
	}
	return out
}

// rebuildKeys brings the keys of every stale rule up to date: a removed
// rule's go; an edited one's follow the clients' values (buildKeys), so
// that a key that stays keeps its node, and with it an admin's decision
// (allowed) and its quarantine. Then it checks keys against the cap: all
// of them when the cap changed, else the rebuilt rules'.
func (s *Store) rebuildKeys(ctx context.Context, project string, all bool) error {
	type staleRule struct {
		rule    identity.Rule
		removed bool
		since   int64 // the configuration version that made it stale
	}
	stale, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]staleRule, error) {
		recs, err := collect(ctx, tx, `MATCH (r:Rule {project: $project, stale: true})
			RETURN r {.id, .name, .fields, .enabled, .requireVerified} AS rule, coalesce(r.removed, false) AS removed,
				coalesce(r.staleAt, -1) AS since`,
			map[string]any{"project": project})
		var out []staleRule
		for _, rec := range recs {
			m, _ := rec.AsMap()["rule"].(map[string]any)
			out = append(out, staleRule{decodeRule(m), boolean(rec, "removed"), i64(rec, "since")})
		}
		return out, err
	})
	if err != nil {
		return err
	}
	for _, sr := range stale {
		if sr.removed {
			err = s.deleteKeys(ctx, project, sr.rule.ID)
		} else {
			err = s.buildKeys(ctx, project, sr.rule)
		}
		if err != nil {
			return err
		}
		if keysBuilt != nil {
			keysBuilt(sr.rule.ID)
		}
		// The rule is fresh unless it changed again while its keys were
		// built: then it stays stale, and the next round builds it again.
		if _, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(ctx, tx, `MATCH (r:Rule {project: $project, id: $id})
				WHERE coalesce(r.staleAt, -1) = $since
				FOREACH (_ IN CASE WHEN r.removed THEN [1] ELSE [] END | DELETE r)
				REMOVE r.stale, r.staleAt`, map[string]any{"project": project, "id": sr.rule.ID, "since": sr.since})
		}); err != nil {
			return err
		}
	}
	var rebuilt []string
	for _, sr := range stale {
		rebuilt = append(rebuilt, sr.rule.ID)
	}
	if !all && len(rebuilt) == 0 {
		return nil
	}
	return s.recheckQuarantine(ctx, project, all, rebuilt)
}

// keysBuilt, set only by tests, runs after a stale rule's keys are built
// and before the rule is marked fresh.
var keysBuilt func(rule string)

// deleteKeys removes a rule's keys in batches.
func (s *Store) deleteKeys(ctx context.Context, project, rule string) error {
	return s.inBatches(ctx, `MATCH (k:MatchKey {project: $project, rule: $rule})
		WITH k LIMIT $n DETACH DELETE k RETURN count(*) AS n`, map[string]any{"project": project, "rule": rule})
}

// inBatches runs a statement that changes at most $n things and returns
// how many (n) until it returns 0.
func (s *Store) inBatches(ctx context.Context, q string, params map[string]any) error {
	params["n"] = batchWrites
	for {
		n, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (int64, error) {
			rec, err := single(ctx, tx, q, params)
			return i64(rec, "n"), err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// buildKeys makes the MATCHES edges of a rule follow the clients' values,
// page by page, for the clients that hold a value of its first field
// (only they can have a key; none when the rule is disabled); then it
// takes the rule's keys from every other client, and deletes the keys
// nobody holds, unless an admin allowed them or they are quarantined (a
// decision kept for when they have holders again, as a write keeps it).
func (s *Store) buildKeys(ctx context.Context, project string, rule identity.Rule) error {
	acceptWidget, err := s.acceptsUnverifiedWidgetValues(ctx, project)
	if err != nil {
		return err
	}
	var candidates []string
	if rule.Enabled {
		candidates, err = readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]string, error) {
			var ids []string
			err := stream(ctx, tx, `MATCH (:Value {project: $project, field: $field})<-[:HAS]-(c:Client)
				RETURN DISTINCT c.id AS id`, map[string]any{"project": project, "field": rule.Fields[0]},
				func(rec *neo4j.Record) { ids = append(ids, str(rec, "id")) })
			return ids, err
		})
		if err != nil {
			return err
		}
	}
	slices.Sort(candidates)
	for len(candidates) > 0 {
		page := candidates[:min(batchClients, len(candidates))]
		done, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (int, error) {
			return rekeyPage(ctx, tx, project, rule, acceptWidget, page)
		})
		if err != nil {
			return err
		}
		candidates = candidates[done:]
	}
	p := map[string]any{"project": project, "rule": rule.ID, "field": rule.Fields[0], "enabled": rule.Enabled}
	if err := s.inBatches(ctx, `MATCH (:MatchKey {project: $project, rule: $rule})<-[m:MATCHES]-(c:Client)
		WHERE NOT $enabled OR NOT EXISTS { (c)-[:HAS]->(:Value {field: $field}) }
		WITH m LIMIT $n DELETE m RETURN count(*) AS n`, p); err != nil {
		return err
	}
	return s.inBatches(ctx, `MATCH (k:MatchKey {project: $project, rule: $rule})
		WHERE NOT k.allowed AND NOT k.quarantined AND NOT EXISTS { (k)<-[:MATCHES]-() }
		WITH k LIMIT $n DELETE k RETURN count(*) AS n`, p)
}

// keysPerTx bounds the keys that one transaction of buildKeys writes: a
// page of clients may hold up to MaxKeysPerRule keys each.
const keysPerTx = 20 * batchWrites

// rekeyPage gives the clients of page (ids, sorted) exactly the keys of
// rule that their values yield: it locks them and reads their values, so
// that no write moves them between the read and the keys (a key written
// from a value just taken away could pass the cap, and stay quarantined);
// then it writes as many of them as about keysPerTx keys allow. It returns
// how many clients of page it did.
func rekeyPage(ctx context.Context, tx neo4j.ManagedTransaction, project string, rule identity.Rule, acceptWidget bool,
	page []string) (int, error) {
	recs, err := collect(ctx, tx, `UNWIND $ids AS id
		MATCH (c:Client {project: $project, id: id})
		SET c.locked = true REMOVE c.locked
		WITH c
		RETURN c.id AS id, coalesce(c.excluded, false) AS excluded,
			[(c)-[h:HAS]->(v:Value) WHERE v.field IN $fields AND NOT v.blocked |
				{field: v.field, value: v.value, verified: h.verified, source: h.source}] AS values`,
		map[string]any{"project": project, "ids": page, "fields": rule.Fields})
	if err != nil {
		return 0, err
	}
	// In the page's order, so that the clients done are a prefix of it.
	slices.SortFunc(recs, func(a, b *neo4j.Record) int { return strings.Compare(str(a, "id"), str(b, "id")) })
	var rows []map[string]any
	done, keys := len(page), 0
	for _, rec := range recs {
		k := []string{}
		if !boolean(rec, "excluded") {
			if ks, _ := identity.MatchKeys(rule, identity.LinkingValues(valuesOf(rec), acceptWidget)); ks != nil {
				k = ks
			}
		}
		if len(rows) > 0 && keys+len(k) > keysPerTx {
			done, _ = slices.BinarySearch(page, str(rec, "id")) // the rest in the next transaction
			break
		}
		rows, keys = append(rows, map[string]any{"id": str(rec, "id"), "keys": k}), keys+len(k)
	}
	// A key that passes the cap is quarantined as it does, in the
	// transaction that gives it its holders, as a write would: it never
	// links more clients than the cap, not even until the rebuild's own
	// check (recheckQuarantine).
	return done, exec(ctx, tx, `UNWIND $rows AS r
		MATCH (c:Client {project: $project, id: r.id})
		CALL {
			WITH c, r
			MATCH (c)-[m:MATCHES]->(k:MatchKey {project: $project, rule: $rule}) WHERE NOT k.key IN r.keys
			DELETE m
		}
		WITH c, r
		UNWIND r.keys AS key
		MERGE (k:MatchKey {project: $project, rule: $rule, key: key})
		ON CREATE SET k.quarantined = false, k.allowed = false
		MERGE (c)-[:MATCHES]->(k)
		WITH DISTINCT k
		MATCH (p:Project {id: $project})
		WITH k, p WHERE NOT k.quarantined AND NOT k.allowed AND COUNT { (k)<-[:MATCHES]-() } > p.keyCap
		SET k.quarantined = true, k.quarantinedAt = datetime()`,
		map[string]any{"project": project, "rule": rule.ID, "rows": nonNil(rows)})
}

// recheckQuarantine quarantines the keys over the cap. When the cap changed
// (all) it checks every key and frees those at or under it; else it checks
// the rebuilt rules' keys, and a key stays quarantined, as it does when its
// holders leave, until an admin raises the cap or allows it.
func (s *Store) recheckQuarantine(ctx context.Context, project string, all bool, rules []string) error {
	return s.autocommit(ctx, `MATCH (p:Project {id: $project})
		MATCH (k:MatchKey {project: $project}) WHERE $all OR k.rule IN $rules
		CALL {
			WITH p, k
			WITH k, (COUNT { (k)<-[:MATCHES]-() } > p.keyCap OR (k.quarantined AND NOT $all)) AND NOT k.allowed AS over
			SET k.quarantinedAt = CASE WHEN over AND NOT k.quarantined THEN datetime() ELSE k.quarantinedAt END,
				k.quarantined = over
		} IN TRANSACTIONS OF 5000 ROWS`,
		map[string]any{"project": project, "all": all, "rules": rules})
}
