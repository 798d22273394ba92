package graph

import (
	"context"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// normalized is an attribute after normalization.
type normalized struct {
	identity.AttributeInput
	value string
}

func normalizeAll(ps *projectState, in []identity.AttributeInput) ([]normalized, error) {
	out := make([]normalized, 0, len(in))
	for i, a := range in {
		v, err := ps.catalog.Normalize(a.Field, a.Value)
		if err != nil {
			return nil, err
		}
		if a.Source == "" {
			return nil, identity.Errorf("attributes", identity.CodeInvalidSource, "attribute %d has no source", i)
		}
		if _, err := identity.ParseSource(string(a.Source)); err != nil {
			return nil, err
		}
		out = append(out, normalized{AttributeInput: a, value: v})
	}
	return out, nil
}

// UpsertClient creates a client or updates its display name, channel user id
// and last activity, and adds the given identifiers. Any invalid input
// refuses the whole call and changes nothing.
func (s *Store) UpsertClient(ctx context.Context, project string, in identity.ClientInput) (identity.Client, error) {
	if err := identity.ValidateID("id", in.ID); err != nil {
		return identity.Client{}, err
	}
	if err := in.Channel.Validate(); err != nil {
		return identity.Client{}, err
	}
	if len(in.ChannelUserID) > identity.MaxIDLen || len(in.DisplayName) > identity.MaxIDLen {
		return identity.Client{}, identity.Errorf("displayName", identity.CodeTooLong, "display name and channel user id are at most %d bytes", identity.MaxIDLen)
	}
	cause := identity.Cause{Kind: identity.CauseClient, Action: "upsertClient"}
	err := s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		attrs, err := normalizeAll(ps, in.Attributes)
		if err != nil {
			return touched{}, err
		}
		now := s.now().UTC()
		rec, err := single(ctx, tx, `MERGE (c:Client {project: $project, id: $id})
			ON CREATE SET c.createdAt = $now, c.excluded = false, c.created = true
			SET c.lastSeenAt = $now,
				c.displayName = CASE WHEN $name = '' THEN coalesce(c.displayName, '') ELSE $name END
			WITH c, coalesce(c.created, false) AS created
			REMOVE c.created
			WITH c, created
			OPTIONAL MATCH (c)-[:VIA]->(old:Channel)
			RETURN created, old.kind AS kind, old.account AS account`,
			map[string]any{"project": project, "id": in.ID, "now": now, "name": in.DisplayName})
		if err != nil {
			return touched{}, err
		}
		created := boolean(rec, "created")
		if !created && (str(rec, "kind") != in.Channel.Kind || str(rec, "account") != in.Channel.Account) {
			return touched{}, identity.Errorf("channel", identity.CodeConflict,
				"client %q writes from %s/%s; a client's channel does not change", in.ID, str(rec, "kind"), str(rec, "account"))
		}
		if err := exec(ctx, tx, `MATCH (c:Client {project: $project, id: $id})
			MERGE (ch:Channel {project: $project, kind: $kind, account: $account})
			MERGE (c)-[v:VIA]->(ch)
			SET v.channelUserId = $channelUserId`,
			map[string]any{"project": project, "id": in.ID, "kind": in.Channel.Kind, "account": in.Channel.Account,
				"channelUserId": in.ChannelUserID}); err != nil {
			return touched{}, err
		}
		if _, err := addValues(ctx, tx, ps, in.ID, attrs, now); err != nil {
			return touched{}, err
		}
		return touched{clients: []string{in.ID}, updated: []string{in.ID}}, nil
	})
	if err != nil {
		return identity.Client{}, err
	}
	return s.Client(ctx, project, in.ID)
}

// addValues gives the client the values, refusing any field that would pass
// the project's cap of values per field. It reports whether anything changed.
func addValues(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState, client string, attrs []normalized, now time.Time) (bool, error) {
	if len(attrs) == 0 {
		return false, nil
	}
	rows := make([]map[string]any, len(attrs))
	for i, a := range attrs {
		rows[i] = map[string]any{"field": a.Field, "value": a.value, "source": string(a.Source), "verified": a.Verified}
	}
	rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id})
		UNWIND $rows AS r
		MERGE (v:Value {project: $project, field: r.field, value: r.value})
		ON CREATE SET v.blocked = false
		MERGE (c)-[h:HAS]->(v)
		ON CREATE SET h.source = r.source, h.verified = r.verified, h.at = $now, h.created = true
		ON MATCH SET h.source = CASE WHEN r.verified AND NOT h.verified THEN r.source ELSE h.source END,
			h.verified = h.verified OR r.verified
		WITH c, collect(DISTINCT r.field) AS fields, sum(CASE WHEN h.created THEN 1 ELSE 0 END) AS added
		CALL { WITH c MATCH (c)-[h:HAS {created: true}]->() REMOVE h.created }
		RETURN added,
			[f IN fields WHERE COUNT { (c)-[:HAS]->(:Value {field: f}) } > $cap] AS over`,
		map[string]any{"project": ps.ID, "id": client, "rows": rows, "now": now, "cap": ps.ValueCap})
	if err != nil {
		return false, err
	}
	if rec == nil {
		return false, notFound("client", client)
	}
	if over := strs(rec, "over"); len(over) > 0 {
		return false, identity.Errorf(over[0], identity.CodeTooManyValues,
			"a client holds at most %d values of %s; remove one first", ps.ValueCap, over[0])
	}
	return i64(rec, "added") > 0, nil
}

// SetAttribute normalizes raw as a value of field and gives it to the
// client. It returns the normalized value; a value that does not normalize
// is refused with a typed error and nothing changes.
func (s *Store) SetAttribute(ctx context.Context, project, client string, in identity.AttributeInput) (string, error) {
	var value string
	cause := identity.Cause{Kind: identity.CauseValue, Action: "setAttribute", Field: in.Field}
	err := s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		attrs, err := normalizeAll(ps, []identity.AttributeInput{in})
		if err != nil {
			return touched{}, err
		}
		value = attrs[0].value
		changed, err := addValues(ctx, tx, ps, client, attrs, s.now().UTC())
		if err != nil || !changed {
			return touched{}, err
		}
		return touched{clients: []string{client}, updated: []string{client}}, nil
	})
	return value, err
}

// RemoveAttribute takes a value away from a client; the multi-contact splits
// where nothing else links its parts.
func (s *Store) RemoveAttribute(ctx context.Context, project, client, field, raw string) error {
	cause := identity.Cause{Kind: identity.CauseValue, Action: "removeAttribute", Field: field}
	return s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		value, err := ps.catalog.Normalize(field, raw)
		if err != nil {
			return touched{}, err
		}
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id})
			OPTIONAL MATCH (c)-[h:HAS]->(:Value {project: $project, field: $field, value: $value})
			DELETE h
			RETURN count(h) AS removed`,
			map[string]any{"project": project, "id": client, "field": field, "value": value})
		if err != nil {
			return touched{}, err
		}
		if rec == nil {
			return touched{}, notFound("client", client)
		}
		if i64(rec, "removed") == 0 {
			return touched{}, nil
		}
		return touched{clients: []string{client}, updated: []string{client}}, nil
	})
}

// RemoveClient deletes a client with its edges; its multi-contact splits
// where it was the only link, or is deleted when it was its only member.
func (s *Store) RemoveClient(ctx context.Context, project, client string) error {
	cause := identity.Cause{Kind: identity.CauseClient, Action: "removeClient"}
	return s.apply(ctx, project, cause, func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id})
			WITH c, c.mc AS mc DETACH DELETE c RETURN mc`,
			map[string]any{"project": project, "id": client})
		if err != nil || rec == nil {
			return touched{}, orNotFound(err, "client", client)
		}
		return touched{seeds: []string{str(rec, "mc")}}, nil
	})
}

const clientColumns = `c.id AS id, c.displayName AS displayName, c.createdAt AS createdAt,
	c.lastSeenAt AS lastSeenAt, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
	[(c)-[v:VIA]->(ch:Channel) | {kind: ch.kind, account: ch.account, channelUserId: v.channelUserId}][0] AS channel,
	[(c)-[h:HAS]->(v:Value) | {field: v.field, value: v.value, source: h.source, verified: h.verified, at: h.at}] AS attributes`

func decodeClient(rec *neo4j.Record) identity.Client {
	c := identity.Client{ID: str(rec, "id"), DisplayName: str(rec, "displayName"), CreatedAt: when(rec, "createdAt"),
		LastSeenAt: when(rec, "lastSeenAt"), MultiContactID: str(rec, "mc"), Excluded: boolean(rec, "excluded")}
	if ch, ok := rec.AsMap()["channel"].(map[string]any); ok {
		c.Channel = identity.Channel{Kind: mapStr(ch, "kind"), Account: mapStr(ch, "account")}
		c.ChannelUserID = mapStr(ch, "channelUserId")
	}
	for _, a := range list(rec, "attributes") {
		m, _ := a.(map[string]any)
		at, _ := m["at"].(time.Time)
		c.Attributes = append(c.Attributes, identity.Attribute{Field: mapStr(m, "field"), Value: mapStr(m, "value"),
			Source: identity.Source(mapStr(m, "source")), Verified: mapBool(m, "verified"), At: at})
	}
	sortAttributes(c.Attributes)
	return c
}

// Client returns one client with its channel and identifiers.
func (s *Store) Client(ctx context.Context, project, id string) (identity.Client, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) (identity.Client, error) {
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $project, id: $id}) RETURN `+clientColumns,
			map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return identity.Client{}, orNotFound(err, "client", id)
		}
		return decodeClient(rec), nil
	})
}

// FindClients returns the clients holding a value of field; raw is
// normalized first, so any spelling of a phone finds it.
func (s *Store) FindClients(ctx context.Context, project, field, raw string) ([]identity.Client, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Client, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		value, err := ps.catalog.Normalize(field, raw)
		if err != nil {
			return nil, err
		}
		recs, err := collect(ctx, tx, `MATCH (:Value {project: $project, field: $field, value: $value})<-[:HAS]-(c:Client)
			RETURN `+clientColumns+` ORDER BY c.id LIMIT 1000`,
			map[string]any{"project": project, "field": field, "value": value})
		if err != nil {
			return nil, err
		}
		out := make([]identity.Client, len(recs))
		for i, rec := range recs {
			out[i] = decodeClient(rec)
		}
		return out, nil
	})
}

// MultiContact returns a multi-contact with its members; an absorbed id
// returns the multi-contact that absorbed it.
func (s *Store) MultiContact(ctx context.Context, project, id string) (identity.MultiContact, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) (identity.MultiContact, error) {
		rec, err := single(ctx, tx, `MATCH (a:MultiContact {project: $project, id: $id})
			WITH coalesce(a.aliasOf, a.id) AS live
			MATCH (m:MultiContact {project: $project, id: live}) WHERE NOT coalesce(m.dissolved, false)
			RETURN m.id AS id, m.size AS size, m.createdAt AS createdAt,
				COLLECT { MATCH (x:MultiContact {project: $project, aliasOf: m.id}) RETURN x.id } AS aliases`,
			map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return identity.MultiContact{}, orNotFound(err, "multiContact", id)
		}
		mc := identity.MultiContact{ID: str(rec, "id"), Size: int(i64(rec, "size")), CreatedAt: when(rec, "createdAt"),
			Aliases: sorted(strs(rec, "aliases"))}
		recs, err := collect(ctx, tx, `MATCH (c:Client {project: $project, mc: $mc}) RETURN `+clientColumns+` ORDER BY c.id`,
			map[string]any{"project": project, "mc": mc.ID})
		if err != nil {
			return identity.MultiContact{}, err
		}
		for _, r := range recs {
			mc.Clients = append(mc.Clients, decodeClient(r))
		}
		return mc, nil
	})
}
