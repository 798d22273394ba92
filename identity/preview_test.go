package identity

import "testing"

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
