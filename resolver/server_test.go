package resolver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/multicontact/multicontact/resolver"
)

// TestPanicsAreHiddenAsInternal runs the server with no store, so every
// resolver that reaches it panics: the caller sees INTERNAL and no detail.
func TestPanicsAreHiddenAsInternal(t *testing.T) {
	var logged bytes.Buffer
	srv := resolver.NewServer(resolver.ServerConfig{
		Resolver: &resolver.Resolver{}, Log: slog.New(slog.NewJSONHandler(&logged, nil)),
		ComplexityLimit: 100, DepthLimit: 5,
	})
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(resolver.WithPrincipal(r.Context(), &resolver.Principal{Admin: true})))
	})
	tests := []struct {
		name, query, code, message string
	}{
		{"panic", `{ project(id: "p") { id } }`, "INTERNAL", "internal error"},
		{"depth", `{ client(projectId: "p", id: "c") { multiContact { clients(first: 1) { nodes { multiContact { clients(first: 1) { nodes { id } } } } } } } }`, "BAD_USER_INPUT", "limit is 5"},
		{"complexity", `{ a: project(id: "p") { id name } b: project(id: "p") { id name } c: project(id: "p") { id name } d: project(id: "p") { fields { key label type builtIn } rules { id name fields enabled requireVerified } quarantinedKeys { rule key size since parts { field value } } blockedValues { field value } } e: events(projectId: "p") { edges { cursor node { type multiContactId previousIds newIds clientIds at cursor cause { kind action field value rule } } } pageInfo { endCursor hasNextPage } } f: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } g: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } h: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } i: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } j: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } k: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } l: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } m: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } n: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } o: apiKeys(projectId: "p") { nodes { id projectId role createdAt revoked } } }`, "COMPLEXITY_LIMIT_EXCEEDED", "complexity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"query": tt.query})
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			admin.ServeHTTP(rec, req)
			raw, _ := io.ReadAll(rec.Body)
			var out struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) == 0 {
				t.Fatalf("response %s: %v", raw, err)
			}
			if got := out.Errors[0].Extensions["code"]; got != tt.code || !strings.Contains(out.Errors[0].Message, tt.message) {
				t.Errorf("got %v %q, want %s containing %q", got, out.Errors[0].Message, tt.code, tt.message)
			}
			if strings.Contains(string(raw), "goroutine") || strings.Contains(string(raw), "nil pointer") {
				t.Errorf("the response leaks internals: %s", raw)
			}
		})
	}
	if !strings.Contains(logged.String(), "panic in resolver") {
		t.Error("the panic was not logged")
	}
}

func TestBearerToken(t *testing.T) {
	for _, tt := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"", "", false},
	} {
		got, ok := resolver.BearerToken(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
