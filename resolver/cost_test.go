package resolver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/resolver"
)

// costServer is the endpoint with the service's default limits and no
// store: an operation that passes every limit reaches a resolver, which
// panics, and is answered INTERNAL; one refused by a limit never gets there.
func costServer(p *resolver.Principal) http.Handler {
	srv := resolver.NewServer(resolver.ServerConfig{
		Resolver: &resolver.Resolver{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		ComplexityLimit: 10000, DepthLimit: 12,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p != nil {
			r = r.WithContext(resolver.WithPrincipal(r.Context(), p))
		}
		srv.ServeHTTP(w, r)
	})
}

// postGraphQL posts one operation to h and returns its answer.
func postGraphQL(h http.Handler, query string, vars map[string]any) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec
}

// firstCode posts query and returns the code of its first error. It gives
// up after a minute, so an operation the server works on for minutes fails
// the test instead of hanging it.
func firstCode(t *testing.T, h http.Handler, query string, vars map[string]any) (code, message string) {
	t.Helper()
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() { answered <- postGraphQL(h, query, vars) }()
	var rec *httptest.ResponseRecorder
	select {
	case rec = <-answered:
	case <-time.After(time.Minute):
		t.Fatalf("no answer within a minute to a %d-byte operation", len(query))
	}
	var out struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Errors) == 0 {
		t.Fatalf("answer %s: %v", rec.Body.String(), err)
	}
	c, _ := out.Errors[0].Extensions["code"].(string)
	return c, out.Errors[0].Message
}

func TestShortDocumentsThatExpandHugelyAreRefused(t *testing.T) {
	h := costServer(nil) // nobody signed in: these are refused before any key is asked for
	var fanout strings.Builder
	fanout.WriteString("query { ...F0 }\n")
	for i := range 30 { // each fragment spreads the next twice: 2^30 fields, in about 1 KB
		fmt.Fprintf(&fanout, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fanout.WriteString("fragment F30 on Query { __typename }\n")
	if code, msg := firstCode(t, h, fanout.String(), nil); code != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("fragments spread twice, 30 deep: %s %q, want COMPLEXITY_LIMIT_EXCEEDED", code, msg)
	}
	long := "{ " + strings.Repeat("__typename ", 20000) + "}"
	if code, msg := firstCode(t, h, long, nil); code != "GRAPHQL_PARSE_FAILED" || !strings.Contains(msg, "token limit") {
		t.Errorf("20,000 fields: %s %q, want GRAPHQL_PARSE_FAILED for the token limit", code, msg)
	}
}

func TestPagesWeighTheirSize(t *testing.T) {
	h := costServer(&resolver.Principal{Project: "p", Role: access.RoleRead})
	for _, tt := range []struct {
		name, query string
		vars        map[string]any
		code        string
	}{
		// What the console asks for a multi-contact, and its history.
		{"a multi-contact's page", `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) {
  id size createdAt aliases
  clients(first: 500) { nodes { id displayName channel { kind account } channelUserId excluded createdAt lastSeenAt
    attributes { field value source verified at } } }
  channels { channel { kind account } channelUserId client { id displayName } lastActivityAt }
  conversations(first: 200) { nodes { id clientId startedAt lastMessageAt summary } }
  links { from to rule ruleName values { field value } manual } } }`, map[string]any{"p": "p", "id": "mc"}, "INTERNAL"},
		{"a multi-contact's history", `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) {
  history(first: 1000) { nodes { type multiContactId previousIds newIds clientIds at cause { kind action field value rule }
    forgotten { clients values conversations links } quarantined { size parts { field value } } } } } }`,
			map[string]any{"p": "p", "id": "mc"}, "INTERNAL"},
		// Pages inside pages multiply.
		{"conversations of 500 clients of 500 found", `{ findClients(projectId: "p", field: "phone", value: "1", first: 500) {
  nodes { multiContact { links { from } clients(first: 500) { nodes { conversations(first: 200) { nodes { id } } } } } } } }`,
			nil, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"the same, first passed as variables", `query($n: Int, $m: Int) { findClients(projectId: "p", field: "phone", value: "1", first: $n) {
  nodes { multiContact { clients(first: $m) { nodes { conversations(first: $m) { nodes { id } } } } } } } }`,
			map[string]any{"n": 100, "m": 100}, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"default page sizes count too", `{ findClients(projectId: "p", field: "phone", value: "1") {
  nodes { multiContact { clients { nodes { conversations { nodes { id } } } } } } } }`, nil, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"links of a page of multi-contacts", `{ findClients(projectId: "p", field: "phone", value: "1", first: 500) {
  nodes { multiContact { links { from } } } } }`, nil, "COMPLEXITY_LIMIT_EXCEEDED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, msg := firstCode(t, h, tt.query, tt.vars); code != tt.code {
				t.Errorf("%s %q, want %s", code, msg, tt.code)
			}
		})
	}
}

// A preview of more rules than a project may have is refused before the
// project is read (the server here has no store to read it from).
func TestAPreviewOfTooManyRulesIsRefusedBeforeReading(t *testing.T) {
	h := costServer(&resolver.Principal{Project: "p", Role: access.RoleAdmin})
	rules := make([]map[string]any, 51)
	for i := range rules {
		rules[i] = map[string]any{"name": fmt.Sprint("r", i), "fields": []string{"phone"}}
	}
	code, msg := firstCode(t, h, `query($r: [RuleInput!]!) { previewRules(projectId: "p", rules: $r) { multiContacts } }`,
		map[string]any{"r": rules})
	if code != "BAD_USER_INPUT" || !strings.Contains(msg, "at most 50") {
		t.Errorf("a preview of 51 rules: %s %q, want BAD_USER_INPUT, at most 50", code, msg)
	}
}
