package graph

import (
	"context"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// ForgetMultiContact erases a person on request (GDPR, 152-FZ) in one write
// transaction: every client of the multi-contact (id, or an id it absorbed)
// with its channel user id and display name, its HAS edges and the Value
// nodes nobody else holds, its conversations, its manual links, its MATCHES
// edges and the match keys nobody else holds, and the keys nobody holds
// that are made of the values it deletes. The multi-contact's id (and its
// aliases) resolve to nothing afterwards.
//
// What stays, and why: a value or key that another client also holds (it
// is theirs too); a blocked value (the project's block list, which
// unblockValue edits); the channel nodes (the business's accounts); the
// import's applied event ids (ids only: an import run again does not bring
// the person back); and earlier events, which keep their multi-contact and
// client ids but lose any value they named (causeValue, and a quarantined
// key's value: its rule and size stay, its parts go). Ids are the
// caller's keys, not personal data by themselves; a caller whose client
// ids embed personal data (a phone number as an id) must not rely on the
// log forgetting them. The one event added, FORGOTTEN, holds the ids and
// counts (identity.Forgotten), nothing else.
func (s *Store) ForgetMultiContact(ctx context.Context, project, id string) (identity.Event, error) {
	events, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Event, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		rec, err := single(ctx, tx, `MATCH (a:MultiContact {project: $project, id: $id})
			WITH coalesce(a.aliasOf, a.id) AS live
			MATCH (m:MultiContact {project: $project, id: live}) WHERE NOT coalesce(m.dissolved, false)
			RETURN m.id AS id`, map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return nil, orNotFound(err, "multiContact", id)
		}
		live := str(rec, "id")
		// Under the multi-contact's lock no resolution moves a client into
		// or out of it; if it was absorbed or dissolved meanwhile, run again.
		r := resolution{ctx: ctx, tx: tx, ps: ps, now: s.now().UTC()}
		locked, aliases := map[string]identity.MCInfo{}, map[string]bool{}
		if err := r.lock([]string{live}, locked, aliases); err != nil {
			return nil, err
		}
		if _, ok := locked[live]; !ok {
			return nil, errRace
		}
		rec, err = single(ctx, tx, `MATCH (m:MultiContact {project: $project, id: $mc})
			RETURN coalesce(m.dissolved, false) AS dissolved,
				COLLECT { MATCH (c:Client {project: $project, mc: $mc}) RETURN c.id ORDER BY c.id } AS clients,
				COLLECT { MATCH (x:MultiContact {project: $project, aliasOf: $mc}) RETURN x.id } AS aliases`,
			map[string]any{"project": project, "mc": live})
		if err != nil {
			return nil, err
		}
		if boolean(rec, "dissolved") {
			return nil, errRace
		}
		clients, mcs := nonNil(strs(rec, "clients")), append([]string{live}, strs(rec, "aliases")...)
		// Clients a large import wrote and no round resolved yet join the
		// person when they link to it: they are theirs by the rules.
		partners, err := unresolvedPartners(ctx, tx, project, clients)
		if err != nil {
			return nil, err
		}
		clients = dedupe(append(clients, partners...))
		if err := lockClientNodes(ctx, tx, project, clients); err != nil {
			return nil, err
		}
		if len(partners) > 0 { // resolved meanwhile, elsewhere: read the person again
			rec, err := single(ctx, tx, `UNWIND $ids AS id MATCH (c:Client {project: $project, id: id}) WHERE c.mc IS NOT NULL
				RETURN count(c) AS resolved`, map[string]any{"project": project, "ids": partners})
			if err != nil {
				return nil, err
			}
			if i64(rec, "resolved") > 0 {
				return nil, errRace
			}
		}
		counts, err := forget(ctx, tx, project, clients, mcs)
		if err != nil {
			return nil, err
		}
		r.prepare(nil, nil, locked) // the id is dissolved: it resolves to nothing
		ev := identity.Event{Project: project, Type: identity.EventForgotten, MultiContactID: live, ClientIDs: clients,
			Cause: identity.Cause{Kind: identity.CauseManual, Action: "forgetMultiContact"}, At: r.now, Forgotten: &counts}
		return r.commit([]identity.Event{ev}, nil, false)
	})
	if err != nil {
		return identity.Event{}, err
	}
	s.nudge(project, events)
	return events[0], nil
}

// unresolvedPartners returns the clients without a multi-contact (a large
// import's, before its re-resolution) that link to clients, directly or
// through each other, by a key that links or a manual link.
func unresolvedPartners(ctx context.Context, tx neo4j.ManagedTransaction, project string, clients []string) ([]string, error) {
	var found []string
	for from := clients; len(from) > 0; {
		rec, err := single(ctx, tx, `UNWIND $from AS id
			MATCH (c:Client {project: $project, id: id})
			WITH collect(c) AS cs
			RETURN COLLECT { UNWIND cs AS c
				MATCH (c)-[:MATCHES]->(k:MatchKey)<-[:MATCHES]-(o:Client)
				WHERE NOT k.quarantined AND o.mc IS NULL AND NOT coalesce(c.excluded, false) AND NOT coalesce(o.excluded, false)
				RETURN o.id
				UNION
				UNWIND cs AS c
				MATCH (c)-[:LINKED]-(o:Client) WHERE o.mc IS NULL AND NOT coalesce(c.excluded, false) AND NOT coalesce(o.excluded, false)
				RETURN o.id } AS ids`, map[string]any{"project": project, "from": from})
		if err != nil {
			return nil, err
		}
		from = nil
		for _, id := range strs(rec, "ids") {
			if !slices.Contains(clients, id) && !slices.Contains(found, id) {
				found, from = append(found, id), append(from, id)
			}
		}
	}
	return found, nil
}

// forget deletes the locked clients and everything of theirs that nobody
// else holds, and blanks the values named by earlier events; it returns
// what it deleted. A shared Value or MatchKey is locked before it is
// checked, so a concurrent writer giving it to another client either
// commits first (and it stays) or finds it gone and runs again.
func forget(ctx context.Context, tx neo4j.ManagedTransaction, project string, clients, mcs []string) (identity.Forgotten, error) {
	p := map[string]any{"project": project, "ids": clients, "mcs": mcs}
	rec, err := single(ctx, tx, `
		CALL {
			UNWIND $ids AS id
			MATCH (c:Client {project: $project, id: id})
			RETURN count(c) AS clients, sum(COUNT { (c)-[:HAS]->(:Value) }) AS values
		}
		CALL {
			MATCH (v:Conversation {project: $project}) WHERE v.client IN $ids
			RETURN count(v) AS conversations
		}
		CALL {
			UNWIND $ids AS id
			MATCH (:Client {project: $project, id: id})-[l:LINKED]-()
			RETURN count(DISTINCT l) AS links
		}
		CALL {
			UNWIND $ids AS id
			MATCH (:Client {project: $project, id: id})-[:HAS]->(v:Value)
			RETURN collect(DISTINCT {field: v.field, value: v.value}) AS held
		}
		RETURN clients, values, conversations, links, held`, p)
	if err != nil {
		return identity.Forgotten{}, err
	}
	counts := identity.Forgotten{Clients: int(i64(rec, "clients")), Values: int(i64(rec, "values")),
		Conversations: int(i64(rec, "conversations")), Links: int(i64(rec, "links"))}

	// The person's values, held now or given and taken back before: a key
	// that nobody holds and that is made of them alone says which of them
	// went together, even where each value stays (someone else holds it,
	// or it is blocked).
	var personal []identity.KeyPart
	if held, ok := rec.Get("held"); ok {
		for _, m := range held.([]any) {
			fv := m.(map[string]any)
			personal = append(personal, identity.KeyPart{Field: fv["field"].(string), Value: fv["value"].(string)})
		}
	}
	deleted, err := deleteClients(ctx, tx, project, clients, true)
	if err != nil {
		return identity.Forgotten{}, err
	}
	former, gave, err := forgetFormerValues(ctx, tx, project, clients)
	if err != nil {
		return identity.Forgotten{}, err
	}
	deleted = append(deleted, former...)
	personal = append(personal, gave...)
	if err := deleteKeysMadeOf(ctx, tx, project, deleted, personal); err != nil {
		return identity.Forgotten{}, err
	}
	var values [][]string // field, value: an event names a value of one field
	for _, v := range deleted {
		values = append(values, []string{v.Field, v.Value})
	}
	// Earlier events keep their ids but not the values they named: those of
	// this multi-contact's ids, those a forgotten client's write caused (a
	// value it was given or lost, on a multi-contact it has left since), and
	// any naming a value just deleted.
	if err := exec(ctx, tx, `CALL {
			UNWIND $mcs AS mc
			MATCH (e:Event {project: $project, mc: mc}) WHERE e.causeValue IS NOT NULL AND e.causeValue <> ''
			SET e.causeValue = null
		}
		CALL {
			MATCH (e:Event {project: $project}) WHERE e.causeClient IN $ids AND e.causeValue IS NOT NULL
			SET e.causeValue = null
		}
		CALL {
			MATCH (e:Event {project: $project}) WHERE size($values) > 0 AND [e.causeField, e.causeValue] IN $values
			SET e.causeValue = null
		}`, map[string]any{"project": project, "mcs": mcs, "values": nonNil(values), "ids": clients}); err != nil {
		return identity.Forgotten{}, err
	}
	// So do the quarantine events: the key they name is made of values.
	recs, err := collect(ctx, tx, `MATCH (e:Event {project: $project}) WHERE e.quarantinedKey <> ''
		RETURN e.seq AS seq, e.mc AS mc, e.quarantinedKey AS key`, map[string]any{"project": project})
	if err != nil {
		return identity.Forgotten{}, err
	}
	// And a key made of the person's values alone, even where each value
	// stays, as deleteKeysMadeOf deletes such keys: unless one remaining
	// client holds them all, it says which of the person's went together.
	theirs := append(slices.Clone(personal), deleted...)
	var blank []map[string]any
	for _, rec := range recs {
		kp := identity.KeyParts(str(rec, "key"))
		sure := slices.Contains(mcs, str(rec, "mc")) || slices.ContainsFunc(kp, func(p identity.KeyPart) bool { return slices.Contains(deleted, p) })
		if sure || !slices.ContainsFunc(kp, func(p identity.KeyPart) bool { return !slices.Contains(theirs, p) }) {
			blank = append(blank, map[string]any{"seq": i64(rec, "seq"), "sure": sure, "parts": partRows(kp)})
		}
	}
	if err := exec(ctx, tx, `UNWIND $blank AS r
		MATCH (e:Event {project: $project, seq: r.seq})
		WITH e, r WHERE r.sure OR NOT `+heldWhole+`
		SET e.quarantinedKey = ''`, map[string]any{"project": project, "blank": nonNil(blank)}); err != nil {
		return identity.Forgotten{}, err
	}
	return counts, nil
}

// deleteClients deletes the locked clients with their conversations, and
// their values that nobody else holds (a blocked value stays: the
// project's block list keeps it) with the keys made of them that nobody
// holds. Their keys that nobody else holds go too when erasing (a key of
// several fields names a combination of the person's values), else only
// when a value they are made of is gone: a key whose values are all still
// held keeps its quarantine or an admin's allowing for its next holders.
// Each value and key is locked in a fixed order before it is checked, so a
// concurrent writer giving one to another client either commits first
// (and it stays) or finds it gone and runs again. It returns the values
// it deleted.
func deleteClients(ctx context.Context, tx neo4j.ManagedTransaction, project string, clients []string, erasing bool) ([]identity.KeyPart, error) {
	p := map[string]any{"project": project, "ids": clients, "erasing": erasing, "keySep": identity.KeySep}
	recs, err := collect(ctx, tx, `UNWIND $ids AS id
		MATCH (:Client {project: $project, id: id})-[:HAS]->(v:Value)
		WITH DISTINCT v ORDER BY v.field, v.value
		SET v.locked = true REMOVE v.locked
		WITH v
		WHERE NOT coalesce(v.blocked, false) AND NOT EXISTS { MATCH (v)<-[:HAS]-(o:Client) WHERE NOT o.id IN $ids }
		WITH v, v.field AS field, v.value AS value
		DETACH DELETE v
		WITH field, value`+deleteUnheldKeysOf+`
		RETURN field, value`, p)
	if err != nil {
		return nil, err
	}
	if err := exec(ctx, tx, `UNWIND $ids AS id
		MATCH (:Client {project: $project, id: id})-[:MATCHES]->(k:MatchKey)
		WITH DISTINCT k ORDER BY k.rule, k.key
		SET k.locked = true REMOVE k.locked
		WITH k
		WHERE NOT EXISTS { MATCH (k)<-[:MATCHES]-(o:Client) WHERE NOT o.id IN $ids }
			AND ($erasing OR `+madeOfAGoneValue+`)
		DETACH DELETE k`, p); err != nil {
		return nil, err
	}
	if err := exec(ctx, tx, `MATCH (v:Conversation {project: $project}) WHERE v.client IN $ids DETACH DELETE v`, p); err != nil {
		return nil, err
	}
	if err := exec(ctx, tx, `UNWIND $ids AS id MATCH (c:Client {project: $project, id: id}) DETACH DELETE c`, p); err != nil {
		return nil, err
	}
	return keyParts(recs), nil
}

// keyParts reads records of field and value.
func keyParts(recs []*neo4j.Record) []identity.KeyPart {
	var out []identity.KeyPart
	for _, rec := range recs {
		out = append(out, identity.KeyPart{Field: str(rec, "field"), Value: str(rec, "value")})
	}
	return out
}

// forgetFormerValues deletes what is left of the values the clients gave
// and took back before (their events name them, by causeClient): the
// Value nodes nobody holds, locked before they are checked (a value taken
// from its last holder is deleted at once now; earlier versions left
// them). It returns every such value that has no node left, for the keys
// made of them to go too, and every value the clients gave and took back
// (gave). A value someone holds stays theirs.
func forgetFormerValues(ctx context.Context, tx neo4j.ManagedTransaction, project string, clients []string) (gone, gave []identity.KeyPart, err error) {
	// An event that names no value (an upsert, a link, a re-resolution)
	// keeps '' there: not a value of the person's.
	recs, err := collect(ctx, tx, `MATCH (e:Event {project: $project}) WHERE e.causeClient IN $ids AND e.causeValue <> ''
			AND e.causeField <> ''
		RETURN DISTINCT e.causeField AS field, e.causeValue AS value`, map[string]any{"project": project, "ids": clients})
	if err != nil || len(recs) == 0 {
		return nil, nil, err
	}
	gave = keyParts(recs)
	var former []map[string]any
	for _, p := range gave {
		former = append(former, map[string]any{"field": p.Field, "value": p.Value})
	}
	recs, err = collect(ctx, tx, `UNWIND $former AS f
		MATCH (v:Value {project: $project, field: f.field, value: f.value})
		WITH v ORDER BY v.field, v.value
		SET v.locked = true REMOVE v.locked
		WITH v WHERE NOT coalesce(v.blocked, false) AND NOT EXISTS { (v)<-[:HAS]-() }
		DETACH DELETE v`, map[string]any{"project": project, "former": former})
	if err != nil {
		return nil, nil, err
	}
	// Deleted now or before (a removal deletes a value nobody holds): the
	// keys made of it may be left, and events may name it.
	recs, err = collect(ctx, tx, `UNWIND $former AS f
		WITH f WHERE NOT EXISTS { (:Value {project: $project, field: f.field, value: f.value}) }
		RETURN f.field AS field, f.value AS value`, map[string]any{"project": project, "former": former})
	if err != nil {
		return nil, nil, err
	}
	return keyParts(recs), gave, nil
}

// deleteKeysMadeOf deletes the match keys that nobody holds and that are
// made of a deleted value, or of the person's values alone: keys of an
// excluded client, of a disabled rule, of a combination whose other
// values others hold, or whose values stay (held by others, or blocked),
// which the clients' own keys (deleteClients) do not reach. It reads the
// project's unheld keys to find them.
func deleteKeysMadeOf(ctx context.Context, tx neo4j.ManagedTransaction, project string, deleted, personal []identity.KeyPart) error {
	if len(deleted) == 0 && len(personal) == 0 {
		return nil
	}
	parts, theirs := map[identity.KeyPart]bool{}, map[identity.KeyPart]bool{}
	for _, p := range deleted {
		parts[p], theirs[p] = true, true
	}
	for _, p := range personal {
		theirs[p] = true
	}
	recs, err := collect(ctx, tx, `MATCH (k:MatchKey {project: $project}) WHERE NOT EXISTS { (k)<-[:MATCHES]-() }
		RETURN k.rule AS rule, k.key AS key`, map[string]any{"project": project})
	if err != nil {
		return err
	}
	// A key of the person's values alone stays when one client holds them
	// all (with a rule off, say): it is that client's too, with its
	// quarantine or an admin's allowing.
	var keys []map[string]any
	for _, rec := range recs {
		kp := identity.KeyParts(str(rec, "key"))
		gone := slices.ContainsFunc(kp, func(p identity.KeyPart) bool { return parts[p] })
		if gone || !slices.ContainsFunc(kp, func(p identity.KeyPart) bool { return !theirs[p] }) {
			keys = append(keys, map[string]any{"rule": str(rec, "rule"), "key": str(rec, "key"), "sure": gone, "parts": partRows(kp)})
		}
	}
	return exec(ctx, tx, `UNWIND $keys AS r
		MATCH (k:MatchKey {project: $project, rule: r.rule, key: r.key})
		WITH k, r ORDER BY k.rule, k.key
		SET k.locked = true REMOVE k.locked
		WITH k, r WHERE NOT EXISTS { (k)<-[:MATCHES]-() } AND (r.sure OR NOT `+heldWhole+`)
		DELETE k`, map[string]any{"project": project, "keys": nonNil(keys)})
}

// heldWhole is the Cypher condition "one client holds every value of
// r.parts" (a key's parts as partRows gives them): such a key is that
// client's too.
const heldWhole = `EXISTS {
	MATCH (o:Client)-[:HAS]->(:Value {project: $project, field: r.parts[0].field, value: r.parts[0].value})
	WHERE all(p IN r.parts WHERE EXISTS { (o)-[:HAS]->(:Value {project: $project, field: p.field, value: p.value}) })
}`

// partRows passes a key's parts to a statement.
func partRows(parts []identity.KeyPart) []map[string]any {
	rows := make([]map[string]any, len(parts))
	for i, p := range parts {
		rows[i] = map[string]any{"field": p.Field, "value": p.Value}
	}
	return rows
}
