package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestOperatorConsoleOperations goes through the operations an operator
// console and an admin use, checking what each returns.
func TestOperatorConsoleOperations(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	vars := func(kv ...any) map[string]any {
		m := map[string]any{"p": p.id}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	// Settings and fields.
	var settings struct {
		UpdateProjectSettings struct {
			Settings struct{ KeyCap, ValueCap int }
		}
	}
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {keyCap: 3}) { settings { keyCap valueCap } } }`, vars(), &settings)
	if settings.UpdateProjectSettings.Settings.KeyCap != 3 {
		t.Errorf("keyCap = %d, want 3", settings.UpdateProjectSettings.Settings.KeyCap)
	}
	a.ok(p.admin, `mutation($p: ID!) { defineField(projectId: $p, input: {key: "loyaltyCard", label: "Loyalty card", type: ID}) { key type builtIn } }`, vars(), nil)
	a.waitIdle(p)

	// Clients: a, b share an email; c is alone; d is linked by hand.
	a.client(p, "a", "web", "email", "ann@example.com", "loyaltyCard", "L-1")
	a.client(p, "b", "telegram", "email", "ANN@example.com")
	a.client(p, "c", "whatsapp", "phone", "+79160000001")
	a.client(p, "d", "vk")

	var conv struct{ RecordConversation struct{ ID, ClientID string } }
	a.ok(p.write, `mutation($p: ID!) { recordConversation(projectId: $p, clientId: "a", input: {id: "conv-1", startedAt: "2026-01-01T10:00:00Z", summary: "asked about delivery"}) { id clientId } }`, vars(), &conv)
	a.ok(p.write, `mutation($p: ID!) { recordConversation(projectId: $p, clientId: "b", input: {id: "conv-2", startedAt: "2026-01-02T10:00:00Z", lastMessageAt: "2030-01-02T11:00:00Z"}) { id } }`, vars(), nil)

	var mc struct {
		Client struct {
			MultiContact struct {
				ID       string
				Size     int
				Clients  struct{ Nodes []struct{ ID string } }
				Channels []struct {
					Channel struct{ Kind string }
					Client  struct{ ID string }
				}
				Conversations struct{ Nodes []struct{ ID string } }
				Links         []struct {
					From, To string
					RuleName *string
					Values   []struct{ Field, Value string }
				}
			}
		}
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "a") { multiContact {
		id size clients { nodes { id } } channels { channel { kind } client { id } lastActivityAt }
		conversations { nodes { id } } links { from to ruleName values { field value } } } } }`, vars(), &mc)
	m := mc.Client.MultiContact
	if m.Size != 2 || len(m.Clients.Nodes) != 2 {
		t.Fatalf("multi-contact of a: %+v, want a and b", m)
	}
	if len(m.Channels) != 2 || m.Channels[0].Client.ID != "b" {
		t.Errorf("channels %+v, want b (the latest activity) first", m.Channels)
	}
	if c := m.Conversations.Nodes; len(c) != 2 || c[0].ID != "conv-2" {
		t.Errorf("conversations %+v, want conv-2 then conv-1", c)
	}
	if len(m.Links) != 1 || len(m.Links[0].Values) != 1 || m.Links[0].Values[0].Value != "ann@example.com" {
		t.Errorf("links %+v, want one email link", m.Links)
	}

	var explain struct {
		ExplainLink []struct {
			Rule   *string
			Manual bool
		}
	}
	a.ok(p.read, `query($p: ID!) { explainLink(projectId: $p, a: "a", b: "b") { rule manual } }`, vars(), &explain)
	if len(explain.ExplainLink) != 1 || explain.ExplainLink[0].Rule == nil {
		t.Errorf("explainLink(a, b) = %+v, want one rule step", explain.ExplainLink)
	}
	a.ok(p.read, `query($p: ID!) { explainLink(projectId: $p, a: "a", b: "c") { rule } }`, vars(), &explain)
	if len(explain.ExplainLink) != 0 {
		t.Errorf("explainLink(a, c) = %+v, want empty", explain.ExplainLink)
	}

	// Manual link and undo.
	var link struct{ LinkClients struct{ Size int } }
	a.ok(p.write, `mutation($p: ID!) { linkClients(projectId: $p, a: "c", b: "d") { id size } }`, vars(), &link)
	if link.LinkClients.Size != 2 {
		t.Errorf("linkClients(c, d) size %d, want 2", link.LinkClients.Size)
	}
	var unlink struct{ UnlinkClients bool }
	a.ok(p.write, `mutation($p: ID!) { unlinkClients(projectId: $p, a: "c", b: "d") }`, vars(), &unlink)
	if !unlink.UnlinkClients || mcID(a, p, "c") == mcID(a, p, "d") {
		t.Errorf("unlinkClients(c, d) = %v and they share a multi-contact: %v, want true and apart", unlink.UnlinkClients, mcID(a, p, "c") == mcID(a, p, "d"))
	}

	// Preview: a rule on loyaltyCard alone changes nothing; dropping email splits a and b.
	var pv struct {
		PreviewRules struct{ Merges, Splits, MultiContacts, Largest int }
	}
	a.ok(p.admin, `query($p: ID!) { previewRules(projectId: $p, rules: [{name: "phone", fields: ["phone"]}]) { merges splits multiContacts largest } }`, vars(), &pv)
	if pv.PreviewRules.Splits != 1 || pv.PreviewRules.Merges != 0 || pv.PreviewRules.MultiContacts != 4 || pv.PreviewRules.Largest != 1 {
		t.Errorf("previewRules(phone only) = %+v, want 1 split into 4 singletons", pv.PreviewRules)
	}

	// Block the shared email: a and b split; unblock: they merge again.
	var blocked string
	var blockOut struct{ BlockValue string }
	a.ok(p.write, `mutation($p: ID!) { blockValue(projectId: $p, field: "email", value: " Ann@Example.com ") }`, vars(), &blockOut)
	blocked = blockOut.BlockValue
	if blocked != "ann@example.com" {
		t.Errorf("blockValue returned %q", blocked)
	}
	var proj struct {
		Project struct {
			BlockedValues []struct{ Value string }
			Rules         []struct {
				ID     string
				Fields []string
			}
			Fields []struct{ Key string }
		}
	}
	a.ok(p.read, `query($p: ID!) { project(id: $p) { blockedValues { value } rules { id fields } fields { key } quarantinedKeys { key } } }`, vars(), &proj)
	if len(proj.Project.BlockedValues) != 1 || len(proj.Project.Rules) != 2 || !hasField(proj.Project.Fields, "loyaltyCard") {
		t.Errorf("project = %+v", proj.Project)
	}
	if mcID(a, p, "a") == mcID(a, p, "b") {
		t.Error("a and b still together after their only shared value was blocked")
	}
	a.ok(p.write, `mutation($p: ID!) { unblockValue(projectId: $p, field: "email", value: "ann@example.com") }`, vars(), nil)
	if mcID(a, p, "a") != mcID(a, p, "b") {
		t.Error("a and b apart after unblocking")
	}

	// Exclude and include.
	var ex struct{ ExcludeClient struct{ Excluded bool } }
	a.ok(p.write, `mutation($p: ID!) { excludeClient(projectId: $p, clientId: "b") { excluded } }`, vars(), &ex)
	if !ex.ExcludeClient.Excluded || mcID(a, p, "a") == mcID(a, p, "b") {
		t.Error("excluded b still linked")
	}
	var in struct{ IncludeClient struct{ Excluded bool } }
	a.ok(p.write, `mutation($p: ID!) { includeClient(projectId: $p, clientId: "b") { excluded } }`, vars(), &in)
	if in.IncludeClient.Excluded || mcID(a, p, "a") != mcID(a, p, "b") {
		t.Error("an included b is still excluded or apart from a")
	}

	// Quarantine: a fourth holder of one phone passes the cap of 3; allowKey lifts it.
	for _, id := range []string{"q1", "q2", "q3", "q4"} {
		a.client(p, id, "web", "phone", "+79160000099")
	}
	var q struct {
		Project struct {
			QuarantinedKeys []struct {
				Rule, Key string
				Size      int
			}
		}
	}
	a.ok(p.read, `query($p: ID!) { project(id: $p) { quarantinedKeys { rule key size } } }`, vars(), &q)
	if len(q.Project.QuarantinedKeys) != 1 {
		t.Fatalf("quarantinedKeys = %+v, want the shared phone", q.Project.QuarantinedKeys)
	}
	k := q.Project.QuarantinedKeys[0]
	absorbed := mcID(a, p, "q4") // alone while the key is quarantined; the others absorb it below
	a.ok(p.admin, `mutation($p: ID!, $r: ID!, $k: String!) { allowKey(projectId: $p, rule: $r, key: $k) }`, vars("r", k.Rule, "k", k.Key), nil)
	if mcID(a, p, "q1") != mcID(a, p, "q4") || mcID(a, p, "q4") == absorbed {
		t.Error("an allowed key does not link, or q4's multi-contact was not absorbed")
	}
	survivor := mcID(a, p, "q1")

	// Rules: update and remove re-resolve.
	var rule struct{ UpdateRule struct{ Enabled bool } }
	a.ok(p.admin, `mutation($p: ID!, $r: ID!) { updateRule(projectId: $p, ruleId: $r, input: {name: "phone", fields: ["phone"], enabled: false}) { enabled } }`,
		vars("r", k.Rule), &rule)
	a.waitIdle(p)
	if mcID(a, p, "q1") == mcID(a, p, "q4") {
		t.Error("a disabled rule still links")
	}
	var removed struct{ RemoveRule bool }
	a.ok(p.admin, `mutation($p: ID!, $r: ID!) { removeRule(projectId: $p, ruleId: $r) }`, vars("r", k.Rule), &removed)
	a.waitIdle(p)
	a.ok(p.read, `query($p: ID!) { project(id: $p) { blockedValues { value } rules { id fields } fields { key } } }`, vars(), &proj)
	if !removed.RemoveRule || len(proj.Project.Rules) != 1 || proj.Project.Rules[0].ID == k.Rule {
		t.Errorf("removeRule = %v, rules left %+v; want only the e-mail rule", removed.RemoveRule, proj.Project.Rules)
	}

	// An absorbed id still resolves; removeClient; apiKeys.
	var old struct{ MultiContact *struct{ ID string } }
	a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { id } }`, vars("id", absorbed), &old)
	if old.MultiContact == nil || old.MultiContact.ID != survivor {
		t.Errorf("multiContact(%s), absorbed into %s, = %+v", absorbed, survivor, old.MultiContact)
	}
	a.ok(p.write, `mutation($p: ID!) { removeClient(projectId: $p, clientId: "q4") }`, vars(), nil)
	var gone struct{ Client *struct{ ID string } }
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "q4") { id } }`, vars(), &gone)
	if gone.Client != nil {
		t.Error("a removed client is still returned")
	}
	var keys struct {
		ApiKeys struct{ Nodes []struct{ Role string } }
	}
	a.ok(p.admin, `query($p: ID!) { apiKeys(projectId: $p) { nodes { id role createdAt revoked } } }`, vars(), &keys)
	if len(keys.ApiKeys.Nodes) != 4 {
		t.Errorf("apiKeys = %+v, want the 4 keys of the fixture", keys.ApiKeys.Nodes)
	}
}

func hasField(fs []struct{ Key string }, key string) bool {
	for _, f := range fs {
		if f.Key == key {
			return true
		}
	}
	return false
}

func mcID(a *api, p testProject, client string) string {
	a.t.Helper()
	var out struct {
		Client *struct{ MultiContact struct{ ID string } }
	}
	a.ok(p.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { multiContact { id } } }`, map[string]any{"p": p.id, "c": client}, &out)
	if out.Client == nil || out.Client.MultiContact.ID == "" {
		a.t.Fatalf("client %s: %+v, want one with a multi-contact", client, out.Client)
	}
	return out.Client.MultiContact.ID
}

func TestAbsorbedMultiContactIDResolves(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "x", "web", "email", "x@example.com")
	a.client(p, "y", "web", "phone", "+79160000002")
	before := []string{mcID(a, p, "x"), mcID(a, p, "y")}
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "y", "f": "email", "v": "x@example.com"}, nil)
	after := mcID(a, p, "x")
	for _, id := range before {
		var out struct {
			MultiContact struct {
				ID      string
				Aliases []string
			}
		}
		a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { id aliases } }`, map[string]any{"p": p.id, "id": id}, &out)
		if out.MultiContact.ID != after {
			t.Errorf("multiContact(%s) = %s, want the survivor %s", id, out.MultiContact.ID, after)
		}
	}
	var missing struct{ MultiContact *struct{ ID string } }
	a.ok(p.read, `query($p: ID!) { multiContact(projectId: $p, id: "mc_nope") { id } }`, map[string]any{"p": p.id}, &missing)
	if missing.MultiContact != nil {
		t.Error("an unknown multi-contact id is not null")
	}
}

func TestSubscriptionsPerConnectionAreBoundedAndDoNotLeak(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	base := runtime.NumGoroutine()
	for round := 0; round < 3; round++ {
		ws, err := a.dialWS(p.read)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < a.m.MaxSubscriptions; i++ {
			ws.subscribe(string(rune('a'+i)), changed, map[string]any{"p": p.id})
		}
		ws.subscribe("over", changed, map[string]any{"p": p.id})
		m, err := ws.next(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Subscriptions start concurrently: any one of them may be the one refused.
		if !strings.Contains(string(m.Payload), "subscriptions per connection") {
			t.Fatalf("subscription over the limit: %s %s %s", m.ID, m.Type, m.Payload)
		}
		ws.conn.CloseNow()
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.m.broker.Subscribers() != 0 || runtime.NumGoroutine() > base+10 {
		if time.Now().After(deadline) {
			t.Fatalf("after closing: %d subscribers, %d goroutines (from %d)", a.m.broker.Subscribers(), runtime.NumGoroutine(), base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	a := startAPI(t)
	get := func(path string, h map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := res.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return res, b.String()
	}
	if res, body := get("/", nil); res.StatusCode != 200 || !strings.Contains(body, "graphiql") {
		t.Errorf("GET / = %d, want GraphiQL", res.StatusCode)
	}
	a.do(testAdminToken, `{ __typename }`, nil)
	res, body := get("/metrics", nil)
	if res.StatusCode != 200 || !strings.Contains(body, `multicontact_http_requests_total{code="200",route="/graphql"}`) {
		t.Errorf("GET /metrics = %d without the request counter", res.StatusCode)
	}
	if !strings.Contains(body, `multicontact_tx_retries_total{reason="deadlock"}`) {
		t.Error("GET /metrics without the transaction retry counter")
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on responses")
	}
	big := strings.Repeat("x", 2<<20)
	req, _ := http.NewRequest(http.MethodPost, a.url+"/graphql", strings.NewReader(`{"query":"`+big+`"}`))
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB body: %d, want 413", r2.StatusCode)
	}
}

func TestProfilesOnlyOnTheDebugAddress(t *testing.T) {
	a := startAPI(t, "-debug-addr", "127.0.0.1:0")
	status := func(url string) int {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(a.m.DebugURL() + "/debug/pprof/heap"); got != http.StatusOK {
		t.Errorf("the heap profile on the debug address: %d, want 200", got)
	}
	if got := status(a.url + "/debug/pprof/heap"); got != http.StatusNotFound {
		t.Errorf("the heap profile on the API's address: %d, want 404", got)
	}
}

func TestCORSAndGraphiQLSwitch(t *testing.T) {
	a := startAPI(t, "-graphiql=false", "-cors-origins", "https://shop.example")
	preflight := func(origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, a.url+"/widget/identify", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("https://shop.example"); got != "https://shop.example" {
		t.Errorf("preflight from the shop: Access-Control-Allow-Origin %q", got)
	}
	if got := preflight("https://evil.example"); got != "" {
		t.Errorf("preflight from elsewhere: Access-Control-Allow-Origin %q, want none", got)
	}
	res, err := http.Get(a.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET / with GraphiQL off = %d, want 404", res.StatusCode)
	}
	a.wantCode("FORBIDDEN", testAdminToken, `{ __schema { types { name } } }`, nil)
	a.wantCode("FORBIDDEN", testAdminToken, `query { ...F } fragment F on Query { __type(name: "Client") { name } }`, nil)
	var ok struct {
		Typename string `json:"__typename"`
	}
	a.ok(testAdminToken, `{ __typename }`, nil, &ok)
}

// TestABodyThatStallsDoesNotHoldItsConnection: a request whose body stops
// coming (a slow or hostile client) is given up at the request's deadline,
// and its connection closed, instead of holding a connection and a
// goroutine for as long as the client likes.
func TestABodyThatStallsDoesNotHoldItsConnection(t *testing.T) {
	a := startAPI(t, "-request-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("the connection was still open %s after its body stalled: %v", time.Since(start).Round(time.Second), err)
	}
}
