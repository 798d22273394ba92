package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gqlclient "github.com/99designs/gqlgen/client"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/multicontact/multicontact/graph/graphtest"
)

const testAdminToken = "test-admin-token"

// api is a running server with helpers to call it.
type api struct {
	t   *testing.T
	m   *ServeMain
	url string
}

// startAPI boots the real serve command on port 0 with a known admin token.
func startAPI(t *testing.T, flags ...string) *api {
	t.Helper()
	graphtest.Require(t)
	m := NewServeMain(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	getenv := func(k string) string {
		if k == "MULTICONTACT_ADMIN_TOKEN" {
			return testAdminToken
		}
		return os.Getenv(k)
	}
	// Every test's visitors come from 127.0.0.1: the widget's bound per
	// address is off unless a test sets it (a later flag wins).
	if err := m.ParseFlags(append([]string{"-addr", "127.0.0.1:0", "-keep-alive", "1s", "-widget-rate", "0"}, flags...), getenv); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &api{t: t, m: m, url: m.URL()}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts one GraphQL operation with the key (may be "") and returns the raw response.
func (a *api) do(key, query string, vars map[string]any) gqlResponse {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, a.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		a.t.Fatalf("response %d is not GraphQL JSON: %s", res.StatusCode, raw)
	}
	return out
}

// ok runs an operation that must succeed and decodes its data into v.
func (a *api) ok(key, query string, vars map[string]any, v any) {
	a.t.Helper()
	res := a.do(key, query, vars)
	if len(res.Errors) > 0 {
		a.t.Fatalf("%s: errors %+v", firstLine(query), res.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(res.Data, v); err != nil {
			a.t.Fatal(err)
		}
	}
}

// wantCode runs an operation that must fail with the given extensions.code.
func (a *api) wantCode(code, key, query string, vars map[string]any) gqlResponse {
	a.t.Helper()
	res := a.do(key, query, vars)
	if got := res.code(); got != code {
		a.t.Errorf("%s: code %q, want %q (errors %+v)", firstLine(query), got, code, res.Errors)
	}
	return res
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

var projectSeq atomic.Int64

// project creates a project with rules {phone} and {email}, waits until it
// is resolved, and returns its id with keys of every role.
type testProject struct {
	id                         string
	admin, write, read, widget string
}

func (a *api) project() testProject {
	a.t.Helper()
	id := fmt.Sprintf("api-%d-%d", time.Now().UnixNano(), projectSeq.Add(1))
	a.ok(testAdminToken, `mutation($id: ID!) { createProject(input: {id: $id, name: "Test", defaultRegion: "RU"}) { id } }`,
		map[string]any{"id": id}, nil)
	p := testProject{id: id}
	for role, dst := range map[string]*string{"ADMIN": &p.admin, "WRITE": &p.write, "READ": &p.read, "WIDGET": &p.widget} {
		var out struct{ CreateApiKey struct{ Secret string } }
		a.ok(testAdminToken, `mutation($p: ID!, $r: Role!) { createApiKey(projectId: $p, role: $r) { secret key { role } } }`,
			map[string]any{"p": id, "r": role}, &out)
		*dst = out.CreateApiKey.Secret
	}
	for _, fields := range [][]string{{"phone"}, {"email"}} {
		a.ok(p.admin, `mutation($p: ID!, $f: [String!]!) { addRule(projectId: $p, input: {name: "by", fields: $f}) { id } }`,
			map[string]any{"p": id, "f": fields}, nil)
	}
	a.waitIdle(p)
	return p
}

func (a *api) waitIdle(p testProject) {
	a.t.Helper()
	a.waitIdleWithin(p, 30*time.Second)
}

// waitIdleWithin waits until the project is IDLE, failing after d.
func (a *api) waitIdleWithin(p testProject, d time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var out struct {
			Project struct{ Resolution struct{ State string } }
		}
		a.ok(p.read, `query($p: ID!) { project(id: $p) { resolution { state progress } } }`, map[string]any{"p": p.id}, &out)
		if out.Project.Resolution.State == "IDLE" {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatal("the project did not become IDLE")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const upsert = `mutation($p: ID!, $in: ClientInput!) { upsertClient(projectId: $p, input: $in) { id multiContact { id } } }`

func (a *api) client(p testProject, id, kind string, attrs ...string) {
	a.t.Helper()
	var as []map[string]any
	for i := 0; i+1 < len(attrs); i += 2 {
		as = append(as, map[string]any{"field": attrs[i], "value": attrs[i+1]})
	}
	a.ok(p.write, upsert, map[string]any{"p": p.id, "in": map[string]any{"id": id,
		"channel": map[string]any{"kind": kind, "account": "acme"}, "attributes": as}}, nil)
}

const setAttribute = `mutation($p: ID!, $c: ID!, $f: String!, $v: String!) {
	setAttribute(projectId: $p, clientId: $c, field: $f, value: $v) {
		accepted normalized error { field code message } client { id attributes { field value source } }
	}
}`

type setResult struct {
	SetAttribute struct {
		Accepted   bool
		Normalized *string
		Error      *struct{ Field, Code, Message string }
		Client     *struct{ ID string }
	}
}

func TestBotAsksAgainUntilThePhoneIsValid(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "tg-1", "telegram")

	var v struct {
		ValidateValue struct {
			Valid      bool
			Normalized *string
			Error      *struct{ Code string }
		}
	}
	a.ok(p.write, `query($p: ID!) { validateValue(projectId: $p, field: "phone", value: "12345") { valid normalized error { code } } }`,
		map[string]any{"p": p.id}, &v)
	if v.ValidateValue.Valid || v.ValidateValue.Error == nil || v.ValidateValue.Error.Code != "INVALID_PHONE" {
		t.Errorf("validateValue(12345) = %+v, want invalid with INVALID_PHONE", v.ValidateValue)
	}

	var first setResult
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "tg-1", "f": "phone", "v": "12345"}, &first)
	got := first.SetAttribute
	if got.Accepted || got.Error == nil || got.Error.Code != "INVALID_PHONE" || got.Error.Field != "phone" || got.Error.Message == "" {
		t.Fatalf("setAttribute(12345) = %+v, want refused with INVALID_PHONE on phone and a message", got)
	}

	var again setResult
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "tg-1", "f": "phone", "v": "8 916 123-45-67"}, &again)
	if s := again.SetAttribute; !s.Accepted || s.Normalized == nil || *s.Normalized != "+79161234567" || s.Client == nil {
		t.Fatalf("setAttribute(8 916 123-45-67) = %+v, want accepted as +79161234567", s)
	}

	var found struct {
		FindClients struct{ Nodes []struct{ ID string } }
	}
	a.ok(p.read, `query($p: ID!) { findClients(projectId: $p, field: "phone", value: "+7 (916) 1234567") { nodes { id } } }`,
		map[string]any{"p": p.id}, &found)
	if n := found.FindClients.Nodes; len(n) != 1 || n[0].ID != "tg-1" {
		t.Errorf("findClients with another spelling = %+v, want [tg-1]", n)
	}
}

// wsClient is a minimal graphql-transport-ws client over coder/websocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (a *api) dialWS(key string) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	c := &wsClient{t: a.t, conn: conn}
	a.t.Cleanup(func() { conn.CloseNow() })
	init, _ := json.Marshal(map[string]string{"authorization": "Bearer " + key})
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}); err != nil {
		return nil, err
	}
	var ack wsMessage
	if err := wsjson.Read(ctx, conn, &ack); err != nil {
		return nil, err
	}
	if ack.Type != "connection_ack" {
		return nil, fmt.Errorf("got %s, want connection_ack", ack.Type)
	}
	return c, nil
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(context.Background(), c.conn, wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next next/error/complete message, answering pings.
func (c *wsClient) next(timeout time.Duration) (wsMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return m, err
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(ctx, c.conn, wsMessage{Type: "pong"})
		case "pong", "ka":
		default:
			return m, nil
		}
	}
}

type changeEvent struct {
	Type           string
	MultiContactID string
	PreviousIds    []string
	NewIds         []string
	ClientIds      []string
	Cursor         string
}

const changed = `subscription($p: ID!, $mc: ID, $c: ID, $after: String) {
	multiContactChanged(projectId: $p, multiContactId: $mc, clientId: $c, after: $after) {
		type multiContactId previousIds newIds clientIds cursor cause { kind action }
	}
}`

func (c *wsClient) event(t *testing.T) changeEvent {
	t.Helper()
	m, err := c.next(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "next" {
		t.Fatalf("got %s %s, want next", m.Type, m.Payload)
	}
	var out struct {
		Data   struct{ MultiContactChanged changeEvent }
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("event %s: %v %+v", m.Payload, err, out.Errors)
	}
	return out.Data.MultiContactChanged
}

func TestSubscriptionsDeliverMergeAndSplitAndEventsReplay(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "web-1", "web", "phone", "+79161234567")
	a.client(p, "tg-2", "telegram", "email", "ann@example.com")
	a.client(p, "vk-3", "vk", "email", "bob@example.com")

	var mc struct {
		Client struct{ MultiContact struct{ ID string } }
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "web-1") { multiContact { id } } }`, map[string]any{"p": p.id}, &mc)
	webMC := mc.Client.MultiContact.ID

	// Subscribed from the log's end as it is now: what follows reaches each
	// subscriber however long its subscription takes to start.
	var before struct {
		Events struct{ PageInfo struct{ EndCursor *string } }
	}
	a.ok(p.read, `query($p: ID!) { events(projectId: $p, first: 1000) { pageInfo { endCursor } } }`, map[string]any{"p": p.id}, &before)
	from := before.Events.PageInfo.EndCursor

	byClient, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	byClient.subscribe("1", changed, map[string]any{"p": p.id, "c": "web-1", "after": from})
	byMC, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	byMC.subscribe("1", changed, map[string]any{"p": p.id, "mc": webMC, "after": from})
	other, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	other.subscribe("1", changed, map[string]any{"p": p.id, "c": "vk-3", "after": from})

	// tg-2 gives the same phone in another spelling: web-1 and tg-2 merge.
	var set setResult
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "tg-2", "f": "phone", "v": "8 (916) 123-45-67"}, &set)
	merged := byClient.event(t)
	if merged.Type != "MERGED" || !contains(merged.ClientIds, "web-1") || !contains(merged.ClientIds, "tg-2") {
		t.Fatalf("by client: %+v, want MERGED of web-1 and tg-2", merged)
	}
	if e := byMC.event(t); e.Type != "MERGED" || e.MultiContactID != merged.MultiContactID {
		t.Fatalf("by multi-contact: %+v, want the same MERGED", e)
	}

	// Taking the phone away splits them again.
	a.ok(p.write, `mutation($p: ID!) { removeAttribute(projectId: $p, clientId: "tg-2", field: "phone", value: "+79161234567") { id } }`,
		map[string]any{"p": p.id}, nil)
	split := byClient.event(t)
	if split.Type != "SPLIT" || split.MultiContactID != merged.MultiContactID || len(split.NewIds) != 1 {
		t.Fatalf("by client: %+v, want SPLIT of %s into one new id", split, merged.MultiContactID)
	}
	if e := byMC.event(t); e.Type != "SPLIT" {
		t.Fatalf("by multi-contact: %+v, want SPLIT", e)
	}

	// The subscriber of vk-3 heard none of that: its first event is its own.
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "vk-3", "f": "skype", "v": "bob.skype"}, nil)
	if e := other.event(t); e.Type != "UPDATED" || !contains(e.ClientIds, "vk-3") || contains(e.ClientIds, "web-1") {
		t.Fatalf("vk-3 subscriber got %+v first, want its own UPDATED", e)
	}

	// Replay: the events after the earlier cursor are the MERGED and SPLIT, in order.
	var replay struct {
		Events struct {
			Edges []struct {
				Cursor string
				Node   changeEvent
			}
			PageInfo struct {
				EndCursor   *string
				HasNextPage bool
			}
		}
	}
	vars := map[string]any{"p": p.id, "after": before.Events.PageInfo.EndCursor}
	a.ok(p.read, `query($p: ID!, $after: String) { events(projectId: $p, after: $after, first: 2) {
		edges { cursor node { type multiContactId clientIds } } pageInfo { endCursor hasNextPage } } }`, vars, &replay)
	var types []string
	for _, e := range replay.Events.Edges {
		types = append(types, e.Node.Type)
	}
	if strings.Join(types, ",") != "MERGED,SPLIT" || !replay.Events.PageInfo.HasNextPage {
		t.Fatalf("replay = %v (hasNextPage %v), want MERGED,SPLIT with more", types, replay.Events.PageInfo.HasNextPage)
	}
	if replay.Events.Edges[0].Cursor != merged.Cursor || replay.Events.Edges[1].Cursor != split.Cursor {
		t.Errorf("replayed cursors %s,%s; live cursors %s,%s", replay.Events.Edges[0].Cursor, replay.Events.Edges[1].Cursor, merged.Cursor, split.Cursor)
	}
	// Resuming from the SPLIT's cursor gives what came after it.
	a.ok(p.read, `query($p: ID!, $after: String) { events(projectId: $p, after: $after) {
		edges { cursor node { type multiContactId clientIds } } pageInfo { endCursor hasNextPage } } }`,
		map[string]any{"p": p.id, "after": split.Cursor}, &replay)
	if len(replay.Events.Edges) != 1 || replay.Events.Edges[0].Node.Type != "UPDATED" || replay.Events.PageInfo.HasNextPage {
		t.Errorf("after the SPLIT: %+v, want only vk-3's UPDATED", replay.Events)
	}
}

// A page of events as large as the API gives (1000) says whether more
// follow: a consumer that replays the log page by page reaches its end.
func TestAFullPageOfEventsSaysMoreFollow(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	var body strings.Builder
	for i := range 1001 { // one CREATED event each
		fmt.Fprintf(&body, `{"op":"client","id":"web-%d","channel":{"kind":"web","account":"site"}}`+"\n", i)
	}
	if status, lines := a.postImport(p.write, p.id, body.String()); status != 200 {
		t.Fatalf("import: %d %v", status, lines)
	}
	var page struct {
		Events struct {
			Edges    []struct{ Cursor string }
			PageInfo struct {
				EndCursor   *string
				HasNextPage bool
			}
		}
	}
	query := `query($p: ID!, $after: String) { events(projectId: $p, after: $after, first: 1000) {
		edges { cursor } pageInfo { endCursor hasNextPage } } }`
	a.ok(p.read, query, map[string]any{"p": p.id}, &page)
	if len(page.Events.Edges) != 1000 || !page.Events.PageInfo.HasNextPage {
		t.Fatalf("first page: %d events, hasNextPage %v; want 1000 and more", len(page.Events.Edges), page.Events.PageInfo.HasNextPage)
	}
	a.ok(p.read, query, map[string]any{"p": p.id, "after": page.Events.PageInfo.EndCursor}, &page)
	if len(page.Events.Edges) != 1 || page.Events.PageInfo.HasNextPage {
		t.Errorf("second page: %d events, hasNextPage %v; want 1 and no more", len(page.Events.Edges), page.Events.PageInfo.HasNextPage)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestGraphQLWSClientOfGqlgen subscribes with gqlgen's own client, which
// speaks the older graphql-ws subprotocol, through a proxy to the server.
func TestGraphQLWSClientOfGqlgen(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "web-1", "web", "email", "ann@example.com")
	target, _ := url.Parse(a.url)
	c := gqlclient.New(httputil.NewSingleHostReverseProxy(target), gqlclient.Path("/graphql"))
	sub := c.WebsocketWithPayload(`subscription($p: ID!) { multiContactChanged(projectId: $p, clientId: "web-1") { type clientIds } }`,
		map[string]any{"authorization": "Bearer " + p.read}, gqlclient.Var("p", p.id))
	defer sub.Close()
	var got struct {
		MultiContactChanged struct {
			Type      string
			ClientIds []string
		}
	}
	next := make(chan error, 1)
	go func() { next <- sub.Next(&got) }()
	// The subscription starts at an unknown moment after the dial: a client
	// joins every half second until one of them is delivered.
	joined := ""
	for i := 2; ; i++ {
		joined = fmt.Sprint("tg-", i)
		a.client(p, joined, "telegram", "email", "ANN@example.com")
		select {
		case err := <-next:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(500 * time.Millisecond):
			if i > 40 {
				t.Fatal("no event within 20 s of subscribing")
			}
			continue
		}
		break
	}
	// A new client joining a multi-contact updates it (MERGED is for two existing ones).
	if got.MultiContactChanged.Type != "UPDATED" || !contains(got.MultiContactChanged.ClientIds, "web-1") ||
		!slices.ContainsFunc(got.MultiContactChanged.ClientIds, func(c string) bool { return strings.HasPrefix(c, "tg-") }) {
		t.Errorf("got %+v, want UPDATED with web-1 and a tg- client that joined", got.MultiContactChanged)
	}
}

func TestTenancyAndRoles(t *testing.T) {
	a := startAPI(t)
	pa, pb := a.project(), a.project()
	a.client(pb, "b-1", "web", "email", "b@example.com")
	vars := map[string]any{"p": pb.id}

	for name, key := range map[string]string{"admin": pa.admin, "write": pa.write, "read": pa.read} {
		t.Run("key of A ("+name+") reads B", func(t *testing.T) {
			a.wantCode("FORBIDDEN", key, `query($p: ID!) { project(id: $p) { id } }`, vars)
			a.wantCode("FORBIDDEN", key, `query($p: ID!) { client(projectId: $p, id: "b-1") { id } }`, vars)
			a.wantCode("FORBIDDEN", key, `query($p: ID!) { findClients(projectId: $p, field: "email", value: "b@example.com") { nodes { id } } }`, vars)
			a.wantCode("FORBIDDEN", key, `query($p: ID!) { searchClients(projectId: $p, query: "b") { nodes { id } } }`, vars)
			a.wantCode("FORBIDDEN", key, `query($p: ID!) { events(projectId: $p) { edges { cursor } } }`, vars)
		})
	}
	t.Run("key of A writes B", func(t *testing.T) {
		a.wantCode("FORBIDDEN", pa.admin, `mutation($p: ID!) { setAttribute(projectId: $p, clientId: "b-1", field: "phone", value: "+79161234567") { accepted } }`, vars)
		a.wantCode("FORBIDDEN", pa.admin, `mutation($p: ID!) { createApiKey(projectId: $p, role: ADMIN) { secret } }`, vars)
		a.wantCode("FORBIDDEN", pa.write, upsert, map[string]any{"p": pb.id, "in": map[string]any{"id": "x", "channel": map[string]any{"kind": "web", "account": "a"}}})
	})
	t.Run("key of A subscribes to B", func(t *testing.T) {
		ws, err := a.dialWS(pa.read)
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe("1", changed, vars)
		m, err := ws.next(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if (m.Type != "error" && m.Type != "next") || !strings.Contains(string(m.Payload), `"FORBIDDEN"`) || strings.Contains(string(m.Payload), `"type"`) {
			t.Errorf("got %s %s, want an error with FORBIDDEN", m.Type, m.Payload)
		}
	})
	t.Run("roles", func(t *testing.T) {
		a.wantCode("FORBIDDEN", pa.read, `mutation($p: ID!) { setAttribute(projectId: $p, clientId: "x", field: "phone", value: "1") { accepted } }`, map[string]any{"p": pa.id})
		a.wantCode("FORBIDDEN", pa.write, `mutation($p: ID!) { addRule(projectId: $p, input: {name: "n", fields: ["phone"]}) { id } }`, map[string]any{"p": pa.id})
		a.wantCode("FORBIDDEN", pa.widget, `query($p: ID!) { project(id: $p) { id } }`, map[string]any{"p": pa.id})
		a.wantCode("FORBIDDEN", pa.admin, `mutation { createProject(input: {id: "nope"}) { id } }`, nil)
	})
	t.Run("no or bad key", func(t *testing.T) {
		a.wantCode("UNAUTHENTICATED", "", `query($p: ID!) { project(id: $p) { id } }`, vars)
		a.wantCode("UNAUTHENTICATED", "mck_not-a-key", `query($p: ID!) { project(id: $p) { id } }`, vars)
		if _, err := a.dialWS("mck_not-a-key"); err == nil {
			t.Error("a websocket with a bad key in connection_init was acknowledged")
		}
	})
	t.Run("websocket from a foreign origin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+"/graphql", &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil {
			conn.CloseNow()
			t.Error("a websocket from a foreign origin was accepted")
		}
	})
	t.Run("revoked key", func(t *testing.T) {
		var out struct {
			CreateApiKey struct {
				Secret string
				Key    struct{ ID string }
			}
		}
		a.ok(pa.admin, `mutation($p: ID!) { createApiKey(projectId: $p, role: READ) { secret key { id } } }`, map[string]any{"p": pa.id}, &out)
		a.ok(pa.admin, `mutation($p: ID!, $id: ID!) { revokeApiKey(projectId: $p, id: $id) }`, map[string]any{"p": pa.id, "id": out.CreateApiKey.Key.ID}, nil)
		a.wantCode("UNAUTHENTICATED", out.CreateApiKey.Secret, `query($p: ID!) { project(id: $p) { id } }`, map[string]any{"p": pa.id})
	})
}

func TestErrorCodes(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	vars := map[string]any{"p": p.id}
	a.wantCode("NOT_FOUND", p.write, `mutation($p: ID!) { removeAttribute(projectId: $p, clientId: "ghost", field: "phone", value: "+79161234567") { id } }`, vars)
	a.wantCode("NOT_FOUND", p.write, `mutation($p: ID!) { linkClients(projectId: $p, a: "ghost", b: "other") { id } }`, vars)
	res := a.wantCode("BAD_USER_INPUT", p.admin, `mutation($p: ID!) { addRule(projectId: $p, input: {name: "x", fields: ["nope"]}) { id } }`, vars)
	if len(res.Errors) > 0 && (res.Errors[0].Extensions["field"] != "fields" || res.Errors[0].Extensions["reason"] != "UNKNOWN_FIELD") {
		t.Errorf("addRule with an unknown field: %+v, want field fields, reason UNKNOWN_FIELD", res.Errors[0])
	}
	a.wantCode("BAD_USER_INPUT", p.write, upsert, map[string]any{"p": p.id, "in": map[string]any{"id": "c", "channel": map[string]any{"kind": "Bad Kind", "account": "a"}}})
	a.wantCode("BAD_USER_INPUT", p.read, `query($p: ID!) { events(projectId: $p, after: "garbage") { edges { cursor } } }`, vars)
	a.wantCode("GRAPHQL_PARSE_FAILED", p.read, `query { project(id: `, nil)
	a.wantCode("GRAPHQL_VALIDATION_FAILED", p.read, `query { nope }`, nil)
	deep := `query($p: ID!) { client(projectId: $p, id: "c") { multiContact { clients(first: 1) { nodes { multiContact { clients(first: 1) { nodes { multiContact { clients(first: 1) { nodes { multiContact { clients(first: 1) { nodes { id } } } } } } } } } } } } } }`
	res = a.wantCode("BAD_USER_INPUT", p.read, deep, vars)
	if len(res.Errors) > 0 && res.Errors[0].Extensions["reason"] != "DEPTH_LIMIT_EXCEEDED" {
		t.Errorf("deep query: %+v, want DEPTH_LIMIT_EXCEEDED", res.Errors[0])
	}
}
