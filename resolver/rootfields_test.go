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

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/resolver"
)

// gqlgen resolves an operation's root fields at once, each a transaction:
// more than 16 of them (aliases and fragments counted) are refused before
// anything runs.
func TestAnOperationOfTooManyRootFieldsIsRefused(t *testing.T) {
	h := costServer(&resolver.Principal{Project: "p", Role: access.RoleRead})
	query := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := range n {
			fmt.Fprintf(&b, `a%d: project(id: "p") { id } `, i)
		}
		return b.String() + "}"
	}
	if code, msg := firstCode(t, h, query(16), nil); code != "INTERNAL" { // it reached the resolver, which has no store
		t.Errorf("16 root fields: %s %q, want them run", code, msg)
	}
	if code, msg := firstCode(t, h, query(17), nil); code != "BAD_USER_INPUT" || !strings.Contains(msg, "root fields") {
		t.Errorf("17 root fields: %s %q, want BAD_USER_INPUT on root fields", code, msg)
	}
	if code, msg := firstCode(t, h, `fragment F on Query { a: project(id: "p") { id } b: project(id: "p") { id } }
		{ ...F ...F ...F ...F ...F ...F ...F ...F ...F }`, nil); code != "BAD_USER_INPUT" {
		t.Errorf("18 root fields through fragments: %s %q, want BAD_USER_INPUT", code, msg)
	}
}

// GraphiQL's schema query nests 13 levels: the depth limit (12) does not
// refuse introspection, which has a switch of its own.
func TestGraphiQLsSchemaQueryPassesTheDepthLimit(t *testing.T) {
	srv := resolver.NewServer(resolver.ServerConfig{
		Resolver: &resolver.Resolver{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		ComplexityLimit: 10000, DepthLimit: 12, Introspection: true,
	})
	typeRef := "kind name"
	for range 8 {
		typeRef = "kind name ofType { " + typeRef + " }"
	}
	query := `{ __schema { types { name fields(includeDeprecated: true) { name args { name type { ` + typeRef + ` } } } } } }`
	body, _ := json.Marshal(map[string]any{"query": query})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	srv.ServeHTTP(rec, req)
	if strings.Contains(rec.Body.String(), `"errors"`) || !strings.Contains(rec.Body.String(), `"__schema"`) {
		t.Errorf("the schema query answered %.300s, want the schema", rec.Body.String())
	}
}
