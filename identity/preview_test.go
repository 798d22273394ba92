package identity

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Today a and b are one multi-contact (m1), c and d another (m2), e a
// third (m3) and f has none yet. The previewed rules keep a with b, take
// c away from d and join d with e: m1 stays, m2 falls apart (a split), and
// m2 and m3 join in the component {d, e} (two merged).
func TestPreviewOfCountsMergesSplitsAndSizes(t *testing.T) {
	uf := NewUnionFind()
	mc := map[string]string{"a": "m1", "b": "m1", "c": "m2", "d": "m2", "e": "m3", "f": ""}
	var byIndex []string
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		uf.Add(id)
		byIndex = append(byIndex, mc[id])
	}
	uf.Union("a", "b")
	uf.Union("d", "e")
	got := PreviewOf(uf, byIndex)
	want := RulePreview{Merges: 2, Splits: 1, MultiContacts: 4, Largest: 2}
	if got != want {
		t.Errorf("PreviewOf = %+v, want %+v", got, want)
	}
	// The same rules as today change nothing.
	same := NewUnionFind()
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		same.Add(id)
	}
	same.Union("a", "b")
	same.Union("c", "d")
	if got := PreviewOf(same, byIndex); got != (RulePreview{MultiContacts: 4, Largest: 2}) {
		t.Errorf("PreviewOf(today's partition) = %+v, want no merge or split", got)
	}
}

// On random partitions, PreviewOf counts what the definition says, as a
// plain reading of it with maps counts it.
func TestPreviewOfMatchesItsDefinitionOnRandomPartitions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		n := 1 + rng.IntN(60)
		uf := NewUnionFind()
		mc := make([]string, n)
		for i := range n {
			uf.Add(fmt.Sprint("c", i))
			if rng.IntN(5) > 0 { // some clients have no multi-contact yet
				mc[i] = fmt.Sprint("m", rng.IntN(1+n/3))
			}
		}
		for range rng.IntN(n) {
			uf.Union(fmt.Sprint("c", rng.IntN(n)), fmt.Sprint("c", rng.IntN(n)))
		}
		if got, want := PreviewOf(uf, mc), previewByDefinition(uf, mc); got != want {
			t.Fatalf("round %d: PreviewOf = %+v, by definition %+v (mc %v, groups %v)", round, got, want, mc, uf.Groups())
		}
	}
}

// previewByDefinition: a merge is a current multi-contact that lands in a
// component where another current one lands too; a split is one that
// lands in several components.
func previewByDefinition(uf *UnionFind, mc []string) RulePreview {
	components := map[string][]string{} // root -> its current multi-contacts, distinct
	landsIn := map[string]map[string]bool{}
	var p RulePreview
	for _, g := range uf.Groups() {
		p.MultiContacts++
		p.Largest = max(p.Largest, len(g))
	}
	for i := range uf.Len() {
		id := uf.ID(int32(i))
		root := uf.Find(id)
		if mc[i] == "" {
			continue
		}
		if !slices.Contains(components[root], mc[i]) {
			components[root] = append(components[root], mc[i])
		}
		if landsIn[mc[i]] == nil {
			landsIn[mc[i]] = map[string]bool{}
		}
		landsIn[mc[i]][root] = true
	}
	merged := map[string]bool{}
	for _, olds := range components {
		if len(olds) > 1 {
			for _, m := range olds {
				merged[m] = true
			}
		}
	}
	for _, roots := range landsIn {
		if len(roots) > 1 {
			p.Splits++
		}
	}
	p.Merges = len(merged)
	return p
}

// BenchmarkPreviewOfAMillionClients: what comparing a preview's components
// with the current multi-contacts costs at a million clients, in pairs
// (most multi-contacts unchanged, one in ten joining the next).
func BenchmarkPreviewOfAMillionClients(b *testing.B) {
	const n = 1_000_000
	uf := NewUnionFind()
	mc := make([]string, n)
	for i := range n {
		uf.Add(fmt.Sprintf("client-%07d", i))
		mc[i] = fmt.Sprintf("mc-%07d", i/2)
	}
	for i := 0; i+1 < n; i += 2 {
		uf.UnionIndex(int32(i), int32(i+1))
		if i%20 == 0 && i+2 < n {
			uf.UnionIndex(int32(i), int32(i+2))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		PreviewOf(uf, mc)
	}
}
