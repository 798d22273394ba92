package graph

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// MaxSummaryRunes bounds a conversation's summary.
const MaxSummaryRunes = 4000

// Conversation is one conversation of a client, so operators see the
// earlier conversations of a whole multi-contact.
type Conversation struct {
	ID            string
	ClientID      string
	StartedAt     time.Time
	LastMessageAt time.Time
	Summary       string
}

// RecordConversation creates or updates a conversation of a client (by its
// id within the project) and moves the client's last activity forward.
func (s *Store) RecordConversation(ctx context.Context, project, client string, c Conversation) (Conversation, error) {
	if err := identity.ValidateID("id", c.ID); err != nil {
		return Conversation{}, err
	}
	if c.StartedAt.IsZero() {
		return Conversation{}, identity.Errorf("startedAt", identity.CodeInvalidArgument, "startedAt is required")
	}
	if c.LastMessageAt.IsZero() {
		c.LastMessageAt = c.StartedAt
	}
	if c.LastMessageAt.Before(c.StartedAt) {
		return Conversation{}, identity.Errorf("lastMessageAt", identity.CodeInvalidArgument, "lastMessageAt is before startedAt")
	}
	if !utf8.ValidString(c.Summary) || utf8.RuneCountInString(c.Summary) > MaxSummaryRunes {
		return Conversation{}, identity.Errorf("summary", identity.CodeTooLong, "a summary is valid text of at most %d characters", MaxSummaryRunes)
	}
	c.ClientID = client
	c.StartedAt, c.LastMessageAt = c.StartedAt.UTC(), c.LastMessageAt.UTC()
	_, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $client})
			MERGE (v:Conversation {project: $project, id: $id})
			ON CREATE SET v.client = $client
			WITH c, v
			RETURN v.client AS owner`,
			map[string]any{"project": project, "client": client, "id": c.ID})
		if err != nil || rec == nil {
			return none{}, orNotFound(err, "client", client)
		}
		if owner := str(rec, "owner"); owner != client {
			return none{}, identity.Errorf("id", identity.CodeConflict, "conversation %q belongs to another client", c.ID)
		}
		return none{}, exec(ctx, tx, `MATCH (c:Client {project: $project, id: $client}), (v:Conversation {project: $project, id: $id})
			SET v.startedAt = $startedAt, v.lastMessageAt = $lastMessageAt, v.summary = $summary,
				c.lastSeenAt = CASE WHEN c.lastSeenAt IS NULL OR c.lastSeenAt < $lastMessageAt THEN $lastMessageAt ELSE c.lastSeenAt END
			MERGE (c)-[:HAD]->(v)`,
			map[string]any{"project": project, "client": client, "id": c.ID, "startedAt": c.StartedAt,
				"lastMessageAt": c.LastMessageAt, "summary": c.Summary})
	})
	if err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// Conversations returns the conversations of the clients, newest first, at most limit.
func (s *Store) Conversations(ctx context.Context, project string, clients []string, limit int) ([]Conversation, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) ([]Conversation, error) {
		recs, err := collect(ctx, tx, `MATCH (v:Conversation {project: $project}) WHERE v.client IN $clients
			RETURN v.id AS id, v.client AS client, v.startedAt AS startedAt, v.lastMessageAt AS lastMessageAt,
				coalesce(v.summary, '') AS summary
			ORDER BY v.lastMessageAt DESC, v.id LIMIT $limit`,
			map[string]any{"project": project, "clients": clients, "limit": limit})
		out := make([]Conversation, len(recs))
		for i, rec := range recs {
			out[i] = Conversation{ID: str(rec, "id"), ClientID: str(rec, "client"), StartedAt: when(rec, "startedAt"),
				LastMessageAt: when(rec, "lastMessageAt"), Summary: str(rec, "summary")}
		}
		return out, err
	})
}
