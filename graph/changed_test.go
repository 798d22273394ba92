package graph

import (
	"fmt"
	"slices"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// snapshotOf builds a snapshot of clients c0..c(n-1) in components of
// size, each client holding the multi-contact old(i) ("" for none).
func snapshotOf(n, size int, old func(i int) string) *snapshot {
	snap := &snapshot{uf: identity.NewUnionFind()}
	for i := range n {
		snap.uf.Index(fmt.Sprint("c", i))
		snap.created = append(snap.created, int64(i))
		snap.mc = append(snap.mc, old(i))
		if i%size != 0 {
			snap.uf.UnionIndex(int32(i-1), int32(i))
		}
	}
	return snap
}

func TestChangedGroups(t *testing.T) {
	// c0-c1 keep m0; c2-c3 are new; c4-c5 share m4 with c6, now apart.
	snap := snapshotOf(7, 2, func(i int) string {
		return map[int]string{0: "m0", 1: "m0", 4: "m4", 5: "m4", 6: "m4"}[i]
	})
	ch := snap.changedGroups()
	var got [][][]string
	for g := range ch.len() {
		got = append(got, ch.group(g))
	}
	want := [][][]string{{{"c2", "c3"}}, {{"c4", "c5"}, {"c6"}}}
	if !slices.EqualFunc(got, want, func(a, b [][]string) bool {
		return slices.EqualFunc(a, b, slices.Equal[[]string])
	}) {
		t.Errorf("changedGroups = %v, want %v", got, want)
	}
}

// Components that share an old id are one group, wherever they are: c0
// and c2 both held m1 and are now apart; c1 is new between them.
func TestChangedGroupsJoinsComponentsApart(t *testing.T) {
	snap := snapshotOf(3, 1, func(i int) string { return map[int]string{0: "m1", 2: "m1"}[i] })
	ch := snap.changedGroups()
	var got [][][]string
	for g := range ch.len() {
		got = append(got, ch.group(g))
	}
	want := [][][]string{{{"c0"}, {"c2"}}, {{"c1"}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changedGroups = %v, want %v", got, want)
	}
}

// BenchmarkChangedGroupsAfterAnImport measures the memory of the step after
// a large import, where every component is new: B/op at a million clients.
func BenchmarkChangedGroupsAfterAnImport(b *testing.B) {
	snap := snapshotOf(1_000_000, 2, func(int) string { return "" })
	b.ReportAllocs()
	for b.Loop() {
		if groups := snap.changedGroups(); groups.len() != 500_000 {
			b.Fatalf("%d groups", groups.len())
		}
	}
}
