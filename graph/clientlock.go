package graph

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// claimEventIDs records the event ids (sorted, distinct) as applied and
// returns those that no committed transaction had recorded before. The
// uniqueness constraint on AppliedEvent makes a concurrent claim of the
// same id wait for this transaction, so an id applies at most once.
func claimEventIDs(ctx context.Context, tx neo4j.ManagedTransaction, project string, ids []string) (map[string]bool, error) {
	fresh := map[string]bool{}
	if len(ids) == 0 {
		return fresh, nil
	}
	recs, err := collect(ctx, tx, `UNWIND $in.ids AS id
		MERGE (a:AppliedEvent {project: $project, id: id})
		ON CREATE SET a.claimed = true
		WITH a, id, coalesce(a.claimed, false) AS fresh
		REMOVE a.claimed
		RETURN id, fresh`, map[string]any{"project": project, "in": map[string]any{"ids": ids}})
	if err != nil {
		return nil, fmt.Errorf("claim event ids: %w", err)
	}
	for _, rec := range recs {
		fresh[str(rec, "id")] = boolean(rec, "fresh")
	}
	return fresh, nil
}

// lockClients takes the write locks of the named clients that exist and
// then reads their channels and values, so that every check made on them
// (the value cap, the channel) holds until commit, and, in the same
// statement, the version of the project's configuration (see projectAt).
// It also reads which client owns each conversation. A client that does
// not exist yet is locked when it is created (see writeOutcome).
func lockClients(ctx context.Context, tx neo4j.ManagedTransaction, project string, ids, convIDs []string, users []map[string]any) (
	map[string]*clientState, map[string]string, map[channelUser]string, int64, error) {
	state := make(map[string]*clientState, len(ids))
	for _, id := range ids {
		state[id] = &clientState{values: map[[2]string]bool{}, counts: map[string]int{}, widgetOnly: map[[2]string]bool{},
			held: map[[2]string]heldValue{}, keys: map[[2]string]bool{}}
	}
	recs, err := collect(ctx, tx, `OPTIONAL MATCH (p:Project {id: $project})
		WITH coalesce(p.configVersion, 0) AS version
		CALL {
			UNWIND $in.ids AS id
			MATCH (c:Client {project: $project, id: id})
			SET c.locked = true REMOVE c.locked
			RETURN c
			UNION
			RETURN null AS c // a row for the version even when no client exists yet
		}
		RETURN version, c.id AS id, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
			[(c)-[u:VIA]->(ch:Channel) | [ch.kind, ch.account, coalesce(u.channelUserId, '')]][0] AS channel,
			[(c)-[h:HAS]->(v:Value) | [v.field, v.value, coalesce(h.source, ''), coalesce(h.verified, false), coalesce(v.blocked, false)]] AS values,
			[(c)-[:MATCHES]->(k:MatchKey) | [k.rule, k.key]] AS keys`,
		map[string]any{"project": project, "in": map[string]any{"ids": ids}})
	if err != nil {
		return nil, nil, nil, 0, err
	}
	var version int64
	for _, rec := range recs {
		version = i64(rec, "version")
		if rec.AsMap()["id"] == nil {
			continue // the version's row
		}
		st := state[str(rec, "id")]
		st.exists, st.mc, st.excluded = true, str(rec, "mc"), boolean(rec, "excluded")
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
	owners := map[string]string{}
	if len(convIDs) > 0 {
		recs, err = collect(ctx, tx, `UNWIND $in.ids AS id MATCH (v:Conversation {project: $project, id: id}) RETURN v.id AS id, v.client AS client`,
			map[string]any{"project": project, "in": map[string]any{"ids": convIDs}})
		if err != nil {
			return nil, nil, nil, 0, err
		}
		for _, rec := range recs {
			owners[str(rec, "id")] = str(rec, "client")
		}
	}
	byUser := map[channelUser]string{}
	if len(users) > 0 {
		recs, err = collect(ctx, tx, `UNWIND $in.users AS u
			MATCH (o:Client)-[:VIA {project: $project, kind: u.kind, account: u.account, channelUserId: u.uid}]->(:Channel)
			RETURN u.kind AS kind, u.account AS account, u.uid AS uid, o.id AS id`,
			map[string]any{"project": project, "in": map[string]any{"users": users}})
		if err != nil {
			return nil, nil, nil, 0, err
		}
		for _, rec := range recs {
			byUser[channelUser{str(rec, "kind"), str(rec, "account"), str(rec, "uid")}] = str(rec, "id")
		}
	}
	return state, owners, byUser, version, nil
}

// channelUser is a person's id on one channel account: it belongs to one client.
type channelUser struct{ kind, account, id string }
