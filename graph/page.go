package graph

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// Page is one page of a list that can grow: its items in order, the cursor
// of each (to pass as after), and whether more follow.
type Page[T any] struct {
	Items   []T
	Cursors []string
	HasNext bool
}

// Limits of the pages: the largest first each list allows.
const (
	MaxClientsPage       = 500  // findClients, MultiContact.clients
	MaxConversationsPage = 200  // Client.conversations, MultiContact.conversations
	MaxAPIKeysPage       = 1000 // apiKeys
	MaxSearchPage        = 100  // searchClients
	MaxSearchWindow      = 1000 // searchClients: how far down the ranking a cursor may reach
	MaxHistoryPage       = 1000 // MultiContact.history
)

// checkFirst refuses a page size outside 1..max.
func checkFirst(first, max int) error {
	if first < 1 || first > max {
		return identity.Errorf("first", identity.CodeInvalidArgument, "first is between 1 and %d", max)
	}
	return nil
}

// A cursor is opaque to callers: base64url of the list's kind and the sort
// key of the item, so a cursor of one list is refused by another.
func encodeCursor(kind string, key ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + strings.Join(key, "\x00")))
}

// decodeCursor returns the key of a cursor of kind with n parts; "" is the
// start of the list (nil key).
func decodeCursor(after, kind string, n int) ([]string, error) {
	if after == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(after)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != n+1 || parts[0] != kind {
		return nil, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave for this list", after)
	}
	return parts[1:], nil
}

// pageOf cuts the first+1 rows read (records, or the items of a list
// column) into a page.
func pageOf[R, T any](recs []R, first int, item func(R) (T, string)) Page[T] {
	p := Page[T]{HasNext: len(recs) > first, Items: []T{}, Cursors: []string{}}
	for _, rec := range recs[:min(first, len(recs))] {
		v, c := item(rec)
		p.Items = append(p.Items, v)
		p.Cursors = append(p.Cursors, c)
	}
	return p
}

// FindClientsPage returns a page of the clients holding a value of field,
// by id; raw is normalized first, so any spelling of a phone finds it.
func (s *Store) FindClientsPage(ctx context.Context, project, field, raw, after string, first int) (Page[identity.Client], error) {
	if err := checkFirst(first, MaxClientsPage); err != nil {
		return Page[identity.Client]{}, err
	}
	key, err := decodeCursor(after, "value", 1)
	if err != nil {
		return Page[identity.Client]{}, err
	}
	// The value is normalized with the project's fields as this store read
	// them last, and the statement that finds the clients checks that they
	// are still those (their version); otherwise they are read again.
	ps, fresh := s.lastConfig(project), false
	for {
		if ps == nil {
			if ps, err = s.readConfig(ctx, project); err != nil {
				return Page[identity.Client]{}, err
			}
			fresh = true
		}
		value, err := ps.catalog.Normalize(field, raw)
		if err != nil {
			if fresh {
				return Page[identity.Client]{}, err
			}
			ps = nil // refused by fields that may have changed since
			continue
		}
		recs, err := s.readOne(ctx, `MATCH (p:Project {id: $project}) WHERE coalesce(p.configVersion, 0) = $version
			RETURN COLLECT { MATCH (:Value {project: $project, field: $field, value: $value})<-[:HAS]-(c:Client)
				WHERE $after IS NULL OR c.id > $after
				WITH c ORDER BY c.id LIMIT $limit RETURN `+clientProjection+` } AS clients`,
			map[string]any{"project": project, "version": ps.version, "field": field, "value": value,
				"after": first0(key), "limit": first + 1})
		if err != nil {
			return Page[identity.Client]{}, err
		}
		if len(recs) == 1 {
			return clientListPage(list(recs[0], "clients"), first, "value"), nil
		}
		ps = nil // the fields changed since they were read
	}
}

func first0(key []string) any {
	if len(key) == 0 {
		return nil
	}
	return key[0]
}

func clientPage(recs []*neo4j.Record, first int, kind string) Page[identity.Client] {
	return pageOf(recs, first, func(rec *neo4j.Record) (identity.Client, string) {
		c := decodeClient(rec)
		return c, encodeCursor(kind, c.ID)
	})
}

// MultiContactHead returns a multi-contact without its members (Clients is
// nil): what every page of its members, conversations or history starts
// from. An absorbed id returns the multi-contact that absorbed it. When
// members > 0, the first page of its members (as MultiContactClients gives
// it with first = members) comes in the same statement.
func (s *Store) MultiContactHead(ctx context.Context, project, id string, members int) (identity.MultiContact, *Page[identity.Client], error) {
	if err := checkMembers(members); err != nil {
		return identity.MultiContact{}, nil, err
	}
	recs, err := s.readOne(ctx, `MATCH (a:MultiContact {project: $project, id: $id})
		WITH coalesce(a.aliasOf, a.id) AS live
		MATCH (m:MultiContact {project: $project, id: live}) WHERE NOT coalesce(m.dissolved, false)
		RETURN `+headColumns+`, `+firstMembers,
		map[string]any{"project": project, "id": id, "members": membersLimit(members)})
	if err != nil || len(recs) == 0 {
		return identity.MultiContact{}, nil, orNotFound(err, "multiContact", id)
	}
	m, page := decodeHead(recs[0], members)
	return m, page, nil
}

// MultiContactClients returns a page of a multi-contact's members by id
// (mc is a live id, as MultiContactHead returns).
func (s *Store) MultiContactClients(ctx context.Context, project, mc, after string, first int) (Page[identity.Client], error) {
	if err := checkFirst(first, MaxClientsPage); err != nil {
		return Page[identity.Client]{}, err
	}
	key, err := decodeCursor(after, "member", 1)
	if err != nil {
		return Page[identity.Client]{}, err
	}
	recs, err := s.readOne(ctx, `MATCH (c:Client {project: $project, mc: $mc})
		WHERE $after IS NULL OR c.id > $after
		RETURN `+clientColumns+` ORDER BY c.id LIMIT $limit`,
		map[string]any{"project": project, "mc": mc, "after": first0(key), "limit": first + 1})
	return clientPage(recs, first, "member"), err
}

// MultiContactChannels returns, for each channel through which a
// multi-contact is reachable, its member most recently active there,
// newest first: as many as the channels, however many the members.
func (s *Store) MultiContactChannels(ctx context.Context, project, mc string) ([]identity.Client, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Client, error) {
		recs, err := collect(ctx, tx, `MATCH (m:Client {project: $project, mc: $mc})-[:VIA]->(ch:Channel)
			WITH ch, m ORDER BY m.lastSeenAt DESC, m.id
			WITH ch, collect(m)[0] AS c
			RETURN `+clientColumns+` ORDER BY c.lastSeenAt DESC, c.id LIMIT 1000`,
			map[string]any{"project": project, "mc": mc})
		out := make([]identity.Client, len(recs))
		for i, rec := range recs {
			out[i] = decodeClient(rec)
		}
		return out, err
	})
}

// ConversationsPage returns a page of conversations, newest first: those
// of one client (client set), or of every member of a multi-contact (mc
// set, a live id).
func (s *Store) ConversationsPage(ctx context.Context, project, client, mc, after string, first int) (Page[Conversation], error) {
	if err := checkFirst(first, MaxConversationsPage); err != nil {
		return Page[Conversation]{}, err
	}
	key, err := decodeCursor(after, "conversation", 2)
	if err != nil {
		return Page[Conversation]{}, err
	}
	var at any
	var id any
	if key != nil {
		t, err := time.Parse(time.RFC3339Nano, key[0])
		if err != nil {
			return Page[Conversation]{}, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave for this list", after)
		}
		at, id = t, key[1]
	}
	q := `MATCH (v:Conversation {project: $project, client: $client})`
	if client == "" {
		q = `MATCH (c:Client {project: $project, mc: $mc}) MATCH (v:Conversation {project: $project, client: c.id})`
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (Page[Conversation], error) {
		recs, err := collect(ctx, tx, q+`
			WHERE $at IS NULL OR v.lastMessageAt < $at OR (v.lastMessageAt = $at AND v.id > $id)
			RETURN v.id AS id, v.client AS client, v.startedAt AS startedAt, v.lastMessageAt AS lastMessageAt,
				coalesce(v.summary, '') AS summary
			ORDER BY v.lastMessageAt DESC, v.id LIMIT $limit`,
			map[string]any{"project": project, "client": client, "mc": mc, "at": at, "id": id, "limit": first + 1})
		return pageOf(recs, first, func(rec *neo4j.Record) (Conversation, string) {
			c := Conversation{ID: str(rec, "id"), ClientID: str(rec, "client"), StartedAt: when(rec, "startedAt"),
				LastMessageAt: when(rec, "lastMessageAt"), Summary: str(rec, "summary")}
			return c, encodeCursor("conversation", c.LastMessageAt.UTC().Format(time.RFC3339Nano), c.ID)
		}), err
	})
}

// APIKeysPage returns a page of a project's keys, oldest first.
func (s *Store) APIKeysPage(ctx context.Context, project, after string, first int) (Page[APIKey], error) {
	if err := checkFirst(first, MaxAPIKeysPage); err != nil {
		return Page[APIKey]{}, err
	}
	key, err := decodeCursor(after, "apiKey", 2)
	if err != nil {
		return Page[APIKey]{}, err
	}
	var at, id any
	if key != nil {
		t, err := time.Parse(time.RFC3339Nano, key[0])
		if err != nil {
			return Page[APIKey]{}, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave for this list", after)
		}
		at, id = t, key[1]
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (Page[APIKey], error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return Page[APIKey]{}, err
		}
		recs, err := collect(ctx, tx, `MATCH (k:ApiKey {project: $project})
			WHERE $at IS NULL OR k.createdAt > $at OR (k.createdAt = $at AND k.id > $id)
			RETURN `+apiKeyColumns+` ORDER BY k.createdAt, k.id LIMIT $limit`,
			map[string]any{"project": project, "at": at, "id": id, "limit": first + 1})
		return pageOf(recs, first, func(rec *neo4j.Record) (APIKey, string) {
			k := decodeAPIKey(rec)
			return k, encodeCursor("apiKey", k.CreatedAt.UTC().Format(time.RFC3339Nano), k.ID)
		}), err
	})
}
