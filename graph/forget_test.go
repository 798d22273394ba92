package graph_test

import (
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

// Forgetting a person leaves none of their values in the log: not one
// they gave and took back while they shared another person's
// multi-contact, whose events stay with that person's own values.
func TestForgettingAPersonBlanksTheValuesTheirEarlierEventsNamed(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("q", "web", "phone", "+79161234567")
	f.client("p", "telegram", "phone", "+79161234567")
	f.set("q", "email", "quinn@example.com") // q's own, on the multi-contact they share
	f.set("p", "skype", "paul.private")
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "skype", "paul.private"); err != nil {
		t.Fatal(err)
	}
	f.set("p", "phone", "+79169998877") // a match key of its own, then nobody's
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "phone", "+79169998877"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "phone", "+79161234567"); err != nil { // p leaves q's multi-contact
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"q"}, {"p"}}, "q", "p")
	before, _ := f.eventsSince(0)
	named := 0
	for _, e := range before {
		if e.Cause.Value == "paul.private" {
			named++
		}
	}
	if named == 0 {
		t.Fatalf("no event names the value before the forget: %+v", before)
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("p")); err != nil {
		t.Fatal(err)
	}
	after, _ := f.eventsSince(0)
	kept := false
	for _, e := range after {
		if e.Cause.Value == "paul.private" {
			t.Errorf("after the forget, event %d (%s of %s) still names %q", e.Seq, e.Type, e.MultiContactID, e.Cause.Value)
		}
		kept = kept || e.Cause.Value == "quinn@example.com"
	}
	if !kept {
		t.Errorf("forgetting p blanked the cause of q's own e-mail: %+v", after)
	}
	// Nor do the graph's nodes keep them: the values p gave and took back,
	// and the keys made of them, which nobody held any more.
	for _, left := range f.nodesNaming("paul.private", "+79169998877") {
		t.Errorf("after the forget, the graph still holds %s", left)
	}
}

// nodesNaming lists the project's Value and MatchKey nodes that name one
// of values, as "label value-or-key".
func (f *fixture) nodesNaming(values ...string) []string {
	f.t.Helper()
	res, err := neo4j.ExecuteQuery(f.ctx, graphtest.Driver(f.t), `
		MATCH (n) WHERE (n:Value OR n:MatchKey) AND n.project = $project
			AND (n.value IN $values OR any(v IN $values WHERE n.key CONTAINS v))
		RETURN labels(n)[0] + ' ' + coalesce(n.value, n.key) AS left ORDER BY left`,
		map[string]any{"project": f.project, "values": values},
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(graphtest.Config().Database))
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, rec := range res.Records {
		left, _ := rec.Get("left")
		out = append(out, left.(string))
	}
	return out
}

// A value taken away from its last holder leaves no node behind, nor do
// the keys made of it, whatever wrote it (here an import, whose events
// name no value): a later forget of the person could not find them. A
// value another client still holds stays, with its key.
func TestAValueTakenFromItsLastHolderLeavesNothingBehind(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("p", "web")
	f.client("q", "telegram", "email", "shared@example.com")
	op := func(line int, kind graph.OpKind, value string) graph.Op {
		return graph.Op{Line: line, Kind: kind, ClientID: "p",
			Attribute: identity.AttributeInput{Field: "email", Value: value, Source: identity.SourceImport}}
	}
	for _, ops := range [][]graph.Op{
		{op(1, graph.OpAddAttribute, "paul@example.com"), op(2, graph.OpAddAttribute, "shared@example.com")},
		{op(1, graph.OpRemoveAttribute, "paul@example.com"), op(2, graph.OpRemoveAttribute, "shared@example.com")},
	} {
		if res, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{Resolve: true}); err != nil || len(res.Refused) > 0 {
			t.Fatalf("write: %v %v", err, res.Refused)
		}
	}
	if left := f.nodesNaming("paul@example.com"); len(left) > 0 {
		t.Errorf("after its only holder lost it, the graph still holds %v", left)
	}
	if left := f.nodesNaming("shared@example.com"); len(left) != 2 {
		t.Errorf("the value q still holds: %v, want its Value and its MatchKey", left)
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("q")); err != nil {
		t.Fatal(err)
	}
	f.client("r", "vk", "email", "paul@example.com") // given again: a new node, a new key
	if left := f.nodesNaming("paul@example.com"); len(left) != 2 {
		t.Errorf("a value given again after it was deleted: %v, want its Value and its MatchKey", left)
	}
}

// A removed client takes with it the values and keys nobody else holds.
func TestARemovedClientLeavesNoValueOnlyItHeld(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("p", "web", "email", "paul@example.com", "email", "shared@example.com")
	f.client("q", "telegram", "email", "shared@example.com")
	if err := f.s.RemoveClient(f.ctx, f.project, "p"); err != nil {
		t.Fatal(err)
	}
	if left := f.nodesNaming("paul@example.com"); len(left) > 0 {
		t.Errorf("after its only holder was removed, the graph still holds %v", left)
	}
	if left := f.nodesNaming("shared@example.com"); len(left) != 2 {
		t.Errorf("the value q still holds: %v, want its Value and its MatchKey", left)
	}
}

// Forgetting a person erases the keys made of their values even where
// they held none: an excluded client's keys, which it no longer matches.
func TestForgettingAnExcludedClientLeavesNoKeyOfItsValues(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("p", "web", "email", "paul@example.com")
	if err := f.s.ExcludeClient(f.ctx, f.project, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("p")); err != nil {
		t.Fatal(err)
	}
	if left := f.nodesNaming("paul@example.com"); len(left) > 0 {
		t.Errorf("after the forget, the graph still holds %v", left)
	}
}

// Forgetting a person who once gave a value that others still hold leaves
// that value and the decisions on its keys alone, even while no rule gives
// the key holders.
func TestForgettingAPersonKeepsTheKeysOfValuesOthersHold(t *testing.T) {
	f := newFixture(t)
	two := 2
	f.configure(identity.Settings{KeyCap: &two})
	rule := f.addRule("phone", "phone")
	for _, id := range []string{"q", "r", "s"} { // an office phone, allowed
		f.client(id, "web", "phone", "+74951234567")
	}
	f.allow("phone", "+74951234567")
	f.client("p", "telegram")
	f.set("p", "phone", "+74951234567") // given and taken back
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "phone", "+74951234567"); err != nil {
		t.Fatal(err)
	}
	rule.Enabled = false // the allowed key is held by nobody for a while
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("p")); err != nil {
		t.Fatal(err)
	}
	rule.Enabled = true
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups([][]string{{"q", "r", "s"}}, "q", "r", "s")
}

// A value blocked while nobody held it, then unblocked, leaves no node:
// only the block list kept it.
func TestAnUnblockedValueNobodyHoldsLeavesNothingBehind(t *testing.T) {
	f := newFixture(t, []string{"email"})
	if _, err := f.s.BlockValue(f.ctx, f.project, "email", "office@example.com"); err != nil {
		t.Fatal(err)
	}
	if left := f.nodesNaming("office@example.com"); len(left) != 1 {
		t.Errorf("a blocked value: %v, want its Value node on the block list", left)
	}
	if _, err := f.s.UnblockValue(f.ctx, f.project, "email", "office@example.com"); err != nil {
		t.Fatal(err)
	}
	if left := f.nodesNaming("office@example.com"); len(left) > 0 {
		t.Errorf("after the unblock, the graph still holds %v", left)
	}
}

// A key that nobody holds any more (its client excluded) goes when the
// value it is made of goes, so a later forget finds nothing: the forget
// does not learn of a value its person no longer holds.
func TestAKeyNobodyHeldGoesWithItsValue(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("p", "web", "email", "paul@example.com")
	if err := f.s.ExcludeClient(f.ctx, f.project, "p"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "email", "paul@example.com"); err != nil {
		t.Fatal(err)
	}
	if left := f.nodesNaming("paul@example.com"); len(left) > 0 {
		t.Errorf("after its only holder lost it, the graph still holds %v", left)
	}
}

// One batch that takes a value from both its holders deletes it once,
// with its key.
func TestAValueTakenFromTwoHoldersInOneBatchGoes(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("p", "web", "email", "shared@example.com")
	f.client("q", "telegram", "email", "shared@example.com")
	remove := func(line int, client string) graph.Op {
		return graph.Op{Line: line, Kind: graph.OpRemoveAttribute, ClientID: client,
			Attribute: identity.AttributeInput{Field: "email", Value: "shared@example.com"}}
	}
	res, err := f.s.Write(f.ctx, f.project, []graph.Op{remove(1, "p"), remove(2, "q")}, graph.WriteOptions{Resolve: true})
	if err != nil || len(res.Refused) > 0 {
		t.Fatalf("write: %v %v", err, res.Refused)
	}
	if left := f.nodesNaming("shared@example.com"); len(left) > 0 {
		t.Errorf("after both holders lost it, the graph still holds %v", left)
	}
	f.wantGroups([][]string{{"p"}, {"q"}}, "p", "q")
}

// A removed client's key whose values others still hold stays, with what
// was decided on it, for its next holders; a forget would erase it.
func TestARemovedClientLeavesAKeyWhoseValuesOthersHold(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("p", "web", "email", "shared@example.com")
	f.client("q", "telegram", "email", "shared@example.com")
	if err := f.s.ExcludeClient(f.ctx, f.project, "q"); err != nil { // p alone holds the key
		t.Fatal(err)
	}
	if err := f.s.RemoveClient(f.ctx, f.project, "p"); err != nil {
		t.Fatal(err)
	}
	if left := f.nodesNaming("shared@example.com"); len(left) != 2 {
		t.Errorf("after p was removed: %v, want the value q holds and its key", left)
	}
}

// A forget rewrites only the events that named the person's values: not
// another person's event naming the same text in another field, nor the
// events that name no value at all (most of a project's log).
func TestAForgetRewritesOnlyTheEventsThatNamedThePersonsValues(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web")
	f.client("b", "telegram")
	f.set("a", "externalId", "12345")
	f.set("b", "contract", "12345")
	unnamed := func() int64 {
		res, err := neo4j.ExecuteQuery(f.ctx, graphtest.Driver(f.t), `MATCH (e:Event {project: $project})
			WHERE e.causeClient = 'b' AND e.causeValue = '' RETURN count(e) AS n`,
			map[string]any{"project": f.project}, neo4j.EagerResultTransformer)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.Records[0].Get("n")
		return n.(int64)
	}
	before := unnamed()
	if before == 0 {
		t.Fatal("b has no event that names no value: the test shows nothing")
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("a")); err != nil {
		t.Fatal(err)
	}
	if after := unnamed(); after != before {
		t.Errorf("forgetting a rewrote %d of b's events that name no value", before-after)
	}
	events, _ := f.eventsSince(0)
	kept := false
	for _, e := range events {
		kept = kept || e.Cause.Field == "contract" && e.Cause.Value == "12345"
	}
	if !kept {
		t.Errorf("forgetting a's externalId 12345 blanked b's contract 12345: %+v", events)
	}
}

// A key that nobody holds, made of the person's values alone, goes with
// them even where each value stays: here the e-mail another client holds
// and the blocked phone (the block list keeps it). The key would say
// which phone went with that e-mail.
func TestAForgetLeavesNoKeyOfThePersonsValuesThatNobodyHolds(t *testing.T) {
	f := newFixture(t, []string{"email", "phone"})
	const email, phone = "ivan@example.com", "+79161234567"
	f.client("p", "web", "email", email, "phone", phone)
	f.client("o", "telegram", "email", email)
	if _, err := f.s.BlockValue(f.ctx, f.project, "phone", phone); err != nil {
		t.Fatal(err)
	}
	keys := func() []string {
		var out []string
		for _, n := range f.nodesNaming(phone) {
			if strings.HasPrefix(n, "MatchKey") {
				out = append(out, n)
			}
		}
		return out
	}
	if len(keys()) == 0 {
		t.Fatal("no key of the e-mail and the phone before the forget: the test shows nothing")
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("p")); err != nil {
		t.Fatal(err)
	}
	if left := keys(); len(left) > 0 {
		t.Errorf("after the forget, the graph still holds %v", left)
	}
}

// A quarantine event that names a key of the person's values alone loses
// the key with them, even when the event is another multi-contact's (the
// client whose write passed the cap) and each value stays.
func TestAForgetBlanksAQuarantineNamingThePersonsValuesAlone(t *testing.T) {
	f := newFixture(t, []string{"email", "phone"})
	two := 2
	f.configure(identity.Settings{KeyCap: &two})
	const email, phone = "ivan@example.com", "+79161234567"
	for _, id := range []string{"x", "p", "y"} { // y's write passes the cap
		f.client(id, "web", "email", email, "phone", phone)
	}
	for _, id := range []string{"x", "y"} {
		if err := f.s.RemoveAttribute(f.ctx, f.project, id, "phone", phone); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.BlockValue(f.ctx, f.project, "phone", phone); err != nil {
		t.Fatal(err)
	}
	named := func() []int64 {
		events, _ := f.eventsSince(0)
		var out []int64
		for _, e := range events {
			if e.Quarantined != nil && strings.Contains(e.Quarantined.Key, phone) {
				out = append(out, e.Seq)
			}
		}
		return out
	}
	if len(named()) == 0 {
		t.Fatal("no quarantine event names the key before the forget: the test shows nothing")
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("p")); err != nil {
		t.Fatal(err)
	}
	if left := named(); len(left) > 0 {
		t.Errorf("after the forget, events %v still name the key of p's e-mail and phone", left)
	}
}
