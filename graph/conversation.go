package graph

import (
	"context"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
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
	if err := c.normalize(); err != nil {
		return Conversation{}, err
	}
	c.ClientID = client
	if _, _, err := s.writeOne(ctx, project, Op{Kind: OpConversation, ClientID: client, Conversation: c}); err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// Conversations returns the conversations of the clients, newest first, at most limit.
func (s *Store) Conversations(ctx context.Context, project string, clients []string, limit int) ([]Conversation, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]Conversation, error) {
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
