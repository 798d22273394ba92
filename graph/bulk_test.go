package graph_test

import (
	"slices"
	"testing"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// upsertOp is an import line creating client id on the web with a phone.
func upsertOp(id, phone string) graph.Op {
	return graph.Op{Kind: graph.OpUpsertClient, Client: identity.ClientInput{ID: id,
		Channel:    identity.Channel{Kind: "web", Account: "site"},
		Attributes: []identity.AttributeInput{{Field: "phone", Value: phone, Source: identity.SourceImport}}}}
}

// While a large import is RUNNING, single writes are resolved at once, and
// a client the import wrote is resolved, with its unresolved partners, when
// someone asks for it; the import's re-resolution keeps those ids.
func TestWritesDuringALargeImportAreResolvedBeforeItsReresolution(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	f.client("api-a", "telegram", "email", "a@example.com")
	f.client("api-b", "vk")
	if err := f.s.BeginBulk(f.ctx, f.project); err != nil {
		t.Fatal(err)
	}
	ops := []graph.Op{upsertOp("imp-1", "+79161234567"), upsertOp("imp-2", "+79161234567"), upsertOp("imp-3", "+79160000003")}
	if _, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A single write merges two API clients now, with the project RUNNING.
	f.set("api-b", "email", "A@example.com")
	if a, b := f.mc("api-a"), f.mc("api-b"); a != b {
		t.Errorf("api-a in %s, api-b in %s: a write during the import was not resolved", a, b)
	}
	// Asking for an imported client resolves it, with its partner.
	mc, err := f.s.ResolveClient(f.ctx, f.project, "imp-1")
	if err != nil || mc == "" {
		t.Fatalf("resolve imp-1: %q %v", mc, err)
	}
	if got := f.mc("imp-2"); got != mc {
		t.Errorf("imp-2 in %s, imp-1 in %s: they share a phone", got, mc)
	}
	f.settle()
	f.wantGroups([][]string{{"api-a", "api-b"}, {"imp-1", "imp-2"}, {"imp-3"}}, "api-a", "api-b", "imp-1", "imp-2", "imp-3")
	if got := f.mc("imp-1"); got != mc {
		t.Errorf("the re-resolution moved imp-1 from %s to %s", mc, got)
	}
}

// A re-resolution that finished in the middle of an import (as one resumed
// at start does) does not leave the import's later batches unresolved:
// every batch keeps the project RUNNING until they are resolved.
func TestABatchWrittenAfterAReresolutionStartedKeepsTheProjectRunning(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	if err := f.s.BeginBulk(f.ctx, f.project); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Write(f.ctx, f.project, []graph.Op{upsertOp("first", "+79161234567")}, graph.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle() // as a resumed re-resolution would, in the middle of the import
	if _, err := f.s.Write(f.ctx, f.project, []graph.Op{upsertOp("second", "+79161234567")}, graph.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle() // before, this found the project IDLE and left "second" unresolved
	f.wantGroups([][]string{{"first", "second"}}, "first", "second")
}

// Forgetting a person while a large import is RUNNING also erases the
// clients the import wrote for them that no round has resolved yet: they
// are theirs by the rules, and would join them once resolved.
func TestForgettingAPersonDuringALargeImportErasesTheirUnresolvedClients(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("tg-1", "telegram", "phone", "+79161234567")
	if err := f.s.BeginBulk(f.ctx, f.project); err != nil {
		t.Fatal(err)
	}
	ops := []graph.Op{upsertOp("imp-1", "+79161234567"), upsertOp("imp-2", "+79160000002")}
	if _, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	ev, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("tg-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev.ClientIDs, []string{"imp-1", "tg-1"}) {
		t.Errorf("forgotten clients %v, want imp-1 and tg-1", ev.ClientIDs)
	}
	if left := f.nodesNaming("+79161234567"); len(left) > 0 {
		t.Errorf("after the forget, the graph still holds %v", left)
	}
	f.settle()
	f.wantGroups([][]string{{"imp-2"}}, "imp-2")
}

// A re-resolution's events say why it ran: clients a large import wrote
// without resolving them, or the rule whose keys it rebuilt.
func TestAReresolutionsEventsSayWhyItRan(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "email", "x@example.com")
	f.client("b", "telegram", "email", "x@example.com")
	_, seq := f.eventsSince(0)
	if err := f.s.BeginBulk(f.ctx, f.project); err != nil {
		t.Fatal(err)
	}
	ops := []graph.Op{upsertOp("imp-1", "+79161234567"), upsertOp("imp-2", "+79161234567")}
	if _, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	events, seq := f.eventsSince(seq)
	if len(events) == 0 {
		t.Fatal("the import's re-resolution made no event")
	}
	for _, e := range events {
		if e.Cause.Kind != identity.CauseClient || e.Cause.Rule != "" {
			t.Errorf("the import's re-resolution: %s event caused by %+v, want a CLIENT cause without a rule", e.Type, e.Cause)
		}
	}
	rule := f.addRule("by e-mail", "email")
	events, _ = f.eventsSince(seq)
	merged := false
	for _, e := range events {
		if e.Type == identity.EventMerged {
			merged = true
			if e.Cause.Kind != identity.CauseRuleChange || e.Cause.Rule != rule.ID {
				t.Errorf("the merge of a and b is caused by %+v, want RULE_CHANGE by rule %s", e.Cause, rule.ID)
			}
		}
	}
	if !merged {
		t.Errorf("adding the rule merged nothing: %+v", events)
	}
}
