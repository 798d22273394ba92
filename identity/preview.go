package identity

import (
	"cmp"
	"slices"
)

// RulePreview is what a set of rules would do to a project's
// multi-contacts, were they its rules.
type RulePreview struct {
	Merges        int // current multi-contacts that would join others
	Splits        int // current multi-contacts that would fall apart
	MultiContacts int // multi-contacts afterwards
	Largest       int // members of the largest afterwards
}

// PreviewOf compares the components of uf (what the rules would make) with
// the multi-contact each client has now: mc[i] is that of the client of
// index i, by its id or any other value that tells it apart (the zero value
// for a client no multi-contact holds yet, which counts in no merge or
// split). It keeps its counts in slices by client index and sorts
// the clients by multi-contact instead of building maps: at a million
// clients, maps of the same counts took over a hundred megabytes.
func PreviewOf[M cmp.Ordered](uf *UnionFind, mc []M) RulePreview {
	n := int32(uf.Len())
	root := make([]int32, n)
	size := make([]int32, n) // by root: members
	var p RulePreview
	var held []int32 // clients that a multi-contact holds now
	var none M
	for i := range n {
		root[i] = uf.Root(i)
		if size[root[i]]++; size[root[i]] == 1 {
			p.MultiContacts++
		}
		p.Largest = max(p.Largest, int(size[root[i]]))
		if int(i) < len(mc) && mc[i] != none {
			held = append(held, i)
		}
	}
	// Sorted by (multi-contact now, component afterwards), each pair of
	// the two is one run: a place where a current multi-contact lands.
	slices.SortFunc(held, func(a, b int32) int {
		return cmp.Or(cmp.Compare(mc[a], mc[b]), cmp.Compare(root[a], root[b]))
	})
	olds := make([]int32, n)              // by root: current multi-contacts landing in it
	runs := func(each func(lo, hi int)) { // each multi-contact's run of held
		for lo := 0; lo < len(held); {
			hi := lo + 1
			for hi < len(held) && mc[held[hi]] == mc[held[lo]] {
				hi++
			}
			each(lo, hi)
			lo = hi
		}
	}
	runs(func(lo, hi int) {
		parts := 0
		for j := lo; j < hi; j++ {
			if j == lo || root[held[j]] != root[held[j-1]] {
				parts++
				olds[root[held[j]]]++
			}
		}
		if parts > 1 {
			p.Splits++
		}
	})
	runs(func(lo, hi int) {
		for _, i := range held[lo:hi] {
			if olds[root[i]] > 1 {
				p.Merges++
				return
			}
		}
	})
	return p
}
