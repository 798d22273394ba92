package resolver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/lru"

	"github.com/multicontact/multicontact/access"
)

// A token that cannot be a key is refused as unknown without a lookup:
// this authenticator has no store, and would fail on one.
func TestATokenThatCannotBeAKeyIsNotLookedUp(t *testing.T) {
	a := &Authenticator{}
	for _, token := range []string{"mck_not-a-key", "hello", access.NewSecret() + "x"} {
		if _, err := a.Authenticate(context.Background(), "Bearer "+token); err != errBadKey {
			t.Errorf("Authenticate(%q) = %v, want %v", token, err, errBadKey)
		}
	}
}

// With every lookup slot taken (a flood of keys nobody used lately, or
// Neo4j slow), a request whose key must be looked up is refused at once,
// UNAVAILABLE with Retry-After, instead of waiting for a connection to Neo4j.
func TestLookupsBeyondTheBoundAreRefusedAtOnce(t *testing.T) {
	a := &Authenticator{}
	a.lookupsOn.Do(func() { a.lookups = make(chan struct{}, maxLookups) })
	for range maxLookups {
		a.lookups <- struct{}{}
	}
	h := a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the request was let through") }))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", "Bearer "+access.NewSecret())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		Errors []struct{ Extensions map[string]any }
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		len(body.Errors) == 0 || body.Errors[0].Extensions["code"] != CodeUnavailable {
		t.Errorf("answered %d, Retry-After %q, %s; want 503 UNAVAILABLE with Retry-After", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// A persisted query is known only to the caller that sent it: another
// project's key, or a caller without one, cannot learn from the cache that
// a query was sent.
func TestPersistedQueriesAreKeptApartByCaller(t *testing.T) {
	q := callersQueries{lru.New[string](10)}
	as := func(p *Principal) context.Context { return WithPrincipal(context.Background(), p) }
	a, b := &Principal{Project: "a", Role: access.RoleRead}, &Principal{Project: "b", Role: access.RoleRead}
	q.Add(as(a), "h", "query { x }")
	q.Add(context.Background(), "anon", "query { y }")
	for _, tt := range []struct {
		who  context.Context
		hash string
		want bool
	}{
		{as(a), "h", true}, {as(&Principal{Project: "a", Role: access.RoleAdmin}), "h", true},
		{as(b), "h", false}, {as(&Principal{Admin: true}), "h", false}, {context.Background(), "h", false},
		{context.Background(), "anon", false},
	} {
		if _, got := q.Get(tt.who, tt.hash); got != tt.want {
			t.Errorf("%v asking for %s: found %v, want %v", PrincipalFrom(tt.who), tt.hash, got, tt.want)
		}
	}
}
