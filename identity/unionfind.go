package identity

import (
	"slices"
	"strings"
)

// UnionFind is a disjoint-set over string ids with path compression and
// union by size: the offline way to compute multi-contacts, used to
// re-resolve a project and to check the store. The zero value is not
// usable: call NewUnionFind. It is not safe for concurrent use.
type UnionFind struct {
	index  map[string]int32
	ids    []string
	parent []int32
	size   []int32
}

// NewUnionFind returns an empty UnionFind.
func NewUnionFind() *UnionFind {
	return &UnionFind{index: make(map[string]int32)}
}

// Add adds id as a set of its own, if it is not there yet.
func (u *UnionFind) Add(id string) {
	u.add(id)
}

// add returns the index of id, adding it when missing.
func (u *UnionFind) add(id string) int32 {
	if i, ok := u.index[id]; ok {
		return i
	}
	i := int32(len(u.ids))
	u.index[id] = i
	u.ids = append(u.ids, id)
	u.parent = append(u.parent, i)
	u.size = append(u.size, 1)
	return i
}

// root returns the representative of index i, halving the path on the way.
func (u *UnionFind) root(i int32) int32 {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

// Index returns the index of id, adding it when missing. Indexes run from 0
// to Len()-1 in the order ids were added, so callers can keep per-id data
// in slices instead of maps (a project of a million clients).
func (u *UnionFind) Index(id string) int32 { return u.add(id) }

// Len is the number of ids.
func (u *UnionFind) Len() int { return len(u.ids) }

// ID returns the id at index i.
func (u *UnionFind) ID(i int32) string { return u.ids[i] }

// Root returns the index of the representative of index i's set.
func (u *UnionFind) Root(i int32) int32 { return u.root(i) }

// UnionIndex joins the sets of indexes a and b.
func (u *UnionFind) UnionIndex(a, b int32) { u.union(a, b) }

// Find returns the representative id of id's set, adding id if missing.
func (u *UnionFind) Find(id string) string {
	return u.ids[u.root(u.add(id))]
}

// Union joins the sets of a and b, adding either if missing.
func (u *UnionFind) Union(a, b string) {
	u.union(u.add(a), u.add(b))
}

// union joins the sets of indexes a and b, the smaller under the larger.
func (u *UnionFind) union(a, b int32) {
	ra, rb := u.root(a), u.root(b)
	if ra == rb {
		return
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
}

// Groups returns the sets, each sorted, the list sorted by first member.
func (u *UnionFind) Groups() [][]string {
	at := make(map[int32]int)
	var groups [][]string
	for i, id := range u.ids {
		r := u.root(int32(i))
		g, ok := at[r]
		if !ok {
			g = len(groups)
			at[r] = g
			groups = append(groups, make([]string, 0, u.size[r]))
		}
		groups[g] = append(groups[g], id)
	}
	for _, g := range groups {
		slices.Sort(g)
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return groups
}

// Components is the offline oracle of multi-contacts: every client appears
// in exactly one component, joined with the others when they share a match
// key (keysOf maps a client to its keys) or are linked by hand. Keys and
// links of ids not in clients are ignored.
func Components(clients []string, keysOf map[string][]string, links [][2]string) [][]string {
	u := NewUnionFind()
	for _, c := range clients {
		u.add(c)
	}
	first := make(map[string]int32)
	for _, c := range clients {
		i := u.index[c]
		for _, k := range keysOf[c] {
			if j, ok := first[k]; ok {
				u.union(i, j)
			} else {
				first[k] = i
			}
		}
	}
	for _, l := range links {
		a, okA := u.index[l[0]]
		b, okB := u.index[l[1]]
		if okA && okB {
			u.union(a, b)
		}
	}
	return u.Groups()
}
