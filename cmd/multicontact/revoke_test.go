package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// keyID returns the id of the project's key with the given role.
func (a *api) keyID(p testProject, role string) string {
	a.t.Helper()
	var out struct {
		ApiKeys struct{ Nodes []struct{ ID, Role string } }
	}
	a.ok(p.admin, `query($p: ID!) { apiKeys(projectId: $p) { nodes { id role } } }`, map[string]any{"p": p.id}, &out)
	for _, k := range out.ApiKeys.Nodes {
		if k.Role == role {
			return k.ID
		}
	}
	a.t.Fatalf("no %s key", role)
	return ""
}

func (a *api) revoke(p testProject, id string) {
	a.t.Helper()
	a.ok(p.admin, `mutation($p: ID!, $id: ID!) { revokeApiKey(projectId: $p, id: $id) }`, map[string]any{"p": p.id, "id": id}, nil)
}

// closeStatus waits up to timeout for the server to end the websocket and
// returns the close code and reason, or fails if a message arrives first.
func closeStatus(t *testing.T, c *websocket.Conn, timeout time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var m wsMessage
		err := wsjson.Read(ctx, c, &m)
		if err == nil {
			switch m.Type {
			case "ping", "pong", "ka":
				continue
			case "connection_error", "error":
				continue // the reason also comes as the close frame's
			}
			t.Fatalf("received %s %s, want the websocket closed", m.Type, m.Payload)
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		t.Fatalf("the websocket was not closed within %s: %v", timeout, err)
	}
}

// dialRaw opens a graphql-transport-ws websocket and sends connection_init
// with the key, without waiting for the answer.
func (a *api) dialRaw(key string) *websocket.Conn {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { conn.CloseNow() })
	payload := map[string]string{}
	if key != "" {
		payload["authorization"] = "Bearer " + key
	}
	init, _ := json.Marshal(payload)
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}); err != nil {
		a.t.Fatal(err)
	}
	return conn
}

// TestRevokingAKeyClosesItsSubscriptions: a READ key's subscription is
// closed with 4403 within a second of the key's revocation, and the event
// that follows never reaches it; another key's subscription goes on.
func TestRevokingAKeyClosesItsSubscriptions(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	revoked, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	revoked.subscribe("1", changed, map[string]any{"p": p.id})
	kept, err := a.dialWS(p.admin)
	if err != nil {
		t.Fatal(err)
	}
	kept.subscribe("1", changed, map[string]any{"p": p.id})
	time.Sleep(200 * time.Millisecond) // the subscriptions are running

	start := time.Now()
	a.revoke(p, a.keyID(p, "READ"))
	a.client(p, "tg-1", "telegram", "email", "ann@example.com") // an event after the revocation
	code, reason := closeStatus(t, revoked.conn, 3*time.Second)
	if code != 4403 || reason == "" {
		t.Errorf("the revoked key's websocket closed with %d %q, want 4403 and a reason", code, reason)
	}
	if d := time.Since(start); d > time.Second+500*time.Millisecond { // the revocation call itself included
		t.Errorf("closed %s after the revocation, want within a second", d)
	}
	if e := kept.event(t); e.Type != "CREATED" {
		t.Errorf("the other key's subscription got %+v, want CREATED", e)
	}
	// The revoked key cannot open a websocket again: 4403; an unknown key: 4401.
	if code, _ := closeStatus(t, a.dialRaw(p.read), 3*time.Second); code != 4403 {
		t.Errorf("a websocket with the revoked key closed with %d, want 4403", code)
	}
	if code, _ := closeStatus(t, a.dialRaw("mck_unknown"), 3*time.Second); code != 4401 {
		t.Errorf("a websocket with an unknown key closed with %d, want 4401", code)
	}
	if code, _ := closeStatus(t, a.dialRaw(""), 3*time.Second); code != 4401 {
		t.Errorf("a websocket without a key closed with %d, want 4401", code)
	}
	if code, _ := closeStatus(t, a.dialRaw(p.widget), 3*time.Second); code != 4403 {
		t.Errorf("a websocket with the public WIDGET key closed with %d, want 4403", code)
	}
}

// TestARevokedCachedKeyIsRefusedAtOnce: keys just used (so remembered by
// the service) are refused on the very next call after their revocation,
// on the GraphQL API, the import endpoint and the widget endpoint.
func TestARevokedCachedKeyIsRefusedAtOnce(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	importLine := func(key string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, a.url+"/projects/"+p.id+"/import",
			strings.NewReader(`{"op":"client","id":"imp-1","channel":{"kind":"web","account":"a"}}`+"\n"))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	query := `query($p: ID!) { project(id: $p) { id } }`
	a.ok(p.read, query, map[string]any{"p": p.id}, nil)
	if status := importLine(p.write); status != http.StatusOK {
		t.Fatalf("import with the WRITE key: %d", status)
	}
	if got := a.widget(p.widget, map[string]any{}); got.status != http.StatusOK {
		t.Fatalf("widget: %+v", got)
	}
	for _, role := range []string{"READ", "WRITE", "WIDGET"} {
		a.revoke(p, a.keyID(p, role))
	}
	a.wantCode("UNAUTHENTICATED", p.read, query, map[string]any{"p": p.id})
	if status := importLine(p.write); status != http.StatusUnauthorized {
		t.Errorf("import with the revoked WRITE key: %d, want 401", status)
	}
	if got := a.widget(p.widget, map[string]any{}); got.status != http.StatusUnauthorized {
		t.Errorf("widget with the revoked WIDGET key: %d, want 401", got.status)
	}
}

// TestARevocationReachesAnotherReplica: a key revoked through one replica
// stops working on another within about a second: its websocket there is
// closed with 4403 and its remembered key is refused.
func TestARevocationReachesAnotherReplica(t *testing.T) {
	a, b := startAPI(t), startAPI(t)
	p := a.project()
	onB := &api{t: t, m: b.m, url: b.url}
	conn, err := onB.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	conn.subscribe("1", changed, map[string]any{"p": p.id})
	query := `query($p: ID!) { project(id: $p) { id } }`
	onB.ok(p.read, query, map[string]any{"p": p.id}, nil) // b remembers the key now
	start := time.Now()
	a.revoke(p, a.keyID(p, "READ"))
	if code, _ := closeStatus(t, conn.conn, 5*time.Second); code != 4403 {
		t.Errorf("the websocket on the other replica closed with %d, want 4403", code)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("the other replica closed it after %s, want about a second", d)
	}
	onB.wantCode("UNAUTHENTICATED", p.read, query, map[string]any{"p": p.id})
}

// TestRevokingAKeyStopsItsImport: an import streaming through a key that
// is revoked stops at its next batch; its summary says why (FORBIDDEN),
// and a line sent after the revocation is not applied.
func TestRevokingAKeyStopsItsImport(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	body, lines := io.Pipe()
	type answer struct {
		res *http.Response
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.url+"/projects/"+p.id+"/import", body)
		req.Header.Set("Authorization", "Bearer "+p.write)
		res, err := http.DefaultClient.Do(req)
		answered <- answer{res, err}
	}()
	line := func(id string) {
		fmt.Fprintf(lines, `{"op":"client","id":%q,"channel":{"kind":"web","account":"a"}}`+"\n", id)
	}
	for i := range 2500 { // more than a small import: written in batches as it streams
		line(fmt.Sprint("early-", i))
	}
	exists := func(id string) bool {
		var out struct{ Client *struct{ ID string } }
		a.ok(p.read, `query($p: ID!, $id: ID!) { client(projectId: $p, id: $id) { id } }`, map[string]any{"p": p.id, "id": id}, &out)
		return out.Client != nil
	}
	for deadline := time.Now().Add(time.Minute); !exists("early-0"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the import's first batch was not written within a minute")
		}
	}
	a.revoke(p, a.keyID(p, "WRITE"))
	line("late")
	lines.Close()
	got := <-answered
	if got.err != nil {
		t.Fatal(got.err)
	}
	defer got.res.Body.Close()
	var summary struct {
		Summary struct{ Error, ErrorCode string }
	}
	for dec := json.NewDecoder(got.res.Body); dec.More(); {
		if err := dec.Decode(&summary); err != nil {
			t.Fatal(err)
		}
	}
	if summary.Summary.ErrorCode != "FORBIDDEN" || !strings.Contains(summary.Summary.Error, "revoked") {
		t.Errorf("summary %+v, want FORBIDDEN for a revoked key", summary.Summary)
	}
	if exists("late") {
		t.Error("a line sent after the key was revoked was applied")
	}
}
