package graph

import (
	"fmt"
	"maps"

	"github.com/multicontact/multicontact/identity"
)

// prepare turns the assignments into the changes that commit stores in the
// statement that numbers the events: new multi-contacts, sizes, aliases of
// the absorbed ids, dissolved ids, and the mc of every member whose id
// changed.
func (r *resolution) prepare(as []identity.Assignment, members map[string]identity.Member, locked map[string]identity.MCInfo) {
	var mcRows, clientRows []map[string]any
	absorbed := []map[string]any{}
	kept := map[string]bool{}
	for _, a := range as {
		kept[a.ID] = true
		mcRows = append(mcRows, map[string]any{"id": a.ID, "size": len(a.Members), "new": a.New})
		for _, old := range a.Absorbed {
			kept[old] = true
			absorbed = append(absorbed, map[string]any{"id": old, "into": a.ID})
		}
		for _, c := range a.Members {
			if members[c].MC != a.ID {
				clientRows = append(clientRows, map[string]any{"id": c, "mc": a.ID})
			}
		}
	}
	dissolved := []string{}
	for id := range locked {
		if !kept[id] {
			dissolved = append(dissolved, id)
		}
	}
	r.changes = map[string]any{"mcs": nonNil(mcRows), "absorbed": absorbed, "dissolved": dissolved, "clients": nonNil(clientRows)}
}

// writeMultiContacts is the part of commit's statement that stores what
// prepare made, under the multi-contacts' locks taken before.
const writeMultiContacts = `
		CALL {
			UNWIND [row IN $in.mcs WHERE row.new] AS row
			CREATE (:MultiContact {project: $project, id: row.id, size: row.size, createdAt: $now, updatedAt: $now, version: 1})
		}
		CALL {
			UNWIND [row IN $in.mcs WHERE NOT row.new] AS row
			MATCH (m:MultiContact {project: $project, id: row.id})
			SET m.size = row.size, m.updatedAt = $now
		}
		CALL {
			UNWIND $in.absorbed AS row
			MATCH (m:MultiContact {project: $project, id: row.id})
			SET m.aliasOf = row.into, m.size = 0, m.updatedAt = $now
			WITH row
			MATCH (a:MultiContact {project: $project, aliasOf: row.id})
			SET a.aliasOf = row.into
		}
		CALL {
			UNWIND $in.dissolved AS id
			MATCH (m:MultiContact {project: $project, id: id})
			SET m.size = 0, m.dissolved = true, m.updatedAt = $now
		}
		CALL {
			UNWIND $in.clients AS row
			MATCH (c:Client {project: $project, id: row.id})
			SET c.mc = row.mc
		}
`

// commit stores, in one statement, the multi-contact changes that prepare
// made (none if it was not called) and the events, numbered in commit order.
// Taking the project's lock last (after the multi-contacts') keeps the lock
// order fixed and makes sequence order equal commit order: Cypher
// write-locks p before it reads the p.seq that its SET depends on, and holds
// the lock until commit, so the next writer numbers after this one's commit.
// Hence no gaps (a rolled-back transaction gives its numbers back) and a
// reader that sees event N already sees every event below N, which is what
// the subscribers' tailer (package broker) relies on. While the project
// re-resolves, the changed clients are marked dirty so that the
// re-resolution resolves them again when it finishes (docs/architecture.md
// §6); its own repair pass (repair) clears the mark instead.
//
// Under the project's lock, commit also checks that the project's
// configuration is still the one the transaction decided and computed keys
// under (r.ps): a rule changed meanwhile, and its re-resolution may have
// finished without seeing this transaction's values, so the transaction
// runs again under the new rules (errRace).
func (r *resolution) commit(events []identity.Event, clients []string, repair bool) ([]identity.Event, error) {
	in := map[string]any{"mcs": []any{}, "absorbed": []any{}, "dissolved": []any{}, "clients": []any{}}
	maps.Copy(in, r.changes)
	rows := make([]map[string]any, len(events))
	for i := range events {
		e := &events[i]
		rows[i] = map[string]any{"type": string(e.Type), "mc": e.MultiContactID,
			"previous": nonNil(e.PreviousIDs), "new": nonNil(e.NewIDs), "clients": nonNil(e.ClientIDs),
			"causeKind": string(e.Cause.Kind), "causeAction": e.Cause.Action, "causeField": e.Cause.Field,
			"causeValue": e.Cause.Value, "causeRule": e.Cause.Rule, "causeClient": e.Cause.Client, "at": e.At,
			"forgotten": nil, "quarantined": nil}
		if f := e.Forgotten; f != nil {
			rows[i]["forgotten"] = []int64{int64(f.Clients), int64(f.Values), int64(f.Conversations), int64(f.Links)}
		}
		if q := e.Quarantined; q != nil {
			rows[i]["quarantined"] = map[string]any{"rule": q.Rule, "key": q.Key, "size": q.Size, "since": q.Since}
		}
	}
	in["rows"], in["ids"] = rows, nonNil(clients)
	var lease any
	if r.lease != "" {
		lease = r.lease
	}
	params := map[string]any{"project": r.ps.ID, "now": r.now, "repair": repair, "version": r.ps.version, "lease": lease, "in": in}
	// One round trip: the multi-contacts' changes, then number and store
	// the events, then mark or unmark.
	rec, err := single(r.ctx, r.tx, writeMultiContacts+`
		WITH count(*) AS written
		MATCH (p:Project {id: $project})
		SET p.seq = p.seq + size($in.rows)
		WITH p, p.seq - size($in.rows) AS base
		CALL {
			WITH base
			UNWIND range(0, size($in.rows) - 1) AS i
			WITH base + i + 1 AS seq, $in.rows[i] AS r
			CREATE (:Event {project: $project, seq: seq, type: r.type, mc: r.mc, previous: r.previous,
				new: r.new, clients: r.clients, causeKind: r.causeKind, causeAction: r.causeAction,
				causeField: r.causeField, causeValue: r.causeValue, causeRule: r.causeRule, causeClient: r.causeClient, at: r.at,
				forgottenClients: r.forgotten[0], forgottenValues: r.forgotten[1],
				forgottenConversations: r.forgotten[2], forgottenLinks: r.forgotten[3],
				quarantinedRule: r.quarantined.rule, quarantinedKey: r.quarantined.key,
				quarantinedSize: r.quarantined.size, quarantinedSince: r.quarantined.since})
		}
		CALL {
			WITH p
			UNWIND CASE WHEN $repair OR p.resolution = 'RUNNING' THEN $in.ids ELSE [] END AS id
			MATCH (c:Client {project: $project, id: id})
			SET c.dirty = CASE WHEN $repair THEN null ELSE true END
		}
		RETURN base, coalesce(p.configVersion, 0) = $version AS current,
			$lease IS NULL OR p.resolverLease = $lease AS leased`,
		params)
	if err != nil {
		return nil, err
	}
	if !boolean(rec, "leased") {
		return nil, errLeaseLost
	}
	if !boolean(rec, "current") {
		return nil, errRace
	}
	base := i64(rec, "base")
	for i := range events {
		events[i].Seq = base + int64(i) + 1
	}
	return events, nil
}

// errLeaseLost stops a round of the batch path whose store no longer holds
// the project's re-resolution lease (its renewals failed while another
// store took it): its snapshot is not the new holder's, and writing from it
// could undo what the new holder resolved.
var errLeaseLost = fmt.Errorf("the re-resolution's lease was taken by another store: %w", ErrResolving)

// nudge tells the notifier, after a commit that recorded events, that the
// project's log has grown. It does not hand the events over: subscribers
// read them from the log in sequence order, so two commits finishing in
// either order reach them in the order they were numbered.
func (s *Store) nudge(project string, events []identity.Event) {
	if s.notifier != nil && len(events) > 0 {
		s.notifier.Nudge(project)
	}
}
