package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// outcome is what writeOps decided, for writeOutcome to write.
type outcome struct {
	upserts       []map[string]any // clients created or updated (clientRow)
	removes       []map[string]any // values taken away (removeRows)
	conversations []map[string]any
	unclaimed     []string         // claimed event ids of ops a strict write never reached
	adds          []map[string]any // values given (rows of decision.adds, marked by markBlocked)
	states        map[string]keyState
}

// writeOutcome writes an outcome in one statement (writeRecords, then
// writeKeys): the clients, the values taken away, the conversations, the
// release of unreached event ids, then the values given and the changed
// clients' match keys. With first, the same statement then runs the
// resolution's first round (loadRound) for first's multi-contacts and
// clients, and first.recs holds what it read.
//
// It returns what writeKeys says: the clients of every value whose blocked
// flag differs from what its key state assumed (moved: the caller reads
// their keys again, refreshKeys), the multi-contacts of the holders of
// every key that has just passed the cap, and those keys. A client or
// conversation that a concurrent transaction created meanwhile, or a
// channel user id it gave to another client, fails the write with errRace:
// it runs again and decides against what that one wrote.
func writeOutcome(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState, o outcome, now time.Time,
	first *firstRound) (moved []string, seeds []string, quarantined []quarantine, err error) {
	add, del := planKeys(ps, o.states)
	if len(o.upserts)+len(o.removes)+len(o.conversations)+len(o.unclaimed)+len(o.adds)+len(add)+len(del) == 0 {
		return nil, nil, nil, nil
	}
	in := map[string]any{"upserts": nonNil(o.upserts), "removes": nonNil(o.removes), "conversations": nonNil(o.conversations),
		"unclaimed": nonNil(o.unclaimed), "adds": nonNil(o.adds), "del": nonNil(del), "add": nonNil(add)}
	q := writeRecords + writeKeys + `
		RETURN moved, quarantined, racedConversations AS raced`
	if first != nil {
		maps.Copy(in, roundInput(nil, first.want, nil, first.clients))
		q = writeRecords + writeKeys + `
		WITH moved, quarantined, racedConversations AS raced` + loadRound + `, moved, quarantined, raced`
	}
	recs, err := collect(ctx, tx, q, map[string]any{"project": ps.ID, "token": searchToken(ps.ID), "cap": ps.KeyCap, "now": now, "keySep": identity.KeySep, "in": in})
	var n4 *neo4j.Neo4jError
	if errors.As(err, &n4) && n4.Code == "Neo.ClientError.Schema.ConstraintValidationFailed" {
		return nil, nil, nil, errRace
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("write the outcome: %w", err)
	}
	rec := recs[0]
	if i64(rec, "raced") > 0 {
		return nil, nil, nil, errRace
	}
	if first != nil {
		first.recs = recs
	}
	for _, q := range list(rec, "quarantined") {
		m, _ := q.(map[string]any)
		seeds = append(seeds, mapStrs(m, "mcs")...)
		holders := sorted(mapStrs(m, "holders"))
		key := mapStr(m, "key")
		since, _ := m["since"].(time.Time)
		quarantined = append(quarantined, quarantine{writer: mapStr(m, "writer"), holders: holders,
			key: identity.QuarantinedKey{Rule: mapStr(m, "rule"), Key: key, Parts: identity.KeyParts(key),
				Size: len(holders), Since: since.UTC()}})
	}
	return dedupe(strs(rec, "moved")), seeds, quarantined, nil
}

// writeRecords is the first part of writeOutcome's statement; it yields
// racedConversations.
//
// A client the lock statement did not find is created, not merged (a merge
// costs as much, and says less). Two transactions that both believe a client
// new do not both create it: the lock statement's seek locks the client's
// entry in the unique index even when it finds nothing, so the second waits
// for the first to commit (and then finds the client, or deadlocks and runs
// again), and the uniqueness constraint fails any creation that would slip
// through (errRace: it runs again). A new client's VIA edge is created, not
// merged: merging an edge locks both its ends, and the channel is shared by
// all its clients. (A client's channel never changes, so one that exists has
// its edge.) A channel user id given anew goes on the VIA edge with its
// channel's key, under the channel_user constraint: one that a concurrent
// transaction gave to another client fails the statement. The MERGE of a
// conversation waits for a concurrent creation of the same conversation; one
// that made it another client's has raced. A value taken away from its
// last holder is deleted (unless blocked: the block list keeps it), and
// writeKeys deletes the keys made of it that nobody holds: a person's
// values do not outlive their last use, whatever wrote them. Deleting the
// HAS edge locked the value, so a concurrent writer giving it to another
// client either commits first (and it stays) or finds it gone and runs
// again.
const writeRecords = `
		CALL {
			UNWIND $in.upserts AS r
			CALL {
				WITH r
				WITH r WHERE r.new
				CREATE (c:Client {project: $project, searchToken: $token, id: r.id, createdAt: r.createdAt, excluded: false,
					lastSeenAt: coalesce(r.lastSeenAt, $now), displayName: r.name})
				MERGE (ch:Channel {project: $project, kind: r.kind, account: r.account})
				CREATE (c)-[v:VIA]->(ch)
				RETURN v
				UNION
				WITH r
				WITH r WHERE NOT r.new
				MATCH (c:Client {project: $project, id: r.id})-[v:VIA]->(:Channel)
				SET c.displayName = CASE WHEN r.name = '' THEN coalesce(c.displayName, '') ELSE r.name END,
					c.lastSeenAt = CASE WHEN r.lastSeenAt IS NOT NULL AND r.lastSeenAt > c.lastSeenAt THEN r.lastSeenAt ELSE c.lastSeenAt END
				RETURN v
			}
			SET v += CASE WHEN r.channelUserId = '' THEN {}
				ELSE {project: $project, kind: r.kind, account: r.account, channelUserId: r.channelUserId} END
		}
		CALL {
			UNWIND $in.removes AS r
			MATCH (:Client {project: $project, id: r.client})-[h:HAS]->(v:Value {project: $project, field: r.field, value: r.value})
			DELETE h
			WITH collect(DISTINCT v) AS vs // all edges first: two clients may let go of one value
			UNWIND vs AS v
			WITH v, v.field AS field, v.value AS value WHERE NOT coalesce(v.blocked, false) AND NOT EXISTS { (v)<-[:HAS]-() }
			DETACH DELETE v
			WITH field, value` + deleteUnheldKeysOf + `
		}
		CALL {
			UNWIND $in.conversations AS r
			MATCH (c:Client {project: $project, id: r.client})
			MERGE (v:Conversation {project: $project, id: r.id})
			ON CREATE SET v.client = r.client
			WITH c, v, r, v.client <> r.client AS raced
			CALL {
				WITH c, v, r, raced
				WITH c, v, r WHERE NOT raced
				SET v.startedAt = r.startedAt, v.lastMessageAt = r.lastMessageAt, v.summary = r.summary,
					c.lastSeenAt = CASE WHEN c.lastSeenAt IS NULL OR c.lastSeenAt < r.lastMessageAt THEN r.lastMessageAt ELSE c.lastSeenAt END
				MERGE (c)-[:HAD]->(v)
			}
			RETURN count(CASE WHEN raced THEN 1 END) AS racedConversations
		}
		CALL {
			UNWIND $in.unclaimed AS id
			MATCH (a:AppliedEvent {project: $project, id: id})
			DELETE a
		}
		`

func clientRow(in identity.ClientInput, now time.Time) map[string]any {
	created := in.CreatedAt
	if created.IsZero() {
		created = now
	}
	var seen any
	if !in.LastSeenAt.IsZero() {
		seen = in.LastSeenAt.UTC()
	}
	return map[string]any{"id": in.ID, "kind": in.Channel.Kind, "account": in.Channel.Account,
		"channelUserId": in.ChannelUserID, "name": in.DisplayName, "createdAt": created.UTC(), "lastSeenAt": seen}
}

func rowsOf(m map[[3]string]map[string]any) []map[string]any {
	keys := make([][3]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00") })
	out := make([]map[string]any, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func removeRows(m map[[3]string]bool) []map[string]any {
	out := make([]map[string]any, 0, len(m))
	for k := range m {
		out = append(out, map[string]any{"client": k[0], "field": k[1], "value": k[2]})
	}
	return out
}
