package graph

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// lockedState is what lockClients read under the clients' locks.
type lockedState struct {
	clients map[string]*clientState // by id; exists is false for a client not created yet
	owners  map[string]string       // conversation id -> its client
	users   map[channelUser]string  // channel user -> its client
	fresh   map[string]bool         // event id -> whether this transaction claimed it first
	version int64                   // of the project's configuration (see projectAt)
}

// lockClients runs the first statement of a write. It claims the event ids
// (sorted, distinct): a claim records an id as applied, and the uniqueness
// constraint on AppliedEvent makes a concurrent claim of the same id wait
// for this transaction and then find it taken, so an id applies at most
// once. It reads the version of the project's configuration (see
// projectAt), which client owns each conversation named and each channel
// user given. Then it takes the write locks of the named clients that
// exist and reads their channels, values and keys, so that every check
// made on them (the value cap, the channel) holds until commit. A client
// that does not exist yet is locked when it is created (see writeOutcome);
// a conversation or channel user taken meanwhile fails the write there.
func lockClients(ctx context.Context, tx neo4j.ManagedTransaction, project string, ids, eventIDs, convIDs []string,
	users []map[string]any) (lockedState, error) {
	ls := lockedState{clients: make(map[string]*clientState, len(ids)), owners: map[string]string{},
		users: map[channelUser]string{}, fresh: map[string]bool{}}
	for _, id := range ids {
		ls.clients[id] = &clientState{values: map[[2]string]bool{}, counts: map[string]int{}, widgetOnly: map[[2]string]bool{},
			held: map[[2]string]heldValue{}, keys: map[[2]string]bool{}}
	}
	recs, err := collect(ctx, tx, `OPTIONAL MATCH (p:Project {id: $project})
		WITH coalesce(p.configVersion, 0) AS version
		CALL {
			UNWIND $in.eventIds AS id
			MERGE (a:AppliedEvent {project: $project, id: id})
			ON CREATE SET a.claimed = true
			WITH a, id, coalesce(a.claimed, false) AS fresh
			REMOVE a.claimed
			RETURN collect({id: id, fresh: fresh}) AS claimed
		}
		CALL {
			UNWIND $in.convIds AS id
			MATCH (v:Conversation {project: $project, id: id})
			RETURN collect({id: v.id, client: v.client}) AS owners
		}
		CALL {
			UNWIND $in.users AS u
			MATCH (o:Client)-[:VIA {project: $project, kind: u.kind, account: u.account, channelUserId: u.uid}]->(:Channel)
			RETURN collect({kind: u.kind, account: u.account, uid: u.uid, client: o.id}) AS users
		}
		CALL {
			UNWIND $in.ids AS id
			MATCH (c:Client {project: $project, id: id})
			SET c.locked = true REMOVE c.locked
			RETURN c
			UNION
			RETURN null AS c // a row for the rest even when no client exists yet
		}
		RETURN version, claimed, owners, users, c.id AS id, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
			coalesce(c.displayName, '') AS name,
			[(c)-[u:VIA]->(ch:Channel) | [ch.kind, ch.account, coalesce(u.channelUserId, '')]][0] AS channel,
			[(c)-[h:HAS]->(v:Value) | [v.field, v.value, coalesce(h.source, ''), coalesce(h.verified, false), coalesce(v.blocked, false)]] AS values,
			[(c)-[:MATCHES]->(k:MatchKey) | [k.rule, k.key]] AS keys`,
		map[string]any{"project": project, "in": map[string]any{"ids": nonNil(ids), "eventIds": nonNil(dedupe(eventIDs)),
			"convIds": nonNil(convIDs), "users": nonNil(users)}})
	if err != nil {
		return lockedState{}, fmt.Errorf("lock and read the clients: %w", err)
	}
	if len(recs) > 0 { // the claims, the version and the owners repeat on every row
		ls.version = i64(recs[0], "version")
		for _, row := range list(recs[0], "claimed") {
			m, _ := row.(map[string]any)
			ls.fresh[mapStr(m, "id")] = mapBool(m, "fresh")
		}
		for _, row := range list(recs[0], "owners") {
			m, _ := row.(map[string]any)
			ls.owners[mapStr(m, "id")] = mapStr(m, "client")
		}
		for _, row := range list(recs[0], "users") {
			m, _ := row.(map[string]any)
			ls.users[channelUser{mapStr(m, "kind"), mapStr(m, "account"), mapStr(m, "uid")}] = mapStr(m, "client")
		}
	}
	for _, rec := range recs {
		if rec.AsMap()["id"] == nil {
			continue // the row for the rest
		}
		st := ls.clients[str(rec, "id")]
		st.exists, st.mc, st.excluded, st.name = true, str(rec, "mc"), boolean(rec, "excluded"), str(rec, "name")
		if ch := strs(rec, "channel"); len(ch) == 3 {
			st.kind, st.account, st.channelUserID = ch[0], ch[1], ch[2]
		}
		for _, v := range list(rec, "values") {
			fv, _ := v.([]any)
			if len(fv) != 5 {
				continue
			}
			f, _ := fv[0].(string)
			val, _ := fv[1].(string)
			source, _ := fv[2].(string)
			verified, _ := fv[3].(bool)
			blocked, _ := fv[4].(bool)
			h := heldValue{source: identity.Source(source), verified: verified, blocked: blocked}
			st.values[[2]string{f, val}] = true
			st.widgetOnly[[2]string{f, val}] = h.source == identity.SourceWidget && !h.verified
			st.held[[2]string{f, val}] = h
			st.counts[f]++
		}
		for _, k := range list(rec, "keys") {
			rk, _ := k.([]any)
			if len(rk) == 2 {
				rule, _ := rk[0].(string)
				key, _ := rk[1].(string)
				st.keys[[2]string{rule, key}] = true
			}
		}
	}
	return ls, nil
}

// channelUser is a person's id on one channel account: it belongs to one client.
type channelUser struct{ kind, account, id string }
