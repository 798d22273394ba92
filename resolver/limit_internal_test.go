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
