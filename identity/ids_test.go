package identity_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

func TestAssignIDs(t *testing.T) {
	type m = identity.Member
	cases := []struct {
		name       string
		components [][]string
		members    []identity.Member
		old        []identity.MCInfo
		want       []identity.Assignment
	}{
		{
			name:       "brand new",
			components: [][]string{{"b", "a"}, {"c"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1}, {ID: "b", CreatedAt: 2}},
			want: []identity.Assignment{
				{ID: "new1", New: true, Members: []string{"a", "b"}},
				{ID: "new2", New: true, Members: []string{"c"}},
			},
		},
		{
			name:       "unchanged",
			components: [][]string{{"a", "b"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M1"}, {ID: "b", CreatedAt: 2, MC: "M1"}},
			old:        []identity.MCInfo{{ID: "M1", Size: 2, CreatedAt: 1}},
			want:       []identity.Assignment{{ID: "M1", Members: []string{"a", "b"}, Previous: []string{"M1"}}},
		},
		{
			name:       "new client joins",
			components: [][]string{{"a", "n"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M1"}, {ID: "n", CreatedAt: 9}},
			old:        []identity.MCInfo{{ID: "M1", Size: 1, CreatedAt: 1}},
			want:       []identity.Assignment{{ID: "M1", Members: []string{"a", "n"}, Previous: []string{"M1"}}},
		},
		{
			name:       "merge: larger keeps its id",
			components: [][]string{{"a", "b", "c"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M1"}, {ID: "b", CreatedAt: 5, MC: "M2"}, {ID: "c", CreatedAt: 6, MC: "M2"}},
			old:        []identity.MCInfo{{ID: "M1", Size: 1, CreatedAt: 1}, {ID: "M2", Size: 2, CreatedAt: 5}},
			want:       []identity.Assignment{{ID: "M2", Members: []string{"a", "b", "c"}, Absorbed: []string{"M1"}, Previous: []string{"M1", "M2"}}},
		},
		{
			name:       "merge: tie, older keeps its id",
			components: [][]string{{"a", "b"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M9"}, {ID: "b", CreatedAt: 5, MC: "M1"}},
			old:        []identity.MCInfo{{ID: "M9", Size: 1, CreatedAt: 1}, {ID: "M1", Size: 1, CreatedAt: 5}},
			want:       []identity.Assignment{{ID: "M9", Members: []string{"a", "b"}, Absorbed: []string{"M1"}, Previous: []string{"M1", "M9"}}},
		},
		{
			name:       "merge: full tie, smaller id keeps",
			components: [][]string{{"a", "b", "c"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M3"}, {ID: "b", CreatedAt: 1, MC: "M2"}, {ID: "c", CreatedAt: 1, MC: "M1"}},
			old:        []identity.MCInfo{{ID: "M1", Size: 1, CreatedAt: 1}, {ID: "M2", Size: 1, CreatedAt: 1}, {ID: "M3", Size: 1, CreatedAt: 1}},
			want:       []identity.Assignment{{ID: "M1", Members: []string{"a", "b", "c"}, Absorbed: []string{"M2", "M3"}, Previous: []string{"M1", "M2", "M3"}}},
		},
		{
			name:       "split: the oldest member's part keeps the id",
			components: [][]string{{"b", "c"}, {"a"}, {"d"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M1"}, {ID: "b", CreatedAt: 2, MC: "M1"}, {ID: "c", CreatedAt: 3, MC: "M1"}, {ID: "d", CreatedAt: 4, MC: "M1"}},
			old:        []identity.MCInfo{{ID: "M1", Size: 4, CreatedAt: 1}},
			want: []identity.Assignment{
				{ID: "new1", New: true, Members: []string{"b", "c"}, Previous: []string{"M1"}},
				{ID: "M1", Members: []string{"a"}, Previous: []string{"M1"}},
				{ID: "new2", New: true, Members: []string{"d"}, Previous: []string{"M1"}},
			},
		},
		{
			name:       "split: tie on age broken by client id",
			components: [][]string{{"b"}, {"a"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 7, MC: "M1"}, {ID: "b", CreatedAt: 7, MC: "M1"}},
			old:        []identity.MCInfo{{ID: "M1", Size: 2, CreatedAt: 7}},
			want: []identity.Assignment{
				{ID: "new1", New: true, Members: []string{"b"}, Previous: []string{"M1"}},
				{ID: "M1", Members: []string{"a"}, Previous: []string{"M1"}},
			},
		},
		{
			name: "merge and split at once",
			// M1 = {a, b, c}, M2 = {d, e}, M3 = {f}. Now {b, d, e} and {a, c, f}.
			components: [][]string{{"b", "d", "e"}, {"a", "c", "f"}},
			members: []identity.Member{
				{ID: "a", CreatedAt: 1, MC: "M1"}, {ID: "b", CreatedAt: 2, MC: "M1"}, {ID: "c", CreatedAt: 3, MC: "M1"},
				{ID: "d", CreatedAt: 4, MC: "M2"}, {ID: "e", CreatedAt: 5, MC: "M2"},
				{ID: "f", CreatedAt: 0, MC: "M3"},
			},
			old: []identity.MCInfo{{ID: "M1", Size: 3, CreatedAt: 1}, {ID: "M2", Size: 2, CreatedAt: 4}, {ID: "M3", Size: 1, CreatedAt: 0}},
			want: []identity.Assignment{
				{ID: "M2", Members: []string{"b", "d", "e"}, Previous: []string{"M1", "M2"}},
				{ID: "M1", Members: []string{"a", "c", "f"}, Absorbed: []string{"M3"}, Previous: []string{"M1", "M3"}},
			},
		},
		{
			name:       "old id missing from old counts its members here",
			components: [][]string{{"a", "b", "c"}},
			members:    []identity.Member{{ID: "a", CreatedAt: 1, MC: "M1"}, {ID: "b", CreatedAt: 2, MC: "MX"}, {ID: "c", CreatedAt: 3, MC: "MX"}},
			old:        []identity.MCInfo{{ID: "M1", Size: 1, CreatedAt: 1}},
			want:       []identity.Assignment{{ID: "MX", Members: []string{"a", "b", "c"}, Absorbed: []string{"M1"}, Previous: []string{"M1", "MX"}}},
		},
	}
	for _, tc := range cases {
		members := make(map[string]m)
		for _, mm := range tc.members {
			members[mm.ID] = mm
		}
		old := make(map[string]identity.MCInfo)
		for _, o := range tc.old {
			old[o.ID] = o
		}
		n := 0
		newID := func() string { n++; return fmt.Sprint("new", n) }
		got := identity.AssignIDs(tc.components, members, old, newID)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\nAssignIDs() = %+v\nwant         %+v", tc.name, got, tc.want)
		}
	}
}
