package resolver_test

// What the GraphQL endpoint refuses before any resolver runs, and how it
// answers a value that is not of its type.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
		{ ...F ...F ...F ...F ...F ...F ...F ...F ...F }`, nil); code != "BAD_USER_INPUT" || !strings.Contains(msg, "root fields") {
		t.Errorf("18 root fields through fragments: %s %q, want BAD_USER_INPUT on root fields", code, msg)
	}
	// Fragments nested deeper than a client would nest them are no way around it.
	nested := strings.Repeat("... { ", 9) + query(20)[1:len(query(20))-1] + strings.Repeat("} ", 9)
	if code, msg := firstCode(t, h, "{ "+nested+"}", nil); code != "BAD_USER_INPUT" || !strings.Contains(msg, "root fields") {
		t.Errorf("20 root fields in fragments nested 9 deep: %s %q, want BAD_USER_INPUT on root fields", code, msg)
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
	rec := postGraphQL(srv, query, nil)
	if strings.Contains(rec.Body.String(), `"errors"`) || !strings.Contains(rec.Body.String(), `"__schema"`) {
		t.Errorf("the schema query answered %.300s, want the schema", rec.Body.String())
	}
}

// A time that is not one, as a literal or a variable, is the caller's
// mistake: BAD_USER_INPUT naming the field that held it, not INTERNAL.
func TestABadTimeIsRefusedOnItsField(t *testing.T) {
	h := costServer(&resolver.Principal{Project: "p", Role: access.RoleWrite})
	for _, tt := range []struct {
		query string
		vars  map[string]any
	}{
		{`mutation { recordConversation(projectId: "p", clientId: "c", input: {id: "x", startedAt: "yesterday"}) { id } }`, nil},
		{`mutation($t: Time!) { recordConversation(projectId: "p", clientId: "c", input: {id: "x", startedAt: $t}) { id } }`,
			map[string]any{"t": "yesterday"}},
	} {
		rec := postGraphQL(h, tt.query, tt.vars)
		var out struct {
			Errors []struct{ Extensions map[string]any }
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if len(out.Errors) != 1 || out.Errors[0].Extensions["code"] != "BAD_USER_INPUT" ||
			out.Errors[0].Extensions["reason"] != "INVALID_TIME" || out.Errors[0].Extensions["field"] != "startedAt" {
			t.Errorf("%s with %v answered %s, want BAD_USER_INPUT INVALID_TIME on startedAt", tt.query, tt.vars, rec.Body)
		}
	}
}

// Lists without pages cost what they may return, and a search what it
// ranks: the console's settings page passes, a handful of them in one
// operation does not.
func TestLongListsWithoutPagesWeighWhatTheyMayReturn(t *testing.T) {
	h := costServer(&resolver.Principal{Project: "p", Role: access.RoleAdmin})
	settings := `s%d: project(id: "p") { quarantinedKeys { rule key parts { field value } size since } blockedValues { field value } } `
	search := `s%d: searchClients(projectId: "p", query: "anna", first: 10) { nodes { id } } `
	for _, tt := range []struct {
		field string
		n     int
		code  string
	}{
		{settings, 1, "INTERNAL"}, // reaches the resolver, which has no store
		{settings, 4, "COMPLEXITY_LIMIT_EXCEEDED"},
		{search, 2, "INTERNAL"},
		{search, 6, "COMPLEXITY_LIMIT_EXCEEDED"},
		// The core lookup: find a phone, then where the person can be answered.
		{`s%d: findClients(projectId: "p", field: "phone", value: "1") { nodes { id multiContact { channels { channel { kind account } channelUserId } } } } `,
			1, "INTERNAL"},
	} {
		var b strings.Builder
		for i := range tt.n {
			fmt.Fprintf(&b, tt.field, i)
		}
		if code, msg := firstCode(t, h, "{ "+b.String()+"}", nil); code != tt.code {
			t.Errorf("%d × %.40s: %s %q, want %s", tt.n, tt.field, code, msg, tt.code)
		}
	}
}
