package graph

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// writeOutcome writes what writeOps decided, but the values it gives (see
// writeValuesAndKeys), and releases the event ids of ops that a strict
// write never reached.
func writeOutcome(ctx context.Context, tx neo4j.ManagedTransaction, project string,
	upserts, removes, conversations []map[string]any, unclaimed []string, now time.Time) error {
	p := func(in map[string]any) map[string]any {
		return map[string]any{"project": project, "now": now, "in": in}
	}
	if len(upserts) > 0 {
		// A client believed new but created meanwhile by a concurrent
		// transaction was checked against no state: run again, locking it.
		// A new client's VIA edge is created, not merged: merging an edge
		// locks both its ends, and the channel is shared by all its clients.
		// (A client's channel never changes, so one that exists has its edge.)
		// A channel user id given anew goes on the VIA edge with its
		// channel's key, under the channel_user constraint: one that a
		// concurrent transaction gave to another client fails the statement,
		// and the run after it refuses the op.
		rec, err := single(ctx, tx, `UNWIND $in.rows AS r
			MERGE (c:Client {project: $project, id: r.id})
			ON CREATE SET c.createdAt = r.createdAt, c.excluded = false, c.lastSeenAt = coalesce(r.lastSeenAt, $now), c.created = true
			WITH c, r, r.new AND c.created IS NULL AS raced
			REMOVE c.created
			SET c.displayName = CASE WHEN r.name = '' THEN coalesce(c.displayName, '') ELSE r.name END,
				c.lastSeenAt = CASE WHEN r.lastSeenAt IS NOT NULL AND r.lastSeenAt > c.lastSeenAt THEN r.lastSeenAt ELSE c.lastSeenAt END
			WITH c, r, raced
			CALL {
				WITH c, r
				WITH c, r WHERE r.new
				MERGE (ch:Channel {project: $project, kind: r.kind, account: r.account})
				CREATE (c)-[v:VIA]->(ch)
				RETURN v
				UNION
				WITH c, r
				WITH c, r WHERE NOT r.new
				MATCH (c)-[v:VIA]->(:Channel)
				RETURN v
			}
			SET v += CASE WHEN r.channelUserId = '' THEN {}
				ELSE {project: $project, kind: r.kind, account: r.account, channelUserId: r.channelUserId} END
			RETURN count(CASE WHEN raced THEN 1 END) AS raced`,
			p(map[string]any{"rows": upserts}))
		var n4 *neo4j.Neo4jError
		if errors.As(err, &n4) && n4.Code == "Neo.ClientError.Schema.ConstraintValidationFailed" {
			return errRace
		}
		if err != nil {
			return fmt.Errorf("write clients: %w", err)
		}
		if i64(rec, "raced") > 0 {
			return errRace
		}
	}
	if len(removes) > 0 {
		if err := exec(ctx, tx, `UNWIND $in.rows AS r
			MATCH (:Client {project: $project, id: r.client})-[h:HAS]->(:Value {project: $project, field: r.field, value: r.value})
			DELETE h`, p(map[string]any{"rows": removes})); err != nil {
			return fmt.Errorf("remove values: %w", err)
		}
	}
	if len(conversations) > 0 {
		// The MERGE waits for a concurrent creation of the same conversation;
		// if that made it another client's, run again to refuse the op.
		rec, err := single(ctx, tx, `UNWIND $in.rows AS r
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
			RETURN count(CASE WHEN raced THEN 1 END) AS raced`, p(map[string]any{"rows": conversations}))
		if err != nil {
			return fmt.Errorf("record conversations: %w", err)
		}
		if i64(rec, "raced") > 0 {
			return errRace
		}
	}
	if len(unclaimed) > 0 {
		if err := exec(ctx, tx, `UNWIND $in.ids AS id MATCH (a:AppliedEvent {project: $project, id: id}) DELETE a`,
			p(map[string]any{"ids": unclaimed})); err != nil {
			return fmt.Errorf("release event ids: %w", err)
		}
	}
	return nil
}

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
