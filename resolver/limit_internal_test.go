package resolver

import (
	"context"
	"slices"
	"testing"

	"github.com/multicontact/multicontact/access"
)

// A GraphQL operation or an HTTP call is counted against the projects its
// caller may act in: a key's own project among those the call names, all
// of them for the admin token, none for a caller without a key.
func TestCallsAreChargedToTheProjectsTheirCallerReaches(t *testing.T) {
	named := []string{"a", "b", "a"}
	for _, tt := range []struct {
		who  *Principal
		want []string
	}{
		{nil, nil},
		{&Principal{Admin: true}, []string{"a", "b", "a"}},
		{&Principal{Project: "a", Role: access.RoleWrite}, []string{"a", "a"}},
		{&Principal{Project: "c", Role: access.RoleAdmin}, []string{}},
	} {
		ctx := context.Background()
		if tt.who != nil {
			ctx = WithPrincipal(ctx, tt.who)
		}
		if got := reachable(ctx, slices.Clone(named)); !slices.Equal(got, tt.want) {
			t.Errorf("caller %+v naming %v is charged to %v, want %v", tt.who, named, got, tt.want)
		}
	}
}

// The public widget key holds at most a quarter of its project's calls in
// flight: a flood of widget calls leaves the rest to the project's own
// integrations and operators. An operation counts one call per root field.
func TestWidgetCallsHoldAShareOfTheirProjectAndRootFieldsEachCount(t *testing.T) {
	l := &Limiter{Max: 100, PerProject: 8}
	var held []func()
	for range 2 {
		release, refused := l.acquire(SurfaceWidget, []string{"a"}, 1)
		if release == nil {
			t.Fatalf("widget call refused (%s) within its share", refused)
		}
		held = append(held, release)
	}
	if release, refused := l.acquire(SurfaceWidget, []string{"a"}, 1); release != nil || refused != ScopeProject {
		t.Errorf("a third widget call of 8 allowed: refused %q, want %s", refused, ScopeProject)
	}
	if release, refused := l.acquire(SurfaceGraphQL, []string{"a"}, 6); release == nil {
		t.Errorf("the project's own operation of 6 root fields refused (%s) beside 2 widget calls", refused)
	} else {
		held = append(held, release)
	}
	if release, refused := l.acquire(SurfaceGraphQL, []string{"a"}, 1); release != nil || refused != ScopeProject {
		t.Errorf("a ninth call of the project admitted: refused %q, want %s", refused, ScopeProject)
	}
	for _, release := range held {
		release()
	}
	if l.InFlight() != 0 {
		t.Errorf("InFlight after every release = %d, want 0", l.InFlight())
	}
}

// A call never weighs more than a bound, or it could never be admitted: an
// operation of 16 root fields runs alone under a bound of 4.
func TestACallWeighsAtMostABound(t *testing.T) {
	l := &Limiter{Max: 100, PerProject: 4}
	release, refused := l.acquire(SurfaceGraphQL, []string{"a"}, 16)
	if release == nil {
		t.Fatalf("an operation of 16 root fields under a bound of 4 refused (%s) with nothing in flight", refused)
	}
	if again, _ := l.acquire(SurfaceGraphQL, []string{"a"}, 1); again != nil {
		t.Errorf("a call admitted beside an operation holding the whole bound")
	}
	release()
	if l.InFlight() != 0 {
		t.Errorf("InFlight after release = %d, want 0", l.InFlight())
	}
}
