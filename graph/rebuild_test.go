package graph_test

import (
	"context"
	"fmt"
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

// allow lifts the quarantine of the key of one value.
func (f *fixture) allow(field, value string) {
	f.t.Helper()
	keys, err := f.s.QuarantinedKeys(f.ctx, f.project)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, k := range keys {
		if len(k.Parts) == 1 && k.Parts[0] == (identity.KeyPart{Field: field, Value: value}) {
			if err := f.s.AllowKey(f.ctx, f.project, k.Rule, k.Key); err != nil {
				f.t.Fatal(err)
			}
			return
		}
	}
	f.t.Fatalf("no quarantined key of %s=%s among %+v", field, value, keys)
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
	f.configure(identity.Settings{KeyCap: &two})
	rule := f.addRule("phone", "phone")
	for _, id := range []string{"a", "b", "c"} { // an office phone, allowed
		f.client(id, "web", "phone", "+74951234567")
	}
	for _, id := range []string{"d", "e", "f"} { // a call centre, kept quarantined
		f.client(id, "web", "phone", "+74957654321")
	}
	if got := quarantinedParts(t, f); !slices.Equal(got, []string{"phone=+74951234567", "phone=+74957654321"}) {
		t.Fatalf("quarantined keys = %v, want both phones", got)
	}
	f.allow("phone", "+74951234567")
	if err := f.s.RemoveAttribute(f.ctx, f.project, "f", "phone", "+74957654321"); err != nil {
		t.Fatal(err)
	}
	all := []string{"a", "b", "c", "d", "e", "f"}
	want := [][]string{{"a", "b", "c"}, {"d"}, {"e"}, {"f"}}
	f.wantGroups(want, all...)
	office := f.mc("a")
	_, seq := f.eventsSince(0)

	rule.Name = "Office phone"
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups(want, all...)
	yes, no := true, false
	for _, accept := range []*bool{&yes, &no} { // rebuilds every rule's keys
		f.configure(identity.Settings{AcceptUnverifiedWidgetValues: accept})
		f.wantGroups(want, all...)
	}
	if got := f.mc("a"); got != office {
		t.Errorf("the office's multi-contact went from %s to %s", office, got)
	}
	if events, _ := f.eventsSince(seq); len(events) != 0 {
		t.Errorf("events after edits that link nobody differently: %+v", events)
	}

	// Disabled, the rule's keys lose their holders; enabled again, they
	// get them back with the decisions taken on them.
	for _, enabled := range []bool{false, true} {
		rule.Enabled = enabled
		if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
			t.Fatal(err)
		}
		f.settle()
		if got := quarantinedParts(t, f); !enabled && len(got) != 0 {
			t.Errorf("quarantined keys listed while nobody holds them: %v", got)
		}
	}
	f.wantGroups(want, all...)
	if got := quarantinedParts(t, f); !slices.Equal(got, []string{"phone=+74957654321"}) {
		t.Errorf("quarantined after the edits: %v, want the call centre's phone only", got)
	}
}

// A key that a rule's rebuild gives more holders than the cap links
// nobody, not even for the moment between its creation and the rebuild's
// check of the cap: a write made then does not merge its holders (to
// split them again a moment later under new ids).
func TestARebuiltKeyOverTheCapNeverLinks(t *testing.T) {
	f := newFixture(t)
	two := 2
	f.configure(identity.Settings{KeyCap: &two})
	for _, id := range []string{"a", "b", "c"} { // a call centre's phone, before any rule
		f.client(id, "web", "phone", "+74957654321")
	}
	_, seq := f.eventsSince(0)
	var during [][]string
	restore := graph.OnKeysBuilt(func(string) {
		if _, err := f.s.SetAttribute(context.Background(), f.project, "a",
			identity.AttributeInput{Field: "skype", Value: "a.skype", Source: identity.SourceBot}); err != nil {
			t.Error(err)
		}
		during = f.groups("a", "b", "c")
	})
	defer restore()
	f.addRule("phone", "phone")
	if len(during) != 3 {
		t.Errorf("a write while the rule's keys were built merged the call centre's clients: %v", during)
	}
	f.wantGroups([][]string{{"a"}, {"b"}, {"c"}}, "a", "b", "c")
	events, _ := f.eventsSince(seq)
	for _, e := range events {
		if e.Type == identity.EventMerged || e.Type == identity.EventSplit {
			t.Errorf("%s event for clients the cap keeps apart: %+v", e.Type, e)
		}
	}
}

// A rule added over clients with many keys each (more than one transaction
// of the rebuild holds) gives every client all of its keys.
func TestARuleOverClientsWithManyKeysKeysEveryClient(t *testing.T) {
	f := newFixture(t)
	var ops []graph.Op
	client := func(id string, phones, emails []string) {
		in := identity.ClientInput{ID: id, Channel: identity.Channel{Kind: "web", Account: "acme"}}
		for _, p := range phones {
			in.Attributes = append(in.Attributes, identity.AttributeInput{Field: "phone", Value: p, Source: identity.SourceImport})
		}
		for _, e := range emails {
			in.Attributes = append(in.Attributes, identity.AttributeInput{Field: "email", Value: e, Source: identity.SourceImport})
		}
		ops = append(ops, graph.Op{Line: len(ops) + 1, Kind: graph.OpUpsertClient, Client: in})
	}
	const clients = 250 // 100 keys each: 25,000 in one page of clients
	var first, last [2]string
	for i := range clients {
		var phones, emails []string
		for j := range 10 {
			phones = append(phones, fmt.Sprintf("+7916%03d%04d", i, j))
			emails = append(emails, fmt.Sprintf("c%d.%d@example.com", i, j))
		}
		client(fmt.Sprint("c", i), phones, emails)
		if i == 0 {
			first = [2]string{phones[0], emails[0]}
		}
		last = [2]string{phones[9], emails[9]}
	}
	client("y", []string{first[0]}, []string{first[1]})
	client("z", []string{last[0]}, []string{last[1]})
	for len(ops) > 0 {
		n := min(100, len(ops))
		if _, err := f.s.Write(f.ctx, f.project, ops[:n], graph.WriteOptions{Resolve: true}); err != nil {
			t.Fatal(err)
		}
		ops = ops[n:]
	}
	f.addRule("phone and e-mail", "phone", "email")
	f.wantGroups([][]string{{"c0", "y"}, {fmt.Sprint("c", clients-1), "z"}, {"c1"}}, "c0", "y", fmt.Sprint("c", clients-1), "z", "c1")
}
