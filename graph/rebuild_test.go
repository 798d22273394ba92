package graph_test

import (
	"context"
	"slices"
	"testing"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// eventsSince returns the project's events after seq, and the last seq.
func (f *fixture) eventsSince(seq int64) ([]identity.Event, int64) {
	f.t.Helper()
	events, err := f.s.EventsAfter(f.ctx, f.project, seq, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range events {
		seq = max(seq, e.Seq)
	}
	return events, seq
}

func quarantinedParts(t *testing.T, f *fixture) []string {
	t.Helper()
	keys, err := f.s.QuarantinedKeys(f.ctx, f.project)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		for _, p := range k.Parts {
			out = append(out, p.Field+"="+p.Value)
		}
	}
	slices.Sort(out)
	return out
}

// An admin's decisions on keys over the cap hold whatever happens to the
// rule's name or the project's switches: an allowed key keeps linking, a
// quarantined one stays quarantined (its holders fell to the cap, but only
// an admin frees it), and nobody's multi-contact moves.
func TestEditingARuleKeepsTheAdminsDecisionsOnItsKeys(t *testing.T) {
	f := newFixture(t)
	two := 2
	if _, err := f.s.UpdateProjectSettings(f.ctx, f.project, identity.Settings{KeyCap: &two}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	rule := f.addRule("phone", "phone")
	for _, id := range []string{"a", "b", "c"} { // an office phone, allowed
		f.client(id, "web", "phone", "+74951234567")
	}
	for _, id := range []string{"d", "e", "f"} { // a call centre, kept quarantined
		f.client(id, "web", "phone", "+74957654321")
	}
	keys, err := f.s.QuarantinedKeys(f.ctx, f.project)
	if err != nil || len(keys) != 2 {
		t.Fatalf("quarantined keys = %+v, %v; want 2", keys, err)
	}
	for _, k := range keys {
		if k.Parts[0].Value == "+74951234567" {
			if err := f.s.AllowKey(f.ctx, f.project, k.Rule, k.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.s.RemoveAttribute(f.ctx, f.project, "f", "phone", "+74957654321"); err != nil {
		t.Fatal(err)
	}
	all := []string{"a", "b", "c", "d", "e", "f"}
	want := [][]string{{"a", "b", "c"}, {"d"}, {"e"}, {"f"}}
	f.wantGroups(want, all...)
	mcs := f.groups("a")
	_, seq := f.eventsSince(0)

	rule.Name = "Office phone"
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups(want, all...)
	yes, no := true, false
	for _, accept := range []*bool{&yes, &no} { // rebuilds every rule's keys
		if _, err := f.s.UpdateProjectSettings(f.ctx, f.project, identity.Settings{AcceptUnverifiedWidgetValues: accept}); err != nil {
			t.Fatal(err)
		}
		f.settle()
		f.wantGroups(want, all...)
	}
	if got := quarantinedParts(t, f); !slices.Equal(got, []string{"phone=+74957654321"}) {
		t.Errorf("quarantined after the edits: %v, want the call centre's phone only", got)
	}
	if got := f.groups("a"); mcs[0][0] != got[0][0] || f.mc("a") == "" {
		t.Errorf("a's multi-contact changed")
	}
	if events, _ := f.eventsSince(seq); len(events) != 0 {
		t.Errorf("events after edits that link nobody differently: %+v", events)
	}
}

// While a rule's keys are rebuilt, a write is accepted at once and its
// clients are resolved by the re-resolution, against the keys as they are
// when complete: nobody is split for the moment a key is missing, and
// nobody's multi-contact id changes.
func TestAWriteWhileKeysAreRebuiltWaitsForTheCompleteKeys(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("b", "telegram", "phone", "+79161234567", "email", "ann@example.com")
	f.client("c", "vk", "email", "ann@example.com")
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
	before := f.mc("a")
	_, seq := f.eventsSince(0)

	var during string
	restore := graph.OnKeysBuilt(func(string) {
		ctx := context.Background()
		if _, err := f.s.SetAttribute(ctx, f.project, "c", identity.AttributeInput{Field: "skype", Value: "ann.k", Source: identity.SourceBot}); err != nil {
			t.Error(err)
		}
		if _, err := f.s.UpsertClient(ctx, f.project, identity.ClientInput{ID: "d", Channel: identity.Channel{Kind: "whatsapp", Account: "acme"},
			Attributes: []identity.AttributeInput{{Field: "email", Value: "ann@example.com", Source: identity.SourceBot}}}); err != nil {
			t.Error(err)
		}
		c, err := f.s.Client(ctx, f.project, "d")
		if err != nil {
			t.Error(err)
		}
		during = c.MultiContactID
	})
	defer restore()
	yes := true
	if _, err := f.s.UpdateProjectSettings(f.ctx, f.project, identity.Settings{AcceptUnverifiedWidgetValues: &yes}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	if during != "" {
		t.Errorf("a client written while keys were rebuilt was resolved at once, into %s", during)
	}
	f.wantGroups([][]string{{"a", "b", "c", "d"}}, "a", "b", "c", "d")
	if after := f.mc("a"); after != before {
		t.Errorf("the multi-contact's id moved from %s to %s", before, after)
	}
	events, _ := f.eventsSince(seq)
	for _, e := range events {
		if e.Type == identity.EventSplit || e.Type == identity.EventMerged {
			t.Errorf("%s event for a person nothing split: %+v", e.Type, e)
		}
	}
}
