package identity

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
// index i ("" for a client no multi-contact holds yet, which counts in no
// merge or split).
func PreviewOf(uf *UnionFind, mc []string) RulePreview {
	type place struct {
		mc   string
		root int32
	}
	sizes := map[int32]int{}
	seen := map[place]bool{}
	oldsOf := map[int32]int{}   // component -> current multi-contacts in it
	partsOf := map[string]int{} // current multi-contact -> components it lands in
	for i := range uf.Len() {
		root := uf.Root(int32(i))
		sizes[root]++
		if i >= len(mc) || mc[i] == "" {
			continue
		}
		if p := (place{mc[i], root}); !seen[p] {
			seen[p] = true
			oldsOf[root]++
			partsOf[mc[i]]++
		}
	}
	var p RulePreview
	p.MultiContacts = len(sizes)
	for _, n := range sizes {
		p.Largest = max(p.Largest, n)
	}
	for _, parts := range partsOf {
		if parts > 1 {
			p.Splits++
		}
	}
	merged := map[string]bool{}
	for pl := range seen {
		if oldsOf[pl.root] > 1 {
			merged[pl.mc] = true
		}
	}
	p.Merges = len(merged)
	return p
}
