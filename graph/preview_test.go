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
	got, err := f.s.PreviewRules(f.ctx, f.project, 0, []identity.Rule{
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

// The preview links as the change would: with a cap of 2, three clients of
// one e-mail stay apart under a previewed {email} rule (the key would be
// quarantined), and three of one phone stay apart under {phone}, which the
// project has already with that key quarantined, until the key is allowed.
func TestPreviewRulesKeepsTheCapAndTheKeysStates(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	cap := 2
	f.configure(identity.Settings{KeyCap: &cap})
	for _, id := range []string{"a", "b", "c"} {
		f.client(id, "web", "phone", "+74951234567", "email", "office@example.com")
	}
	f.client("d", "vk", "email", "dana@example.com")
	f.client("e", "vk", "email", "dana@example.com")
	f.wantGroups([][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}, "a", "b", "c", "d", "e")
	preview := func(fields ...string) identity.RulePreview {
		t.Helper()
		got, err := f.s.PreviewRules(f.ctx, f.project, 0, []identity.Rule{{ID: "p0", Name: "x", Fields: fields, Enabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// {email}: d and e merge (2 holders); office@ (3 holders) links nobody.
	if got, want := preview("email"), (identity.RulePreview{Merges: 2, MultiContacts: 4, Largest: 2}); got != want {
		t.Errorf("PreviewRules({email}) = %+v, want %+v", got, want)
	}
	// {phone} as it is: its key is quarantined.
	if got, want := preview("phone"), (identity.RulePreview{MultiContacts: 5, Largest: 1}); got != want {
		t.Errorf("PreviewRules({phone}) = %+v, want %+v", got, want)
	}
	// With a cap of 3 it would link its 3 holders, and office@ too.
	three, err := f.s.PreviewRules(f.ctx, f.project, 3, []identity.Rule{{ID: "p0", Name: "x", Fields: []string{"phone"}, Enabled: true}})
	if want := (identity.RulePreview{Merges: 3, MultiContacts: 3, Largest: 3}); err != nil || three != want {
		t.Errorf("PreviewRules({phone}) with a cap of 3 = %+v, %v; want %+v", three, err, want)
	}
	keys, err := f.s.QuarantinedKeys(f.ctx, f.project)
	if err != nil || len(keys) != 1 {
		t.Fatalf("quarantined keys = %+v, %v", keys, err)
	}
	if err := f.s.AllowKey(f.ctx, f.project, keys[0].Rule, keys[0].Key); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "b", "c"}, {"d"}, {"e"}}, "a", "b", "c", "d", "e")
	// Allowed, the key links past the cap: the preview of today's rule is today.
	if got, want := preview("phone"), (identity.RulePreview{MultiContacts: 3, Largest: 3}); got != want {
		t.Errorf("PreviewRules({phone}) with its key allowed = %+v, want %+v", got, want)
	}
}
