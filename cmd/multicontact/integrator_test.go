package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// doLang is do with an Accept-Language header ("" sends none).
func (a *api) doLang(key, lang, query string, vars map[string]any) gqlResponse {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, a.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		a.t.Fatalf("response %d is not GraphQL JSON: %s", res.StatusCode, raw)
	}
	return out
}

type page struct {
	Edges    []struct{ Cursor string }
	Nodes    []struct{ ID string }
	PageInfo struct {
		EndCursor   *string
		HasNextPage bool
	}
}

func (p page) ids() []string {
	out := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = n.ID
	}
	return out
}

// walk reads every page of a list with first, returning the ids in order
// and the number of pages; get returns one page after a cursor.
func walk(t *testing.T, first int, get func(after *string) page) ([]string, int) {
	t.Helper()
	var ids []string
	var after *string
	for pages := 1; pages < 100; pages++ {
		p := get(after)
		if len(p.Nodes) > first || len(p.Edges) != len(p.Nodes) {
			t.Fatalf("page of %d nodes and %d edges, first %d", len(p.Nodes), len(p.Edges), first)
		}
		ids = append(ids, p.ids()...)
		if len(p.Edges) > 0 && (p.PageInfo.EndCursor == nil || *p.PageInfo.EndCursor != p.Edges[len(p.Edges)-1].Cursor) {
			t.Fatalf("endCursor %v is not the last edge's cursor", p.PageInfo.EndCursor)
		}
		if !p.PageInfo.HasNextPage {
			return ids, pages
		}
		after = p.PageInfo.EndCursor
	}
	t.Fatal("more than 100 pages")
	return nil, 0
}

// TestPagination: a multi-contact's members and conversations, findClients
// and apiKeys come a page at a time; every item once, in order, and the
// limits and cursors are checked.
func TestPagination(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	vars := func(kv ...any) map[string]any {
		m := map[string]any{"p": p.id}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("m-%d", i)
		want = append(want, id)
		a.client(p, id, "telegram", "phone", "+79160000077")
		a.ok(p.write, `mutation($p: ID!, $c: ID!, $v: ID!, $at: Time!) { recordConversation(projectId: $p, clientId: $c, input: {id: $v, startedAt: $at}) { id } }`,
			vars("c", id, "v", "conv-"+id, "at", time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)), nil)
	}
	var mc struct {
		Client struct{ MultiContact struct{ ID string } }
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "m-0") { multiContact { id } } }`, vars(), &mc)
	id := mc.Client.MultiContact.ID

	members, pages := walk(t, 3, func(after *string) page {
		var out struct{ MultiContact struct{ Clients page } }
		a.ok(p.read, `query($p: ID!, $id: ID!, $after: String) { multiContact(projectId: $p, id: $id) {
			clients(first: 3, after: $after) { edges { cursor } nodes { id } pageInfo { endCursor hasNextPage } } } }`,
			vars("id", id, "after", after), &out)
		return out.MultiContact.Clients
	})
	if !slices.Equal(members, want) || pages != 3 {
		t.Errorf("members in pages of 3: %v in %d pages, want %v in 3", members, pages, want)
	}

	found, _ := walk(t, 2, func(after *string) page {
		var out struct{ FindClients page }
		a.ok(p.read, `query($p: ID!, $after: String) { findClients(projectId: $p, field: "phone", value: "8 916 000-00-77", first: 2, after: $after) {
			edges { cursor } nodes { id } pageInfo { endCursor hasNextPage } } }`, vars("after", after), &out)
		return out.FindClients
	})
	if !slices.Equal(found, want) {
		t.Errorf("findClients in pages of 2: %v, want %v", found, want)
	}

	convs, _ := walk(t, 4, func(after *string) page {
		var out struct{ MultiContact struct{ Conversations page } }
		a.ok(p.read, `query($p: ID!, $id: ID!, $after: String) { multiContact(projectId: $p, id: $id) {
			conversations(first: 4, after: $after) { edges { cursor } nodes { id } pageInfo { endCursor hasNextPage } } } }`,
			vars("id", id, "after", after), &out)
		return out.MultiContact.Conversations
	})
	var newestFirst []string
	for i := 6; i >= 0; i-- {
		newestFirst = append(newestFirst, fmt.Sprintf("conv-m-%d", i))
	}
	if !slices.Equal(convs, newestFirst) {
		t.Errorf("conversations in pages of 4: %v, want %v", convs, newestFirst)
	}
	var one struct{ Client struct{ Conversations page } }
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "m-3") { conversations(first: 1) { nodes { id } pageInfo { hasNextPage } } } }`, vars(), &one)
	if got := one.Client.Conversations.ids(); !slices.Equal(got, []string{"conv-m-3"}) || one.Client.Conversations.PageInfo.HasNextPage {
		t.Errorf("client's conversations = %+v, want conv-m-3 alone", one.Client.Conversations)
	}

	keys, _ := walk(t, 3, func(after *string) page {
		var out struct{ ApiKeys page }
		a.ok(p.admin, `query($p: ID!, $after: String) { apiKeys(projectId: $p, first: 3, after: $after) {
			edges { cursor } nodes { id } pageInfo { endCursor hasNextPage } } }`, vars("after", after), &out)
		return out.ApiKeys
	})
	if len(keys) != 4 {
		t.Errorf("apiKeys in pages of 3: %v, want the 4 keys", keys)
	}

	// Limits and cursors of another list are refused, with the field named.
	for _, q := range []string{
		`query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { clients(first: 501) { nodes { id } } } }`,
		`query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { conversations(first: 0) { nodes { id } } } }`,
		`query($p: ID!) { apiKeys(projectId: $p, first: 1001) { nodes { id } } }`,
		`query($p: ID!) { searchClients(projectId: $p, query: "m", first: 101) { nodes { id } } }`,
	} {
		res := a.wantCode("BAD_USER_INPUT", p.admin, q, vars("id", id))
		if len(res.Errors) > 0 && res.Errors[0].Extensions["field"] != "first" {
			t.Errorf("%s: %+v, want field first", q, res.Errors[0])
		}
	}
	var keyPage struct{ ApiKeys page }
	a.ok(p.admin, `query($p: ID!) { apiKeys(projectId: $p, first: 1) { pageInfo { endCursor } } }`, vars(), &keyPage)
	res := a.wantCode("BAD_USER_INPUT", p.read, `query($p: ID!, $id: ID!, $after: String) { multiContact(projectId: $p, id: $id) { clients(after: $after) { nodes { id } } } }`,
		vars("id", id, "after", *keyPage.ApiKeys.PageInfo.EndCursor))
	if len(res.Errors) > 0 && res.Errors[0].Extensions["field"] != "after" {
		t.Errorf("an apiKeys cursor given to clients: %+v, want field after", res.Errors[0])
	}
}

// TestSearchClients: a partial or mistyped name, or a phone in another
// spelling, finds the person; only in the caller's project; Lucene syntax
// typed by a caller is text.
func TestSearchClients(t *testing.T) {
	a := startAPI(t)
	p, other := a.project(), a.project()
	upsertNamed := func(p testProject, id, name string, attrs ...string) {
		t.Helper()
		var as []map[string]any
		for i := 0; i+1 < len(attrs); i += 2 {
			as = append(as, map[string]any{"field": attrs[i], "value": attrs[i+1]})
		}
		a.ok(p.write, upsert, map[string]any{"p": p.id, "in": map[string]any{"id": id, "displayName": name,
			"channel": map[string]any{"kind": "telegram", "account": "acme"}, "attributes": as}}, nil)
	}
	upsertNamed(p, "tg-anna", "Анна Иванова", "phone", "+79161234567")
	upsertNamed(p, "tg-boris", "Boris Petrov", "email", "boris.petrov@example.com")
	upsertNamed(p, "tg-maria", "Maria Ivanova")
	upsertNamed(other, "tg-anna-other", "Анна Иванова", "phone", "+79161234567")

	search := func(key, q string) []string {
		t.Helper()
		var out struct{ SearchClients page }
		a.ok(key, `query($p: ID!, $q: String!) { searchClients(projectId: $p, query: $q) { nodes { id } } }`,
			map[string]any{"p": p.id, "q": q}, &out)
		return out.SearchClients.ids()
	}
	for _, c := range []struct {
		query string
		want  string // first hit
	}{
		{"Анна Иванова", "tg-anna"},
		{"Анна", "tg-anna"},
		{"анна", "tg-anna"},
		{"Ан", "tg-anna"},     // partial
		{"Ана", "tg-anna"},    // mistyped
		{"Иванва", "tg-anna"}, // mistyped
		{"Borsi", "tg-boris"}, // mistyped
		{"Petr", "tg-boris"},  // partial
		{"boris.petrov@example.com", "tg-boris"},
		{"8 (916) 123-45-67", "tg-anna"}, // the phone, another spelling
		{"Maria", "tg-maria"},
	} {
		got := search(p.read, c.query)
		if len(got) == 0 || got[0] != c.want {
			t.Errorf("searchClients(%q) = %v, want %s first", c.query, got, c.want)
		}
		if slices.Contains(got, "tg-anna-other") {
			t.Errorf("searchClients(%q) = %v: a client of another project", c.query, got)
		}
	}
	// A search finds a write acknowledged just before it, every time: the
	// index is updated after the commit, and the search waits for it.
	for i := range 20 {
		id, name := fmt.Sprintf("tg-new-%d", i), fmt.Sprintf("Quillon%c Zorbek", 'a'+i)
		upsertNamed(p, id, name)
		if got := search(p.read, name); len(got) == 0 || got[0] != id {
			t.Fatalf("searchClients(%q) right after its upsert = %v, want %s first", name, got, id)
		}
	}
	for _, q := range []string{`*:*`, `anna~ OR project:*`, `"`, `\`, `(`, `AND`, `project:` + other.id, `a && b || !c ^2 {x TO y} [a TO b] /re/`} {
		res := a.do(p.read, `query($p: ID!, $q: String!) { searchClients(projectId: $p, query: $q) { nodes { id } } }`,
			map[string]any{"p": p.id, "q": q})
		if len(res.Errors) > 0 && res.code() != "BAD_USER_INPUT" {
			t.Errorf("searchClients(%q): %+v, want an answer or BAD_USER_INPUT", q, res.Errors)
		}
		if strings.Contains(string(res.Data), "tg-anna-other") {
			t.Errorf("searchClients(%q) found another project's client: %s", q, res.Data)
		}
	}
	a.wantCode("BAD_USER_INPUT", p.read, `query($p: ID!) { searchClients(projectId: $p, query: "  -- ") { nodes { id } } }`, map[string]any{"p": p.id})
	a.wantCode("FORBIDDEN", other.read, `query($p: ID!) { searchClients(projectId: $p, query: "Анна") { nodes { id } } }`, map[string]any{"p": p.id})

	// Pages: every client once.
	all, _ := walk(t, 1, func(after *string) page {
		var out struct{ SearchClients page }
		a.ok(p.read, `query($p: ID!, $after: String) { searchClients(projectId: $p, query: "Ivanova Анна Boris", first: 1, after: $after) {
			edges { cursor } nodes { id } pageInfo { endCursor hasNextPage } } }`, map[string]any{"p": p.id, "after": after}, &out)
		return out.SearchClients
	})
	if slices.Sort(all); !slices.Equal(all, []string{"tg-anna", "tg-boris", "tg-maria"}) {
		t.Errorf("search in pages of 1 = %v, want the three clients once", all)
	}
}

type historyEvent struct {
	Type           string
	MultiContactID string
	PreviousIds    []string
	NewIds         []string
	Cause          struct{ Action string }
}

// TestHistory: a multi-contact's history holds the events of the ids it
// absorbed, its merge and its split; the part that split off starts with
// that split.
func TestHistory(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	vars := map[string]any{"p": p.id}
	a.client(p, "h-a", "telegram", "phone", "+79160000101")
	a.client(p, "h-b", "whatsapp", "email", "h@example.com")
	mcOf := func(c string) string {
		var out struct {
			Client struct{ MultiContact struct{ ID string } }
		}
		a.ok(p.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { multiContact { id } } }`, map[string]any{"p": p.id, "c": c}, &out)
		return out.Client.MultiContact.ID
	}
	mcA, mcB := mcOf("h-a"), mcOf("h-b")
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "h-a", "f": "email", "v": "h@example.com"}, nil) // merge
	survivor := mcOf("h-b")
	absorbed := mcA
	if survivor == mcA {
		absorbed = mcB
	}
	a.ok(p.write, `mutation($p: ID!) { removeAttribute(projectId: $p, clientId: "h-a", field: "email", value: "h@example.com") { id } }`, vars, nil)
	history := func(id string) []historyEvent {
		t.Helper()
		var out struct {
			MultiContact struct {
				History struct{ Nodes []historyEvent }
			}
		}
		a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { history { nodes {
			type multiContactId previousIds newIds cause { action } } } } }`, map[string]any{"p": p.id, "id": id}, &out)
		return out.MultiContact.History.Nodes
	}
	types := func(evs []historyEvent) (out []string) {
		for _, e := range evs {
			out = append(out, e.Type+":"+e.MultiContactID)
		}
		return out
	}
	got := history(survivor)
	want := []string{"CREATED:" + mcA, "CREATED:" + mcB, "MERGED:" + survivor, "SPLIT:" + survivor}
	if !slices.Equal(types(got), want) {
		t.Fatalf("history of %s = %v, want %v", survivor, types(got), want)
	}
	if got[2].PreviousIds[0] != absorbed || got[2].Cause.Action != "setAttribute" || got[3].Cause.Action != "removeAttribute" {
		t.Errorf("merge and split of the history: %+v", got[2:])
	}
	part := got[3].NewIds[0]
	if ph := history(part); len(ph) != 1 || ph[0].Type != "SPLIT" || ph[0].MultiContactID != survivor {
		t.Errorf("history of the part %s = %v, want the SPLIT of %s", part, types(ph), survivor)
	}
	// Pages of 1 through the history, by an absorbed id.
	var seen []string
	var after *string
	for range 10 {
		var out struct {
			MultiContact struct{ History page }
		}
		a.ok(p.read, `query($p: ID!, $id: ID!, $after: String) { multiContact(projectId: $p, id: $id) { history(first: 1, after: $after) {
			edges { cursor } nodes { id: multiContactId } pageInfo { endCursor hasNextPage } } } }`,
			map[string]any{"p": p.id, "id": absorbed, "after": after}, &out)
		seen = append(seen, out.MultiContact.History.ids()...)
		if !out.MultiContact.History.PageInfo.HasNextPage {
			break
		}
		after = out.MultiContact.History.PageInfo.EndCursor
	}
	if len(seen) != 4 {
		t.Errorf("history in pages of 1 = %v, want 4 events", seen)
	}
}

// TestForgetMultiContact: forgetting a person leaves nothing of them that
// any query reaches, nor in the graph; what others share stays; one
// FORGOTTEN event with ids and counts is left.
func TestForgetMultiContact(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	vars := map[string]any{"p": p.id}
	a.ok(p.admin, `mutation($p: ID!) { defineField(projectId: $p, input: {key: "city", type: TEXT}) { key } }`, vars, nil)
	a.ok(p.write, upsert, map[string]any{"p": p.id, "in": map[string]any{"id": "f-1", "displayName": "Zoya Forgetme",
		"channel": map[string]any{"kind": "telegram", "account": "acme"}, "channelUserId": "777001",
		"attributes": []map[string]any{{"field": "phone", "value": "+79165550001"}, {"field": "email", "value": "zoya@example.com"},
			{"field": "city", "value": "Kazan"}}}}, nil)
	a.client(p, "f-2", "whatsapp", "email", "zoya@example.com", "phone", "+79165550002")
	a.client(p, "f-3", "vk")
	a.client(p, "keep-1", "vk", "city", "Kazan", "phone", "+79165550009")
	a.ok(p.write, `mutation($p: ID!) { linkClients(projectId: $p, a: "f-2", b: "f-3") { id } }`, vars, nil)
	a.ok(p.write, `mutation($p: ID!) { recordConversation(projectId: $p, clientId: "f-1", input: {id: "fc-1", startedAt: "2026-02-01T10:00:00Z", summary: "Zoya asked"}) { id } }`, vars, nil)
	a.ok(p.write, `mutation($p: ID!) { recordConversation(projectId: $p, clientId: "f-3", input: {id: "fc-2", startedAt: "2026-02-02T10:00:00Z"}) { id } }`, vars, nil)
	var mc struct {
		Client struct{ MultiContact struct{ ID string } }
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "f-3") { multiContact { id } } }`, vars, &mc)
	id := mc.Client.MultiContact.ID
	var full struct {
		MultiContact struct {
			Size    int
			Aliases []string
		}
	}
	a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { size aliases } }`, map[string]any{"p": p.id, "id": id}, &full)
	if full.MultiContact.Size != 3 || len(full.MultiContact.Aliases) == 0 {
		t.Fatalf("the person's multi-contact: %+v, want 3 members and an absorbed id", full.MultiContact)
	}
	alias := full.MultiContact.Aliases[0]

	forget := `mutation($p: ID!, $id: ID!) { forgetMultiContact(projectId: $p, id: $id) {
		type multiContactId clientIds cursor cause { kind action field value } forgotten { clients values conversations links } } }`
	a.wantCode("FORBIDDEN", p.write, forget, map[string]any{"p": p.id, "id": id})
	var out struct {
		ForgetMultiContact struct {
			Type           string
			MultiContactID string
			ClientIds      []string
			Cursor         string
			Cause          struct {
				Kind, Action string
				Field, Value *string
			}
			Forgotten *struct{ Clients, Values, Conversations, Links int }
		}
	}
	a.ok(p.admin, forget, map[string]any{"p": p.id, "id": alias}, &out) // by an absorbed id
	e := out.ForgetMultiContact
	if e.Type != "FORGOTTEN" || e.MultiContactID != id || !slices.Equal(e.ClientIds, []string{"f-1", "f-2", "f-3"}) ||
		e.Cause.Action != "forgetMultiContact" || e.Cause.Field != nil || e.Cause.Value != nil ||
		e.Forgotten == nil || *e.Forgotten != (struct{ Clients, Values, Conversations, Links int }{3, 5, 2, 1}) {
		t.Errorf("forgetMultiContact = %+v (forgotten %+v)", e, e.Forgotten)
	}
	a.wantCode("NOT_FOUND", p.admin, forget, map[string]any{"p": p.id, "id": id})

	// Nothing of the person through the API.
	for _, c := range []string{"f-1", "f-2", "f-3"} {
		var cl struct{ Client *struct{ ID string } }
		a.ok(p.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { id } }`, map[string]any{"p": p.id, "c": c}, &cl)
		if cl.Client != nil {
			t.Errorf("client %s is still there", c)
		}
	}
	for _, mcID := range []string{id, alias} {
		var m struct{ MultiContact *struct{ ID string } }
		a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { id } }`, map[string]any{"p": p.id, "id": mcID}, &m)
		if m.MultiContact != nil {
			t.Errorf("multiContact(%s) = %+v, want null", mcID, m.MultiContact)
		}
	}
	for _, fv := range [][2]string{{"phone", "+79165550001"}, {"phone", "+79165550002"}, {"email", "zoya@example.com"}, {"city", "Kazan"}} {
		var f struct{ FindClients page }
		a.ok(p.read, `query($p: ID!, $f: String!, $v: String!) { findClients(projectId: $p, field: $f, value: $v) { nodes { id } } }`,
			map[string]any{"p": p.id, "f": fv[0], "v": fv[1]}, &f)
		want := []string{}
		if fv[0] == "city" {
			want = []string{"keep-1"} // shared with someone else: theirs stays
		}
		if got := f.FindClients.ids(); !slices.Equal(got, want) {
			t.Errorf("findClients(%s %s) = %v, want %v", fv[0], fv[1], got, want)
		}
	}
	for _, q := range []string{"Zoya", "Forgetme", "zoya@example.com", "+79165550001", "777001"} {
		var s struct{ SearchClients page }
		a.ok(p.read, `query($p: ID!, $q: String!) { searchClients(projectId: $p, query: $q) { nodes { id } } }`, map[string]any{"p": p.id, "q": q}, &s)
		for _, got := range s.SearchClients.ids() {
			if got != "keep-1" {
				t.Errorf("searchClients(%q) finds %s", q, got)
			}
		}
	}
	var evs struct {
		Events struct {
			Nodes []struct {
				Type      string
				ClientIds []string
				Cause     struct{ Value *string }
			}
		}
	}
	a.ok(p.read, `query($p: ID!) { events(projectId: $p, first: 1000) { nodes { type clientIds cause { value } } } }`, vars, &evs)
	last := evs.Events.Nodes[len(evs.Events.Nodes)-1]
	if last.Type != "FORGOTTEN" {
		t.Errorf("last event %+v, want FORGOTTEN", last)
	}
	for _, e := range evs.Events.Nodes {
		if e.Cause.Value != nil {
			t.Errorf("an event still names a value: %+v", e)
		}
	}

	// Nothing of the person in the graph either.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	driver := graphtest.Driver(t)
	res, err := neo4j.ExecuteQuery(ctx, driver, `
		CALL {
			UNWIND ['f-1', 'f-2', 'f-3'] AS id MATCH (n:Client {project: $p, id: id}) RETURN n
			UNION
			UNWIND [['phone', '+79165550001'], ['phone', '+79165550002'], ['email', 'zoya@example.com']] AS fv
			MATCH (n:Value {project: $p, field: fv[0], value: fv[1]}) RETURN n
			UNION
			UNWIND ['fc-1', 'fc-2'] AS id MATCH (n:Conversation {project: $p, id: id}) RETURN n
			UNION
			MATCH (n:MatchKey {project: $p}) WHERE n.key CONTAINS '79165550001' OR n.key CONTAINS '79165550002' OR n.key CONTAINS 'zoya' RETURN n
			UNION
			MATCH (:Channel {project: $p})<-[v:VIA {channelUserId: '777001'}]-(n) RETURN n
		}
		RETURN [labels(n)[0], properties(n)] AS node`, map[string]any{"p": p.id}, neo4j.EagerResultTransformer)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range res.Records {
		node, _ := rec.Get("node")
		t.Errorf("left in the graph: %v", node)
	}
	res, err = neo4j.ExecuteQuery(ctx, driver, `MATCH (v:Value {project: $p, value: 'kazan'})<-[:HAS]-(c:Client) RETURN c.id AS id`,
		map[string]any{"p": p.id}, neo4j.EagerResultTransformer)
	if err != nil || len(res.Records) != 1 {
		t.Errorf("the shared value: %v %v, want held by keep-1 alone", res, err)
	}
}

// TestErrorLanguage: messages in Russian by default, in English for a
// project whose locale is en or a request that asks for it; codes the same.
func TestErrorLanguage(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "l-1", "telegram")
	bad := map[string]any{"p": p.id, "c": "l-1", "f": "phone", "v": "not a phone"}
	refusal := func(lang string) (code, msg string) {
		t.Helper()
		res := a.doLang(p.write, lang, setAttribute, bad)
		var out setResult
		if len(res.Errors) > 0 || json.Unmarshal(res.Data, &out) != nil || out.SetAttribute.Error == nil {
			t.Fatalf("setAttribute: %+v", res)
		}
		return out.SetAttribute.Error.Code, out.SetAttribute.Error.Message
	}
	pageErr := func(lang string) gqlError {
		t.Helper()
		res := a.doLang(p.read, lang, `query($p: ID!) { apiKeys(projectId: $p, first: 0) { nodes { id } } }`, map[string]any{"p": p.id})
		if len(res.Errors) == 0 {
			t.Fatal("apiKeys(first: 0) answered")
		}
		return res.Errors[0]
	}
	cyrillic := func(s string) bool { return strings.ContainsAny(s, "аеиоуыэюяАЕИОУЫЭЮЯ") }
	check := func(what, lang string, wantRu bool) {
		t.Helper()
		code, msg := refusal(lang)
		if code != "INVALID_PHONE" || cyrillic(msg) != wantRu {
			t.Errorf("%s: refusal %s %q, want Russian %v", what, code, msg, wantRu)
		}
		e := pageErr(lang)
		if e.Extensions["code"] != "FORBIDDEN" { // a READ key may not list keys
			t.Errorf("%s: %+v, want FORBIDDEN", what, e)
		}
	}
	check("default", "", true)
	check("Accept-Language en", "en-US,en;q=0.9", false)
	check("Accept-Language de only", "de", true)
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {locale: "en"}) { settings { locale } } }`, map[string]any{"p": p.id}, nil)
	check("project locale en", "", false)
	check("project en, Accept-Language ru", "ru-RU", true)

	res := a.doLang(p.admin, "", `query($p: ID!) { apiKeys(projectId: $p, first: 0) { nodes { id } } }`, map[string]any{"p": p.id})
	if len(res.Errors) == 0 || res.code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["reason"] != "INVALID_ARGUMENT" ||
		cyrillic(res.Errors[0].Message) || !strings.Contains(fmt.Sprint(res.Errors[0].Extensions["detail"]), "between 1 and 1000") {
		t.Errorf("apiKeys(first: 0) in en: %+v", res.Errors)
	}
	res = a.doLang(p.admin, "ru", `query($p: ID!) { apiKeys(projectId: $p, first: 0) { nodes { id } } }`, map[string]any{"p": p.id})
	if len(res.Errors) == 0 || res.code() != "BAD_USER_INPUT" || !cyrillic(res.Errors[0].Message) {
		t.Errorf("apiKeys(first: 0) in ru: %+v", res.Errors)
	}
	a.wantCode("BAD_USER_INPUT", p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {locale: "de"}) { id } }`, map[string]any{"p": p.id})
}

// A browser cannot set a websocket's headers: the language of a
// subscription's errors comes from connection_init's acceptLanguage, as the
// console sends it; without it, from the project's locale.
func TestSubscriptionErrorLanguage(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {locale: "en"}) { id } }`, map[string]any{"p": p.id}, nil)
	cyrillic := func(s string) bool { return strings.ContainsAny(s, "аеиоуыэюяАЕИОУЫЭЮЯ") }
	for _, tc := range []struct {
		lang   string
		wantRu bool
	}{{"", false}, {"ru-RU,ru;q=0.9", true}, {"en", false}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+"/graphql",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		init, _ := json.Marshal(map[string]string{"authorization": "Bearer " + p.read, "acceptLanguage": tc.lang})
		if err := wsjson.Write(ctx, ws, wsMessage{Type: "connection_init", Payload: init}); err != nil {
			t.Fatal(err)
		}
		var ack wsMessage
		if err := wsjson.Read(ctx, ws, &ack); err != nil || ack.Type != "connection_ack" {
			t.Fatalf("connection_init: %+v %v", ack, err)
		}
		c := &wsClient{t: t, conn: ws}
		c.subscribe("1", `subscription($p: ID!) { multiContactChanged(projectId: $p, after: "not a cursor") { type } }`, map[string]any{"p": p.id})
		m, err := c.next(10 * time.Second)
		cancel()
		ws.CloseNow()
		if err != nil {
			t.Fatal(err)
		}
		var out gqlResponse // a resolver's refusal comes as a result with errors
		_ = json.Unmarshal(m.Payload, &out)
		errs := out.Errors
		if len(errs) == 0 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || cyrillic(errs[0].Message) != tc.wantRu {
			t.Errorf("acceptLanguage %q: %s %s, want BAD_USER_INPUT in Russian %v", tc.lang, m.Type, m.Payload, tc.wantRu)
		}
	}
}
