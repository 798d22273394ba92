package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// lockedBuffer is a log destination that the server's goroutines write
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsNeverContainSecrets runs the server with its log captured at
// debug level and uses every secret the service knows or hands out: the
// admin token, API keys of every role (in headers, in websocket payloads
// and in query strings), a bad key, a revoked key, the identity secret, a
// user token signed with it, a visitor token, the key that seals identity
// secrets and the Neo4j password. None of them may appear in the log.
func TestLogsNeverContainSecrets(t *testing.T) {
	graphtest.Require(t)
	logs := &lockedBuffer{}
	adminToken := "admin-" + rand.Text()
	sealKey := make([]byte, 32)
	rand.Read(sealKey)
	sealKeyText := base64.StdEncoding.EncodeToString(sealKey)
	m := NewServeMain(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	getenv := func(k string) string {
		switch k {
		case "MULTICONTACT_ADMIN_TOKEN":
			return adminToken
		case "MULTICONTACT_SECRET_KEY":
			return sealKeyText
		}
		return os.Getenv(k)
	}
	if err := m.ParseFlags([]string{"-addr", "127.0.0.1:0", "-keep-alive", "1s"}, getenv); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			m.Close()
		}
	})
	a := &api{t: t, m: m, url: m.URL()}

	// The admin token creates a project and its keys (createApiKey answers secrets).
	p := testProject{id: "logs-" + strings.ToLower(rand.Text()[:12])}
	a.ok(adminToken, `mutation($id: ID!) { createProject(input: {id: $id}) { id } }`, map[string]any{"id": p.id}, nil)
	for role, dst := range map[string]*string{"ADMIN": &p.admin, "WRITE": &p.write, "READ": &p.read, "WIDGET": &p.widget} {
		var out struct{ CreateApiKey struct{ Secret string } }
		a.ok(adminToken, `mutation($p: ID!, $r: Role!) { createApiKey(projectId: $p, role: $r) { secret } }`,
			map[string]any{"p": p.id, "r": role}, &out)
		*dst = out.CreateApiKey.Secret
	}
	secrets := map[string]string{"admin token": adminToken, "ADMIN key": p.admin, "WRITE key": p.write, "READ key": p.read,
		"WIDGET key": p.widget, "secret key": sealKeyText, "Neo4j password": os.Getenv("NEO4J_PASSWORD")}
	a.ok(p.admin, `mutation($p: ID!) { addRule(projectId: $p, input: {name: "email", fields: ["email"]}) { id } }`, map[string]any{"p": p.id}, nil)
	a.client(p, "web-1", "web", "email", "ann@example.com")

	// The identity secret, a user token signed with it, a visitor token.
	var rotated struct{ RotateIdentitySecret string }
	a.ok(p.admin, `mutation($p: ID!) { rotateIdentitySecret(projectId: $p) }`, map[string]any{"p": p.id}, &rotated)
	secrets["identity secret"] = rotated.RotateIdentitySecret
	user := userToken(t, rotated.RotateIdentitySecret, jwt.MapClaims{"sub": "web-2", "email": "bob@example.com", "exp": time.Now().Add(time.Hour).Unix()})
	secrets["user token"] = user
	if c := a.widget(p.widget, map[string]any{"userToken": user, "identifiers": []map[string]any{{"field": "skype", "value": "bob"}}}); c.status != http.StatusOK {
		t.Errorf("widget with a user token: %d %s", c.status, c.code)
	}
	visitor := a.widget(p.widget, map[string]any{"identifiers": []map[string]any{{"field": "skype", "value": "guest"}}})
	if visitor.VisitorToken == "" {
		t.Fatalf("a new visitor got no token: %d %s", visitor.status, visitor.code)
	}
	secrets["visitor token"] = visitor.VisitorToken
	a.widget(p.widget, map[string]any{"visitorToken": visitor.VisitorToken, "identifiers": []map[string]any{{"field": "skype", "value": "guest2"}}})
	a.widget(p.widget, map[string]any{"userToken": user + "x", "identifiers": []map[string]any{{"field": "skype", "value": "x"}}}) // refused

	// Keys in query strings: GraphQL over GET, and a websocket URL.
	get := func(rawURL, key string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	q := url.Values{"query": {`query($p: ID!) { project(id: $p) { id } }`}, "variables": {`{"p":"` + p.id + `"}`}, "token": {p.read}, "key": {p.admin}}
	get(a.url+"/graphql?"+q.Encode(), p.read)
	get(a.url+"/graphql?"+q.Encode(), "")
	get(a.url+"/healthz?token="+url.QueryEscape(adminToken), "")
	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe("1", changed, map[string]any{"p": p.id, "c": "web-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+"/graphql?token="+url.QueryEscape(p.write),
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}}); err == nil {
		conn.CloseNow()
	}

	// Refused keys: unknown, malformed, revoked; a websocket with a bad key.
	bad := "mck_" + rand.Text()
	secrets["unknown key"] = bad
	a.do(bad, `query($p: ID!) { project(id: $p) { id } }`, map[string]any{"p": p.id})
	a.dialWS(bad)
	var created struct {
		CreateApiKey struct {
			Secret string
			Key    struct{ ID string }
		}
	}
	a.ok(p.admin, `mutation($p: ID!) { createApiKey(projectId: $p, role: READ) { secret key { id } } }`, map[string]any{"p": p.id}, &created)
	secrets["revoked key"] = created.CreateApiKey.Secret
	a.ok(p.admin, `mutation($p: ID!, $id: ID!) { revokeApiKey(projectId: $p, id: $id) }`, map[string]any{"p": p.id, "id": created.CreateApiKey.Key.ID}, nil)
	a.do(created.CreateApiKey.Secret, `query($p: ID!) { project(id: $p) { id } }`, map[string]any{"p": p.id})
	req, _ := http.NewRequest(http.MethodPost, a.url+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Authorization", "Basic "+p.admin)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}

	// An import with the WRITE key.
	line, _ := json.Marshal(map[string]any{"op": "client", "id": "imp-1", "channel": map[string]any{"kind": "web", "account": "acme"}})
	req, _ = http.NewRequest(http.MethodPost, a.url+"/projects/"+p.id+"/import", bytes.NewReader(append(line, '\n')))
	req.Header.Set("Authorization", "Bearer "+p.write)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}

	ws.conn.CloseNow()
	closed = true
	if err := m.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, `"msg":"request"`); n < 20 {
		t.Fatalf("the log holds %d request lines, want one per request (at least 20): is it captured?\n%s", n, out)
	}
	for name, secret := range secrets {
		if secret == "" {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("the log contains the %s: %s", name, line)
				break
			}
		}
	}
}
