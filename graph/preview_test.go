package graph_test

import (
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// Under the rule {email}, a and c are one multi-contact and b another.
// Previewing the rule {phone} instead: a leaves c (a split) and joins b
// (two merged); the project itself is left as it is.
func TestPreviewRulesComparesWithTodayWithoutChangingIt(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("a", "web", "email", "ann@example.com", "phone", "+79161234567")
	f.client("b", "telegram", "phone", "8 916 123-45-67")
	f.client("c", "vk", "email", "ann@example.com")
	f.wantGroups([][]string{{"a", "c"}, {"b"}}, "a", "b", "c")
	got, err := f.s.PreviewRules(f.ctx, f.project, []identity.Rule{
		{ID: "p0", Name: "phone", Fields: []string{"phone"}, Enabled: true},
		{ID: "p1", Name: "off", Fields: []string{"email"}, Enabled: false}, // a disabled rule links nobody
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (identity.RulePreview{Merges: 2, Splits: 1, MultiContacts: 2, Largest: 2}); got != want {
		t.Errorf("PreviewRules({phone}) = %+v, want %+v", got, want)
	}
	f.wantGroups([][]string{{"a", "c"}, {"b"}}, "a", "b", "c")
}
