package identity_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/multicontact/multicontact/identity"
)

func TestDeriveEvents(t *testing.T) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cause := identity.Cause{Kind: identity.CauseValue, Action: "setAttribute"}
	m := func(id, mc string) identity.Member { return identity.Member{ID: id, MC: mc} }
	cases := []struct {
		name    string
		as      []identity.Assignment
		members []identity.Member
		old     map[string]identity.MCInfo
		updated []string
		want    string // type:mc:clients[:previous|new] per event
	}{
		{"a new client alone", []identity.Assignment{{ID: "n1", New: true, Members: []string{"a"}}},
			[]identity.Member{m("a", "")}, nil, nil, "CREATED:n1:[a]"},
		{"two merge, the larger keeps its id",
			[]identity.Assignment{{ID: "x", Members: []string{"a", "b", "c"}, Absorbed: []string{"y"}, Previous: []string{"x", "y"}}},
			[]identity.Member{m("a", "x"), m("b", "x"), m("c", "y")},
			map[string]identity.MCInfo{"x": {ID: "x", Size: 2}, "y": {ID: "y", Size: 1}}, nil, "MERGED:x:[a b c]:prev[y]"},
		{"a split keeps the id for one part and names the new one",
			[]identity.Assignment{{ID: "x", Members: []string{"a"}, Previous: []string{"x"}}, {ID: "n2", New: true, Members: []string{"b"}, Previous: []string{"x"}}},
			[]identity.Member{m("a", "x"), m("b", "x")},
			map[string]identity.MCInfo{"x": {ID: "x", Size: 2}}, nil, "SPLIT:x:[a b]:new[n2]"},
		{"the last member removed", nil, nil,
			map[string]identity.MCInfo{"x": {ID: "x", Size: 1}}, nil, "DELETED:x:[]"},
		{"a member's identifiers changed", []identity.Assignment{{ID: "x", Members: []string{"a", "b"}, Previous: []string{"x"}}},
			[]identity.Member{m("a", "x"), m("b", "x")},
			map[string]identity.MCInfo{"x": {ID: "x", Size: 2}}, []string{"b"}, "UPDATED:x:[a b]"},
		{"nothing changed", []identity.Assignment{{ID: "x", Members: []string{"a", "b"}, Previous: []string{"x"}}},
			[]identity.Member{m("a", "x"), m("b", "x")},
			map[string]identity.MCInfo{"x": {ID: "x", Size: 2}}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			members := map[string]identity.Member{}
			for _, mm := range c.members {
				members[mm.ID] = mm
			}
			var got string
			for i, e := range identity.DeriveEvents("p", c.as, members, c.old, c.updated, cause, at) {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s:%s:%v", e.Type, e.MultiContactID, e.ClientIDs)
				if len(e.PreviousIDs) > 0 {
					got += fmt.Sprintf(":prev%v", e.PreviousIDs)
				}
				if len(e.NewIDs) > 0 {
					got += fmt.Sprintf(":new%v", e.NewIDs)
				}
				if e.Cause != cause || e.At != at || e.Project != "p" {
					t.Errorf("event %+v lost its cause, time or project", e)
				}
			}
			if got != c.want {
				t.Errorf("events = %q, want %q", got, c.want)
			}
		})
	}
}
