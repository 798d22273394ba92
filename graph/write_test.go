package graph_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

func importOps() []graph.Op {
	client := func(line int, id, kind string, kv ...string) graph.Op {
		in := identity.ClientInput{ID: id, Channel: identity.Channel{Kind: kind, Account: "acme"}}
		for i := 0; i+1 < len(kv); i += 2 {
			in.Attributes = append(in.Attributes, identity.AttributeInput{Field: kv[i], Value: kv[i+1], Source: identity.SourceImport})
		}
		return graph.Op{Line: line, EventID: fmt.Sprint("e", line), Kind: graph.OpUpsertClient, Client: in}
	}
	attr := func(line int, kind graph.OpKind, id, field, value string) graph.Op {
		return graph.Op{Line: line, EventID: fmt.Sprint("e", line), Kind: kind, ClientID: id,
			Attribute: identity.AttributeInput{Field: field, Value: value, Source: identity.SourceImport}}
	}
	return []graph.Op{
		client(1, "a", "web", "phone", "8 916 123 45 67"),
		client(2, "b", "telegram", "phone", "12345"),          // applied without its invalid phone
		attr(3, graph.OpAddAttribute, "z", "email", "b@x.ru"), // refused: z does not exist
		client(4, "b", "telegram", "email", "B@X.ru"),
		attr(5, graph.OpAddAttribute, "b", "phone", "+79161234567"),
		client(6, "c", "vk", "email", "b@x.ru"),
		attr(7, graph.OpRemoveAttribute, "c", "email", "b@x.ru"),
		client(8, "d", "vk"),
		attr(9, graph.OpAddAttribute, "d", "email", "b@x.ru"),
	}
}

func checkImported(t *testing.T, f *fixture, res graph.WriteResult) {
	t.Helper()
	if res.Applied != 8 || len(res.Refused) != 1 || res.Refused[0].Line != 3 || len(res.Warnings) != 1 || res.Warnings[0].Line != 2 {
		t.Fatalf("result = %+v", res)
	}
	if identity.ErrorCode(res.Refused[0].Err) != identity.CodeNotFound || identity.ErrorCode(res.Warnings[0].Err) != identity.CodeInvalidPhone ||
		!res.Warnings[0].Applied {
		t.Errorf("refused %v, values refused %v", res.Refused, res.Warnings)
	}
	f.wantGroups([][]string{{"a", "b", "d"}, {"c"}}, "a", "b", "c", "d")
}

func TestWriteAppliesOpsInOrderAndReportsRefusedLines(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	res, err := f.s.Write(f.ctx, f.project, importOps(), graph.WriteOptions{Resolve: true})
	if err != nil {
		t.Fatal(err)
	}
	checkImported(t, f, res)
	events := len(published.of(f.project))
	again, err := f.s.Write(f.ctx, f.project, importOps(), graph.WriteOptions{Resolve: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped != 9 || again.Applied != 0 || len(again.Refused) != 0 {
		t.Errorf("second import = %+v, want all 9 lines skipped", again)
	}
	f.wantGroups([][]string{{"a", "b", "d"}, {"c"}}, "a", "b", "c", "d")
	if n := len(published.of(f.project)); n != events {
		t.Errorf("second import emitted %d events", n-events)
	}
}

func TestBulkWriteIsResolvedByTheBatchPath(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	if err := f.s.BeginBulk(f.ctx, f.project); err != nil {
		t.Fatal(err)
	}
	ops := importOps()
	for _, part := range [][]graph.Op{ops[:4], ops[4:]} { // two batches
		if _, err := f.s.Write(f.ctx, f.project, part, graph.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := f.s.Project(f.ctx, f.project)
	if p.Resolution.State != identity.ResolutionRunning {
		t.Errorf("state during a bulk import = %s, want RUNNING", p.Resolution.State)
	}
	f.settle()
	f.wantGroups([][]string{{"a", "b", "d"}, {"c"}}, "a", "b", "c", "d")
	var created, merged int
	for _, e := range published.of(f.project) {
		switch e.Type {
		case identity.EventCreated:
			created++
		case identity.EventMerged:
			merged++
		}
	}
	if created != 2 || merged != 0 {
		t.Errorf("bulk import events: %d CREATED, %d MERGED; want one CREATED per multi-contact", created, merged)
	}
}

// A merge that a value brings about says which value, as stored.
func TestAMergeNamesTheValueThatCausedIt(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("b", "telegram")
	_, seq := f.eventsSince(0)
	f.set("b", "phone", "8 (916) 123-45-67")
	events, _ := f.eventsSince(seq)
	if len(events) != 1 || events[0].Type != identity.EventMerged {
		t.Fatalf("events = %+v, want one MERGED", events)
	}
	if c := events[0].Cause; c.Action != "setAttribute" || c.Field != "phone" || c.Value != "+79161234567" || c.Client != "b" {
		t.Errorf("cause = %+v, want b's setAttribute of phone +79161234567", c)
	}
}

// A client that holds many values matches on every one of them: a rule of
// one field keys each value up to the project's cap, and a rule of two
// fields every combination of them.
func TestAClientWithManyValuesMatchesOnTheLastOfThem(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email", "skype"})
	hundred := 100
	f.configure(identity.Settings{ValueCap: &hundred})
	var kv []string
	for i := range 70 {
		kv = append(kv, "phone", fmt.Sprintf("+791612345%02d", i))
	}
	for i := range 9 {
		kv = append(kv, "email", fmt.Sprintf("u%d@example.com", i), "skype", fmt.Sprintf("s%d", i))
	}
	f.client("a", "web", kv...)
	f.client("b", "telegram", "phone", "+79161234569")
	f.client("c", "vk", "email", "u8@example.com", "skype", "s8")
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")

	// Past the bound of keys per rule, the value is refused, not dropped.
	kv = nil
	for i := range 32 {
		kv = append(kv, "email", fmt.Sprintf("d%d@example.com", i), "skype", fmt.Sprintf("d%d", i))
	}
	f.client("d", "web", kv[:len(kv)-2]...) // 32 e-mails, 31 skypes: 992 combinations
	_, err := f.s.SetAttribute(f.ctx, f.project, "d", identity.AttributeInput{Field: "email", Value: "more@example.com", Source: identity.SourceBot})
	var e *identity.Error
	if !errors.As(err, &e) || e.Code != identity.CodeTooManyValues || e.Field != "email" {
		t.Fatalf("a 33rd e-mail beside 31 skypes: %v, want TOO_MANY_VALUES on email", err)
	}
	if held, _ := f.attribute("d", "email", "more@example.com"); held {
		t.Errorf("the refused e-mail was stored")
	}
}

// The events of a small import name the line that wrote to their clients,
// as a write through the API does: its client, its field and its value.
func TestAnImportsEventsNameTheLineThatCausedThem(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("b", "telegram")
	_, seq := f.eventsSince(0)
	ops := []graph.Op{
		{Line: 1, Kind: graph.OpUpsertClient, Client: identity.ClientInput{ID: "c", Channel: identity.Channel{Kind: "vk", Account: "main"}}},
		{Line: 2, Kind: graph.OpAddAttribute, ClientID: "b", Attribute: identity.AttributeInput{Field: "phone", Value: "8 916 123-45-67", Source: identity.SourceImport}},
	}
	if res, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{Resolve: true}); err != nil || len(res.Refused) > 0 {
		t.Fatalf("write: %v %v", err, res.Refused)
	}
	events, _ := f.eventsSince(seq)
	merged := false
	for _, e := range events {
		if e.Type != identity.EventMerged {
			continue
		}
		merged = true
		if c := e.Cause; c.Action != "setAttribute" || c.Client != "b" || c.Field != "phone" || c.Value != "+79161234567" {
			t.Errorf("the merge of a and b is caused by %+v, want line 2: setAttribute of b's phone +79161234567", c)
		}
	}
	if !merged {
		t.Fatalf("no merge: %+v", events)
	}
}

// An op skipped because its event id was seen before wrote nothing: an
// event of its batch is not attributed to it.
func TestAnImportsEventsPassOverALineSeenBefore(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("b", "telegram")
	email := graph.Op{Line: 1, EventID: "e1", Kind: graph.OpAddAttribute, ClientID: "b",
		Attribute: identity.AttributeInput{Field: "email", Value: "b@example.com", Source: identity.SourceImport}}
	if _, err := f.s.Write(f.ctx, f.project, []graph.Op{email}, graph.WriteOptions{Resolve: true}); err != nil {
		t.Fatal(err)
	}
	_, seq := f.eventsSince(0)
	phone := graph.Op{Line: 2, EventID: "e2", Kind: graph.OpAddAttribute, ClientID: "b",
		Attribute: identity.AttributeInput{Field: "phone", Value: "+79161234567", Source: identity.SourceImport}}
	res, err := f.s.Write(f.ctx, f.project, []graph.Op{email, phone}, graph.WriteOptions{Resolve: true})
	if err != nil || res.Skipped != 1 {
		t.Fatalf("write: %v, %d skipped, want the e-mail's line skipped", err, res.Skipped)
	}
	events, _ := f.eventsSince(seq)
	for _, e := range events {
		if e.Type == identity.EventMerged && (e.Cause.Field != "phone" || e.Cause.Value != "+79161234567") {
			t.Errorf("the merge of a and b is caused by %+v, want line 2, b's phone", e.Cause)
		}
	}
}

// A verified value given verified again changes nothing: no event, and an
// import does not count its client as changed.
func TestAVerifiedValueGivenVerifiedAgainChangesNothing(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web")
	give := identity.AttributeInput{Field: "phone", Value: "+79161234567", Source: identity.SourceBot, Verified: true}
	if _, err := f.s.SetAttribute(f.ctx, f.project, "a", give); err != nil {
		t.Fatal(err)
	}
	_, seq := f.eventsSince(0)
	if _, err := f.s.SetAttribute(f.ctx, f.project, "a", give); err != nil {
		t.Fatal(err)
	}
	if events, _ := f.eventsSince(seq); len(events) != 0 {
		t.Errorf("giving a verified value again made events %+v, want none", events)
	}
	res, err := f.s.Write(f.ctx, f.project, []graph.Op{{Line: 1, Kind: graph.OpAddAttribute, ClientID: "a", Attribute: give}},
		graph.WriteOptions{Resolve: true})
	if err != nil || res.Applied != 1 || res.Changed != 0 {
		t.Errorf("an import line giving it again: %+v, %v; want applied, 0 changed", res, err)
	}
	if events, _ := f.eventsSince(seq); len(events) != 0 {
		t.Errorf("an import line giving it again made events %+v, want none", events)
	}
}
