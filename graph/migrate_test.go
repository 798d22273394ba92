package graph_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

// A graph that an earlier version wrote keeps channel user ids on VIA
// edges alone (an empty string for none), checked under the channel's
// lock: a store that opens moves them under the channel_user constraint,
// which then keeps an id to one client.
func TestOpenMovesChannelUsersUnderTheirConstraint(t *testing.T) {
	f := newFixture(t)
	telegram := identity.Channel{Kind: "telegram", Account: "bot"}
	for id, uid := range map[string]string{"tg-1": "111", "tg-2": "222", "tg-3": ""} {
		if _, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: id, Channel: telegram, ChannelUserID: uid}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, driver := graphtest.Config(), graphtest.Driver(t)
	run := func(q string) []*neo4j.Record {
		t.Helper()
		res, err := neo4j.ExecuteQuery(context.Background(), driver, q, map[string]any{"project": f.project},
			neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res.Records
	}
	run("DROP CONSTRAINT channel_user IF EXISTS")
	run(`MATCH (:Client {project: $project})-[v:VIA]->()
		SET v.channelUserId = coalesce(v.channelUserId, '') REMOVE v.project, v.kind, v.account`)

	graphtest.Store(t, graph.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))) // opens anew
	got := map[string]any{}
	for _, rec := range run(`MATCH (c:Client {project: $project})-[v:VIA]->(ch:Channel)
		RETURN c.id AS id, v.channelUserId AS uid, v.project = ch.project AND v.kind = ch.kind AND v.account = ch.account AS keyed`) {
		id, _ := rec.Get("id")
		uid, _ := rec.Get("uid")
		keyed, _ := rec.Get("keyed")
		got[id.(string)] = [2]any{uid, keyed}
	}
	want := map[string]any{"tg-1": [2]any{"111", true}, "tg-2": [2]any{"222", true}, "tg-3": [2]any{nil, nil}}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s after Open: channel user id, keyed = %v, want %v", id, got[id], w)
		}
	}
	if n := len(run("SHOW CONSTRAINTS YIELD name WHERE name = 'channel_user' RETURN name")); n != 1 {
		t.Fatalf("%d channel_user constraints after Open", n)
	}
	_, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: "tg-3", Channel: telegram, ChannelUserID: "111"})
	if identity.ErrorCode(err) != identity.CodeConflict {
		t.Errorf("tg-3 given tg-1's channel user id: %v, want %s", err, identity.CodeConflict)
	}
}
