package graph

import (
	"context"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// UpsertClient creates a client or updates its display name, channel user id
// and last activity, and adds the given identifiers. An invalid client (its
// id, its channel) refuses the whole call and changes nothing; an invalid
// identifier is refused alone: the client is written with the others, and
// the refused ones come back as typed errors. The client is not read back:
// a caller that shows it reads it (Client) only when it needs more than
// its id.
func (s *Store) UpsertClient(ctx context.Context, project string, in identity.ClientInput) ([]error, error) {
	_, refused, err := s.writeOne(ctx, project, Op{Kind: OpUpsertClient, Client: in})
	return refused, err
}

// SetAttribute normalizes raw as a value of field and gives it to the
// client. It returns the normalized value; a value that does not normalize
// is refused with a typed error and nothing changes.
func (s *Store) SetAttribute(ctx context.Context, project, client string, in identity.AttributeInput) (string, error) {
	v, _, err := s.writeOne(ctx, project, Op{Kind: OpAddAttribute, ClientID: client, Attribute: in})
	return v, err
}

// RemoveAttribute takes a value away from a client; the multi-contact splits
// where nothing else links its parts.
func (s *Store) RemoveAttribute(ctx context.Context, project, client, field, raw string) error {
	_, _, err := s.writeOne(ctx, project, Op{Kind: OpRemoveAttribute, ClientID: client,
		Attribute: identity.AttributeInput{Field: field, Value: raw}})
	return err
}

// writeOne applies one op incrementally, group-committed with the
// project's other single writes (see group.go); its refusal is the error.
func (s *Store) writeOne(ctx context.Context, project string, op Op) (string, []error, error) {
	return s.writeGrouped(ctx, project, op)
}

// RemoveClient deletes a client with its edges, its conversations, the
// values that nobody else holds and the keys made of them; its multi-contact
// splits where it was the only link, or is deleted when it was its only
// member.
func (s *Store) RemoveClient(ctx context.Context, project, client string) error {
	cause := identity.Cause{Kind: identity.CauseClient, Action: "removeClient"}
	return s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		// Its multi-contact is read under its lock: a write that moved it
		// meanwhile has committed.
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id})
			SET c.locked = true REMOVE c.locked
			RETURN c.mc AS mc`,
			map[string]any{"project": project, "id": client})
		if err != nil || rec == nil {
			return touched{}, orNotFound(err, "client", client)
		}
		if _, err := deleteClients(ctx, tx, project, []string{client}, false); err != nil {
			return touched{}, err
		}
		return touched{seeds: []string{str(rec, "mc")}}, nil
	})
}

// clientProjection is the client bound to c as one map: its channel and
// identifiers come with it, so a row can also carry a list of clients (a
// multi-contact's first members). decodeClient reads it back.
const clientProjection = `c {.id, .displayName, .createdAt, .lastSeenAt, .mc, excluded: coalesce(c.excluded, false),
	channel: [(c)-[v:VIA]->(ch:Channel) | {kind: ch.kind, account: ch.account, channelUserId: v.channelUserId}][0],
	attributes: [(c)-[h:HAS]->(v:Value) | {field: v.field, value: v.value, source: h.source, verified: h.verified, at: h.at, extension: h.extension}]}`

// clientColumns returns the client bound to c in the column decodeClient reads.
const clientColumns = clientProjection + ` AS client`

// decodeClient reads the client of a row of clientColumns.
func decodeClient(rec *neo4j.Record) identity.Client {
	m, _ := rec.AsMap()["client"].(map[string]any)
	return clientOf(m)
}

// clientOf reads one clientProjection.
func clientOf(m map[string]any) identity.Client {
	created, _ := m["createdAt"].(time.Time)
	seen, _ := m["lastSeenAt"].(time.Time)
	c := identity.Client{ID: mapStr(m, "id"), DisplayName: mapStr(m, "displayName"), CreatedAt: created,
		LastSeenAt: seen, MultiContactID: mapStr(m, "mc"), Excluded: mapBool(m, "excluded")}
	if ch, ok := m["channel"].(map[string]any); ok {
		c.Channel = identity.Channel{Kind: mapStr(ch, "kind"), Account: mapStr(ch, "account")}
		c.ChannelUserID = mapStr(ch, "channelUserId")
	}
	attrs, _ := m["attributes"].([]any)
	for _, a := range attrs {
		m, _ := a.(map[string]any)
		at, _ := m["at"].(time.Time)
		c.Attributes = append(c.Attributes, identity.Attribute{Field: mapStr(m, "field"), Value: mapStr(m, "value"),
			Source: identity.Source(mapStr(m, "source")), Verified: mapBool(m, "verified"), At: at, Extension: mapStr(m, "extension")})
	}
	sortAttributes(c.Attributes)
	return c
}

// Client returns one client with its channel and identifiers.
func (s *Store) Client(ctx context.Context, project, id string) (identity.Client, error) {
	recs, err := s.readOne(ctx, `MATCH (c:Client {project: $project, id: $id}) RETURN `+clientColumns,
		map[string]any{"project": project, "id": id})
	if err != nil || len(recs) == 0 {
		return identity.Client{}, orNotFound(err, "client", id)
	}
	return decodeClient(recs[0]), nil
}

// ClientWithMultiContact returns a client and, in the same statement, the
// head of its multi-contact (zero when the client has none yet) and, when
// members > 0, the first page of its members as MultiContactClients gives
// it with first = members: a lookup that shows all three costs one round
// trip.
func (s *Store) ClientWithMultiContact(ctx context.Context, project, id string, members int) (identity.Client, identity.MultiContact, *Page[identity.Client], error) {
	if err := checkMembers(members); err != nil {
		return identity.Client{}, identity.MultiContact{}, nil, err
	}
	recs, err := s.readOne(ctx, `MATCH (c:Client {project: $project, id: $id})
		OPTIONAL MATCH (m:MultiContact {project: $project, id: c.mc}) WHERE NOT coalesce(m.dissolved, false)
		WITH m, `+clientColumns+`
		RETURN client, `+headColumns+`, `+firstMembers,
		map[string]any{"project": project, "id": id, "members": membersLimit(members)})
	if err != nil || len(recs) == 0 {
		return identity.Client{}, identity.MultiContact{}, nil, orNotFound(err, "client", id)
	}
	m, page := decodeHead(recs[0], members)
	return decodeClient(recs[0]), m, page, nil
}

// headColumns are the multi-contact bound to m without its members.
const headColumns = `m.id AS mcId, m.size AS size, m.createdAt AS mcCreatedAt,
	COLLECT { MATCH (x:MultiContact {project: $project, aliasOf: m.id}) RETURN x.id } AS aliases`

// firstMembers are the first $members members of the multi-contact bound
// to m, by id (none when $members is 0; see membersLimit).
const firstMembers = `COLLECT { MATCH (c:Client {project: $project, mc: m.id}) WITH c ORDER BY c.id LIMIT $members
	RETURN ` + clientProjection + ` } AS members`

// checkMembers refuses a first page of members that MultiContactClients
// would refuse (0: none asked for).
func checkMembers(members int) error {
	if members == 0 {
		return nil
	}
	return checkFirst(members, MaxClientsPage)
}

// membersLimit is $members for firstMembers: one more than a page asks
// for, to know whether more follow; none when none is asked for.
func membersLimit(members int) int {
	if members == 0 {
		return 0
	}
	return members + 1
}

// decodeHead reads headColumns (zero when the row has no multi-contact)
// and, when members > 0, firstMembers read with membersLimit(members).
func decodeHead(rec *neo4j.Record, members int) (identity.MultiContact, *Page[identity.Client]) {
	mc := str(rec, "mcId")
	if mc == "" {
		return identity.MultiContact{}, nil
	}
	m := identity.MultiContact{ID: mc, Size: int(i64(rec, "size")), CreatedAt: when(rec, "mcCreatedAt"), Aliases: sorted(strs(rec, "aliases"))}
	if members <= 0 {
		return m, nil
	}
	page := clientListPage(list(rec, "members"), members, "member")
	return m, &page
}

// clientListPage cuts the first+1 clients of a list of clientProjection
// into a page, with cursors of kind (as clientPage does for rows).
func clientListPage(all []any, first int, kind string) Page[identity.Client] {
	return pageOf(all, first, func(x any) (identity.Client, string) {
		c, _ := x.(map[string]any)
		return clientOf(c), encodeCursor(kind, mapStr(c, "id"))
	})
}

// MultiContact returns a multi-contact with its members; an absorbed id
// returns the multi-contact that absorbed it.
func (s *Store) MultiContact(ctx context.Context, project, id string) (identity.MultiContact, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.MultiContact, error) {
		recs, err := collect(ctx, tx, `MATCH (a:MultiContact {project: $project, id: $id})
			WITH coalesce(a.aliasOf, a.id) AS live
			MATCH (m:MultiContact {project: $project, id: live}) WHERE NOT coalesce(m.dissolved, false)
			OPTIONAL MATCH (c:Client {project: $project, mc: m.id})
			WITH m, c ORDER BY c.id
			RETURN m.id AS mcId, m.size AS size, m.createdAt AS mcCreatedAt,
				COLLECT { MATCH (x:MultiContact {project: $project, aliasOf: m.id}) RETURN x.id } AS aliases, `+clientColumns,
			map[string]any{"project": project, "id": id})
		if err != nil || len(recs) == 0 {
			return identity.MultiContact{}, orNotFound(err, "multiContact", id)
		}
		mc := identity.MultiContact{ID: str(recs[0], "mcId"), Size: int(i64(recs[0], "size")),
			CreatedAt: when(recs[0], "mcCreatedAt"), Aliases: sorted(strs(recs[0], "aliases"))}
		for _, r := range recs {
			if c := decodeClient(r); c.ID != "" {
				mc.Clients = append(mc.Clients, c)
			}
		}
		return mc, nil
	})
}

// ResolveClient returns the id of the client's multi-contact. A client that
// has none yet (written by a large import whose re-resolution has not
// reached it) is resolved now, in its own transaction, so that a reader is
// never told that a client belongs to nothing.
func (s *Store) ResolveClient(ctx context.Context, project, id string) (string, error) {
	cause := identity.Cause{Kind: identity.CauseClient, Action: "resolveClient"}
	err := s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id}) RETURN c.mc AS mc`,
			map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return touched{}, orNotFound(err, "client", id)
		}
		if str(rec, "mc") != "" {
			return touched{}, nil
		}
		return touched{clients: []string{id}}, nil
	})
	if err != nil {
		return "", err
	}
	c, err := s.Client(ctx, project, id)
	return c.MultiContactID, err
}
