package graph_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

var projectSeq atomic.Int64

// recorder reads back what subscribers receive: the project's event log
// (the broker's tests check the delivery itself).
type recorder struct {
	mu    sync.Mutex
	store *graph.Store
}

func (r *recorder) of(project string) []identity.Event {
	r.mu.Lock()
	s := r.store
	r.mu.Unlock()
	var out []identity.Event
	for {
		var after int64
		if len(out) > 0 {
			after = out[len(out)-1].Seq
		}
		page, err := s.EventsAfter(context.Background(), project, after, 1000)
		if err != nil {
			panic(fmt.Sprintf("read the event log of %s: %v", project, err))
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
	}
}

var published = &recorder{}

// openStore returns the store shared by the package's tests.
func openStore(t testing.TB) *graph.Store {
	t.Helper()
	s := graphtest.Store(t)
	published.mu.Lock()
	published.store = s
	published.mu.Unlock()
	return s
}

// fixture is one test's own project.
type fixture struct {
	t       testing.TB
	ctx     context.Context
	s       *graph.Store
	project string
}

func newFixture(t testing.TB, rules ...[]string) *fixture {
	t.Helper()
	s := openStore(t)
	f := &fixture{t: t, ctx: context.Background(), s: s,
		project: fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, projectSeq.Add(1))}
	if _, err := s.CreateProject(f.ctx, f.project, t.Name(), "RU"); err != nil {
		t.Fatalf("create project: %v", err)
	}
	for i, fields := range rules {
		f.addRule(fmt.Sprintf("rule %d", i), fields...)
	}
	s.WaitBackground(f.project) // what the test does next is its own
	return f
}

func (f *fixture) addRule(name string, fields ...string) identity.Rule {
	f.t.Helper()
	r, err := f.s.AddRule(f.ctx, f.project, identity.Rule{Name: name, Fields: fields, Enabled: true})
	if err != nil {
		f.t.Fatalf("add rule %v: %v", fields, err)
	}
	f.settle()
	return r
}

// configure changes the project's settings and waits for the
// re-resolution they may start.
func (f *fixture) configure(set identity.Settings) {
	f.t.Helper()
	if _, err := f.s.UpdateProjectSettings(f.ctx, f.project, set); err != nil {
		f.t.Fatalf("update settings: %v", err)
	}
	f.settle()
}

// settle waits until the project's re-resolution is done, doing it itself
// unless another store (a test server, another test binary) holds it.
func (f *fixture) settle() {
	f.t.Helper()
	if err := f.s.WaitResolved(f.ctx, f.project); err != nil {
		f.t.Fatalf("re-resolve: %v", err)
	}
	p, err := f.s.Project(f.ctx, f.project)
	if err != nil {
		f.t.Fatal(err)
	}
	if p.Resolution.State != identity.ResolutionIdle {
		f.t.Fatalf("state after re-resolve = %s, want IDLE", p.Resolution.State)
	}
}

// client creates a client on channel kind with field=value pairs.
func (f *fixture) client(id, kind string, kv ...string) identity.Client {
	f.t.Helper()
	in := identity.ClientInput{ID: id, Channel: identity.Channel{Kind: kind, Account: "acme"}, ChannelUserID: "u-" + id}
	for i := 0; i+1 < len(kv); i += 2 {
		in.Attributes = append(in.Attributes, identity.AttributeInput{Field: kv[i], Value: kv[i+1], Source: identity.SourceOperator})
	}
	if _, err := f.s.UpsertClient(f.ctx, f.project, in); err != nil {
		f.t.Fatalf("upsert %s: %v", id, err)
	}
	c, err := f.s.Client(f.ctx, f.project, id)
	if err != nil {
		f.t.Fatalf("read %s: %v", id, err)
	}
	return c
}

func (f *fixture) set(id, field, value string) {
	f.t.Helper()
	if _, err := f.s.SetAttribute(f.ctx, f.project, id, identity.AttributeInput{Field: field, Value: value, Source: identity.SourceBot}); err != nil {
		f.t.Fatalf("set %s %s=%s: %v", id, field, value, err)
	}
}

func (f *fixture) mc(id string) string {
	f.t.Helper()
	c, err := f.s.Client(f.ctx, f.project, id)
	if err != nil {
		f.t.Fatalf("client %s: %v", id, err)
	}
	if c.MultiContactID == "" {
		f.t.Fatalf("client %s has no multi-contact", id)
	}
	return c.MultiContactID
}

// groups returns the clients' multi-contacts as sets, e.g. [[a b] [c]].
func (f *fixture) groups(ids ...string) [][]string {
	f.t.Helper()
	by := map[string][]string{}
	var order []string
	for _, id := range ids {
		mc := f.mc(id)
		if by[mc] == nil {
			order = append(order, mc)
		}
		by[mc] = append(by[mc], id)
	}
	out := make([][]string, len(order))
	for i, mc := range order {
		out[i] = by[mc]
	}
	return out
}

func (f *fixture) wantGroups(want [][]string, ids ...string) {
	f.t.Helper()
	if got := f.groups(ids...); fmt.Sprint(got) != fmt.Sprint(want) {
		f.t.Errorf("multi-contacts = %v, want %v", got, want)
	}
	f.checkSizes()
}

// checkSizes asserts that every multi-contact's size is its member count.
func (f *fixture) checkSizes() {
	f.t.Helper()
	seen := map[string]bool{}
	dump, err := f.s.DumpProject(f.ctx, f.project)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range dump.Clients {
		if seen[c.MultiContactID] {
			continue
		}
		seen[c.MultiContactID] = true
		mc, err := f.s.MultiContact(f.ctx, f.project, c.MultiContactID)
		if err != nil {
			f.t.Fatalf("multi-contact %s of %s: %v", c.MultiContactID, c.ID, err)
		}
		if mc.Size != len(mc.Clients) {
			f.t.Errorf("multi-contact %s: size %d, members %d", mc.ID, mc.Size, len(mc.Clients))
		}
	}
}

func TestOneFieldRuleMergesEveryClientWithTheValue(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("web-1", "web", "phone", "8 (916) 123-45-67")
	f.client("tg-1", "telegram", "phone", "+7 916 123 45 67")
	f.client("wa-1", "whatsapp", "phone", "79161234567")
	f.client("vk-1", "vk", "phone", "+7 916 000 00 01")
	f.wantGroups([][]string{{"web-1", "tg-1", "wa-1"}, {"vk-1"}}, "web-1", "tg-1", "wa-1", "vk-1")
}

func TestSeveralFieldsInOneRuleMustAllMatch(t *testing.T) {
	f := newFixture(t, []string{"phone", "email"})
	f.client("a", "web", "phone", "+79161234567", "email", "Ann@Example.com")
	f.client("b", "telegram", "phone", "89161234567", "email", "ann@example.com")
	f.client("c", "vk", "phone", "+79161234567", "email", "other@example.com")
	f.client("d", "vk", "email", "ann@example.com")
	f.wantGroups([][]string{{"a", "b"}, {"c"}, {"d"}}, "a", "b", "c", "d")
}

func TestSeveralRulesMergeOnEitherAndTransitively(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	f.client("web", "web", "phone", "+79161234567")
	f.client("tg", "telegram", "phone", "8 916 123 45 67", "email", "p@example.com")
	f.client("mail", "email", "email", "P@EXAMPLE.COM")
	f.client("alone", "instagram", "email", "q@example.com")
	f.wantGroups([][]string{{"web", "tg", "mail"}, {"alone"}}, "web", "tg", "mail", "alone")
}

func TestRemovingTheLinkingValueSplitsAndTheOldestKeepsTheID(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	f.client("first", "web", "phone", "+79161234567")
	f.client("second", "telegram", "phone", "+79161234567", "email", "x@example.com")
	f.client("third", "email", "email", "x@example.com")
	id := f.mc("first")
	f.wantGroups([][]string{{"first", "second", "third"}}, "first", "second", "third")
	if err := f.s.RemoveAttribute(f.ctx, f.project, "second", "phone", "8 916 123-45-67"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"first"}, {"second", "third"}}, "first", "second", "third")
	if got := f.mc("first"); got != id {
		t.Errorf("after the split the oldest member's part has %s, want the old id %s", got, id)
	}
	events := published.of(f.project)
	last := events[len(events)-1]
	if last.Type != identity.EventSplit || last.MultiContactID != id || len(last.NewIDs) != 1 || last.NewIDs[0] != f.mc("second") {
		t.Errorf("last event = %+v, want SPLIT of %s into %s", last, id, f.mc("second"))
	}
	if last.Cause.Action != "removeAttribute" || last.Cause.Field != "phone" {
		t.Errorf("cause = %+v", last.Cause)
	}
}

func TestMergeKeepsTheLargerIDAndTheAbsorbedIDStillResolves(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("small", "web", "phone", "+79160000001")
	f.client("big1", "telegram", "phone", "+79160000002")
	f.client("big2", "vk", "phone", "+79160000002")
	small, big := f.mc("small"), f.mc("big1")
	f.set("small", "phone", "+79160000002")
	if got := f.mc("small"); got != big {
		t.Fatalf("merged into %s, want the larger multi-contact %s", got, big)
	}
	mc, err := f.s.MultiContact(f.ctx, f.project, small)
	if err != nil {
		t.Fatalf("absorbed id: %v", err)
	}
	if mc.ID != big || mc.Size != 3 || !slices.Contains(mc.Aliases, small) {
		t.Errorf("absorbed id resolves to %s size %d aliases %v, want %s size 3 with alias %s", mc.ID, mc.Size, mc.Aliases, big, small)
	}
	events := published.of(f.project)
	last := events[len(events)-1]
	if last.Type != identity.EventMerged || last.MultiContactID != big || fmt.Sprint(last.PreviousIDs) != fmt.Sprint([]string{small}) {
		t.Errorf("last event = %+v, want MERGED %s absorbing %s", last, big, small)
	}
	stored, err := f.s.Events(f.ctx, f.project, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(events) {
		t.Fatalf("stored %d events, published %d", len(stored), len(events))
	}
	for i := range stored {
		if stored[i].Seq != int64(i+1) || stored[i].Type != events[i].Type || stored[i].MultiContactID != events[i].MultiContactID {
			t.Errorf("event %d: stored %+v, published %+v", i, stored[i], events[i])
		}
	}
	rest, err := f.s.Events(f.ctx, f.project, graph.Cursor(stored[1].Seq), 100)
	if err != nil || len(rest) != len(stored)-2 {
		t.Errorf("events after cursor %d: %d (%v), want %d", stored[1].Seq, len(rest), err, len(stored)-2)
	}
}

func TestAMergeOfEqualSizesKeepsTheOlderID(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("older", "web", "email", "a@example.com")
	f.client("newer", "vk", "email", "b@example.com")
	older := f.mc("older")
	f.set("newer", "email", "a@example.com")
	if got := f.mc("newer"); got != older {
		t.Errorf("merged into %s, want the older %s", got, older)
	}
}

func TestRuleChangesReresolveTheProject(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567", "email", "a@example.com")
	f.client("b", "vk", "phone", "+79161234567")
	f.client("c", "telegram", "email", "A@example.com")
	f.wantGroups([][]string{{"a", "b"}, {"c"}}, "a", "b", "c")
	ab := f.mc("a")

	email := f.addRule("by email", "email") // values kept before the rule now link
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
	if f.mc("c") != ab {
		t.Errorf("the larger multi-contact's id should survive the rule change")
	}

	email.Enabled = false
	if _, err := f.s.UpdateRule(f.ctx, f.project, email); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups([][]string{{"a", "b"}, {"c"}}, "a", "b", "c")

	rules, _ := f.s.Rules(f.ctx, f.project)
	for _, r := range rules {
		if slices.Equal(r.Fields, []string{"phone"}) {
			if err := f.s.RemoveRule(f.ctx, f.project, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.settle()
	f.wantGroups([][]string{{"a"}, {"b"}, {"c"}}, "a", "b", "c")
	if f.mc("a") != ab {
		t.Errorf("the part holding the oldest member should keep %s, has %s", ab, f.mc("a"))
	}
}

func TestBlockedValueStopsLinking(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("a", "web", "email", "test@test.com")
	f.client("b", "vk", "email", "test@test.com")
	f.wantGroups([][]string{{"a", "b"}}, "a", "b")
	if _, err := f.s.BlockValue(f.ctx, f.project, "email", " TEST@test.com"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a"}, {"b"}}, "a", "b")
	f.client("c", "vk", "email", "test@test.com")
	f.wantGroups([][]string{{"a"}, {"b"}, {"c"}}, "a", "b", "c")
	if _, err := f.s.UnblockValue(f.ctx, f.project, "email", "test@test.com"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
}

func TestKeyOverTheCapIsQuarantinedUntilAllowed(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	cap := 2
	f.configure(identity.Settings{KeyCap: &cap})
	f.client("a", "web", "phone", "+74951234567")
	f.client("b", "vk", "phone", "+74951234567")
	f.wantGroups([][]string{{"a", "b"}}, "a", "b")
	before, err := f.s.LastSeq(f.ctx, f.project)
	if err != nil {
		t.Fatal(err)
	}
	f.client("c", "telegram", "phone", "+74951234567")
	f.wantGroups([][]string{{"a"}, {"b"}, {"c"}}, "a", "b", "c")
	// The project is told at once, in its log: which key, how many hold it.
	events, err := f.s.EventsAfter(f.ctx, f.project, before, 100)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []identity.Event
	for _, e := range events {
		if e.Type == identity.EventQuarantined {
			alerts = append(alerts, e)
		}
	}
	if len(alerts) != 1 {
		t.Fatalf("QUARANTINED events after the third holder's write: %d, want 1 (%+v)", len(alerts), events)
	}
	q := alerts[0]
	if q.Quarantined == nil || q.Quarantined.Size != 3 || len(q.Quarantined.Parts) != 1 ||
		q.Quarantined.Parts[0] != (identity.KeyPart{Field: "phone", Value: "+74951234567"}) || q.Quarantined.Since.IsZero() {
		t.Errorf("QUARANTINED carries %+v, want the phone's key held by 3 clients, with its time", q.Quarantined)
	}
	if q.MultiContactID != f.mc("c") || !slices.Equal(q.ClientIDs, []string{"a", "b", "c"}) || q.Cause.Action != "upsertClient" {
		t.Errorf("QUARANTINED on %s with clients %v caused by %q, want c's multi-contact %s, a b c, upsertClient",
			q.MultiContactID, q.ClientIDs, q.Cause.Action, f.mc("c"))
	}
	keys, err := f.s.QuarantinedKeys(f.ctx, f.project)
	if err != nil || len(keys) != 1 || keys[0].Size != 3 || keys[0].Parts[0] != (identity.KeyPart{Field: "phone", Value: "+74951234567"}) {
		t.Fatalf("quarantined keys = %+v, %v", keys, err)
	}
	if err := f.s.AllowKey(f.ctx, f.project, keys[0].Rule, keys[0].Key); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
	if keys, _ := f.s.QuarantinedKeys(f.ctx, f.project); len(keys) != 0 {
		t.Errorf("still quarantined: %+v", keys)
	}
}

func TestRaisingTheCapFreesAQuarantinedKey(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	two, ten := 2, 10
	f.configure(identity.Settings{KeyCap: &two})
	for _, id := range []string{"a", "b", "c"} {
		f.client(id, "web", "phone", "+74951234567")
	}
	f.wantGroups([][]string{{"a"}, {"b"}, {"c"}}, "a", "b", "c")
	f.configure(identity.Settings{KeyCap: &ten})
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
}

func TestExcludedClientNeverLinks(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("bot", "vk", "phone", "+79161234567")
	f.client("c", "telegram", "phone", "+79161234567")
	if err := f.s.LinkClients(f.ctx, f.project, "bot", "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.ExcludeClient(f.ctx, f.project, "bot"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "c"}, {"bot"}}, "a", "bot", "c")
	if err := f.s.IncludeClient(f.ctx, f.project, "bot"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "bot", "c"}}, "a", "bot", "c")
}

func TestManualLinkAndUndo(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web")
	f.client("b", "vk")
	f.client("c", "vk", "phone", "+79161234567")
	a := f.mc("a")
	if err := f.s.LinkClients(f.ctx, f.project, "b", "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.LinkClients(f.ctx, f.project, "c", "b"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "b", "c"}}, "a", "b", "c")
	steps, err := f.s.Explain(f.ctx, f.project, "a", "c")
	if err != nil || len(steps) != 2 || !steps[0].Manual || steps[1].To != "c" {
		t.Errorf("explain a..c = %+v, %v", steps, err)
	}
	if err := f.s.UnlinkClients(f.ctx, f.project, "a", "b"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a"}, {"b", "c"}}, "a", "b", "c")
	if f.mc("a") != a {
		t.Errorf("the oldest member's part should keep %s", a)
	}
}

func TestExplainNamesTheRuleAndValues(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email", "skype"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("b", "vk", "phone", "+79161234567", "email", "b@example.com", "skype", "Bee")
	f.client("c", "telegram", "email", "b@example.com", "skype", "bee")
	f.client("d", "telegram")
	steps, err := f.s.Explain(f.ctx, f.project, "a", "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].From != "a" || steps[0].To != "b" || steps[0].RuleName != "rule 0" ||
		steps[1].To != "c" || fmt.Sprint(steps[1].Parts) != "[{email b@example.com} {skype bee}]" {
		t.Errorf("explain = %+v", steps)
	}
	if steps, err := f.s.Explain(f.ctx, f.project, "a", "d"); err != nil || len(steps) != 0 {
		t.Errorf("explain of unlinked clients = %+v, %v; want none", steps, err)
	}
}

func TestRemovingAClientSplitsOrDeletes(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	f.client("a", "web", "phone", "+79161234567")
	f.client("hub", "vk", "phone", "+79161234567", "email", "h@example.com")
	f.client("c", "telegram", "email", "h@example.com")
	f.client("solo", "telegram")
	solo := f.mc("solo")
	if err := f.s.RemoveClient(f.ctx, f.project, "hub"); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a"}, {"c"}}, "a", "c")
	if err := f.s.RemoveClient(f.ctx, f.project, "solo"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.MultiContact(f.ctx, f.project, solo); identity.ErrorCode(err) != identity.CodeNotFound {
		t.Errorf("multi-contact of a removed lone client: %v, want NOT_FOUND", err)
	}
}

func TestProjectsNeverLink(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	g := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567")
	g.client("a", "web", "phone", "+79161234567")
	g.client("b", "web", "phone", "+79161234567")
	f.wantGroups([][]string{{"a"}}, "a")
	g.wantGroups([][]string{{"a", "b"}}, "a", "b")
	mc, err := f.s.MultiContact(f.ctx, f.project, f.mc("a"))
	if err != nil || mc.Size != 1 {
		t.Errorf("project %s sees %+v, %v", f.project, mc, err)
	}
	if _, err := f.s.MultiContact(f.ctx, f.project, g.mc("a")); identity.ErrorCode(err) != identity.CodeNotFound {
		t.Errorf("another project's multi-contact: %v, want NOT_FOUND", err)
	}
	found, err := f.s.FindClientsPage(f.ctx, f.project, "phone", "8 916 123 45 67", "", graph.MaxClientsPage)
	if err != nil || len(found.Items) != 1 || found.Items[0].ID != "a" {
		t.Errorf("find = %+v, %v", found.Items, err)
	}
}

func TestRefusedInputChangesNothing(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("a", "web", "phone", "+79161234567")
	before, _ := f.s.Client(f.ctx, f.project, "a")
	eventsBefore, _ := f.s.Events(f.ctx, f.project, "", 1000)
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"invalid phone", func() error {
			_, err := f.s.SetAttribute(f.ctx, f.project, "a", identity.AttributeInput{Field: "phone", Value: "12345", Source: identity.SourceBot})
			return err
		}, identity.CodeInvalidPhone},
		{"unknown field", func() error {
			_, err := f.s.SetAttribute(f.ctx, f.project, "a", identity.AttributeInput{Field: "nope", Value: "x", Source: identity.SourceBot})
			return err
		}, identity.CodeUnknownField},
		{"channel change", func() error {
			_, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: "a", Channel: identity.Channel{Kind: "vk", Account: "acme"}, DisplayName: "Changed"})
			return err
		}, identity.CodeConflict},
		{"rule with an unknown field", func() error {
			_, err := f.s.AddRule(f.ctx, f.project, identity.Rule{Name: "x", Fields: []string{"fax"}, Enabled: true})
			return err
		}, identity.CodeUnknownField},
		{"unknown client", func() error {
			_, err := f.s.SetAttribute(f.ctx, f.project, "ghost", identity.AttributeInput{Field: "phone", Value: "+79161234567", Source: identity.SourceBot})
			return err
		}, identity.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := identity.ErrorCode(c.call()); got != c.code {
				t.Errorf("code = %q, want %q", got, c.code)
			}
		})
	}
	f.settle()
	after, _ := f.s.Client(f.ctx, f.project, "a")
	if fmt.Sprint(after.Attributes) != fmt.Sprint(before.Attributes) || after.DisplayName != before.DisplayName {
		t.Errorf("client changed by refused input:\n before %+v\n after  %+v", before, after)
	}
	if _, err := f.s.Client(f.ctx, f.project, "ghost"); identity.ErrorCode(err) != identity.CodeNotFound {
		t.Errorf("a refused write created a client")
	}
	eventsAfter, _ := f.s.Events(f.ctx, f.project, "", 1000)
	if len(eventsAfter) != len(eventsBefore) {
		t.Errorf("refused input produced %d events", len(eventsAfter)-len(eventsBefore))
	}
	rules, _ := f.s.Rules(f.ctx, f.project)
	if len(rules) != 1 {
		t.Errorf("rules = %d, want 1", len(rules))
	}
}

// TestReplicasShareAReresolution opens a second store on the same Neo4j, as
// a second replica of the service would, and races both through rule
// changes: one holds the lease, the other is told so, and the project ends
// IDLE with the multi-contacts the rules imply.
func TestReplicasShareAReresolution(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	other, err := graph.Open(f.ctx, graphtest.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(context.Background()) })
	f.client("a", "web", "phone", "+79161234567", "email", "a@example.com")
	f.client("b", "vk", "phone", "+79161234567")
	f.client("c", "telegram", "email", "A@example.com")
	email := f.addRule("by email", "email")
	for round, enabled := range []bool{false, true, false, true} {
		email.Enabled = enabled
		if _, err := f.s.UpdateRule(f.ctx, f.project, email); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stores := []*graph.Store{f.s, other}
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Reresolve(f.ctx, f.project)
			}()
		}
		wg.Wait()
		refused := 0
		for i, err := range errs {
			if errors.Is(err, graph.ErrResolving) {
				refused++
			} else if err != nil {
				t.Errorf("round %d, store %d: %v", round, i, err)
			}
		}
		t.Logf("round %d: %d of %d stores told another held the lease", round, refused, len(stores))
		if refused == len(stores) {
			t.Errorf("round %d: both stores were told another holds the lease; one of them must do the work", round)
		}
		// Reresolve returns nil only once the project is IDLE, and
		// ErrResolving only while another store holds the lease, which
		// it releases only when done: either way the work is finished.
		p, err := f.s.Project(f.ctx, f.project)
		if err != nil {
			t.Fatal(err)
		}
		if p.Resolution.State != identity.ResolutionIdle {
			t.Fatalf("round %d: %s once both Reresolve calls returned (%v), want IDLE", round, p.Resolution.State, errs)
		}
		want := [][]string{{"a", "b"}, {"c"}}
		if enabled {
			want = [][]string{{"a", "b", "c"}}
		}
		f.wantGroups(want, "a", "b", "c")
	}
}

// An upsert with a bad identifier writes the client with the good ones and
// answers each refused identifier with its typed error.
func TestAnUpsertKeepsItsGoodValuesAndRefusesTheBadOnes(t *testing.T) {
	f := newFixture(t, []string{"email"})
	attrs := []identity.AttributeInput{
		{Field: "email", Value: "ok@example.com", Source: identity.SourceBot},
		{Field: "email", Value: "Ann <ann@example.com>", Source: identity.SourceBot},
		{Field: "phone", Value: "12345", Source: identity.SourceBot},
	}
	for i := range 10 {
		attrs = append(attrs, identity.AttributeInput{Field: "email", Value: fmt.Sprintf("u%d@example.com", i), Source: identity.SourceImport})
	}
	refused, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: "a",
		Channel: identity.Channel{Kind: "web", Account: "acme"}, DisplayName: "Anna", Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.s.Client(f.ctx, f.project, "a")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range refused {
		codes = append(codes, identity.ErrorCode(e))
	}
	want := []string{identity.CodeInvalidEmail, identity.CodeInvalidPhone, identity.CodeTooManyValues}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("refused %v, want %v", codes, want)
	}
	var held []string
	for _, a := range c.Attributes {
		held = append(held, a.Value)
	}
	if c.DisplayName != "Anna" || len(held) != identity.DefaultValueCap || !slices.Contains(held, "ok@example.com") || slices.Contains(held, "u9@example.com") {
		t.Errorf("client = %q with %v; want Anna with ok@ and u0..u8@ (the cap)", c.DisplayName, held)
	}
	// Through an import, strict keeps all or nothing.
	res, err := f.s.Write(f.ctx, f.project, []graph.Op{{Kind: graph.OpUpsertClient, Line: 1, Client: identity.ClientInput{ID: "b",
		Channel: identity.Channel{Kind: "web", Account: "acme"}, Attributes: attrs[:3]}}}, graph.WriteOptions{Resolve: true, Strict: true})
	if err != nil || len(res.Refused) != 1 || res.Applied != 0 {
		t.Errorf("strict write = %+v %v, want the line refused", res, err)
	}
	if _, err := f.s.Client(f.ctx, f.project, "b"); identity.ErrorCode(err) != identity.CodeNotFound {
		t.Errorf("a strictly refused line wrote its client: %v", err)
	}
}

// A phone given with an extension ("доб. 12") is stored as the number,
// which is what matches, with the extension kept beside it: the client
// shows it, a later write of the bare number keeps it, and a client with
// the same number and no extension merges.
func TestAPhoneExtensionIsKeptBesideTheNumber(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("office", "web", "phone", "+7 495 123-45-67 доб. 12")
	f.client("mobile", "telegram", "phone", "8 495 123 45 67")
	f.wantGroups([][]string{{"office", "mobile"}}, "office", "mobile")
	f.set("office", "phone", "+74951234567") // the bare number again
	extension := func(id string) string {
		c, err := f.s.Client(f.ctx, f.project, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Attributes {
			if a.Field == "phone" {
				if a.Value != "+74951234567" {
					t.Errorf("%s's phone = %q, want +74951234567", id, a.Value)
				}
				return a.Extension
			}
		}
		t.Fatalf("%s has no phone", id)
		return ""
	}
	if got := extension("office"); got != "12" {
		t.Errorf("office's extension = %q, want 12", got)
	}
	if got := extension("mobile"); got != "" {
		t.Errorf("mobile's extension = %q, want none", got)
	}
}

// A project takes at most identity.MaxRules rules; the one beyond is
// refused and changes nothing.
func TestAProjectTakesABoundedNumberOfRules(t *testing.T) {
	f := newFixture(t)
	for i := range identity.MaxRules {
		if _, err := f.s.AddRule(f.ctx, f.project, identity.Rule{Name: fmt.Sprint("r", i), Fields: []string{"phone"}, Enabled: true}); err != nil {
			t.Fatalf("rule %d: %v", i+1, err)
		}
	}
	_, err := f.s.AddRule(f.ctx, f.project, identity.Rule{Name: "one more", Fields: []string{"email"}, Enabled: true})
	if identity.ErrorCode(err) != identity.CodeTooManyRules {
		t.Fatalf("rule %d: %v, want %s", identity.MaxRules+1, err, identity.CodeTooManyRules)
	}
	rules, err := f.s.Rules(f.ctx, f.project)
	if err != nil || len(rules) != identity.MaxRules {
		t.Errorf("the project has %d rules (%v), want %d", len(rules), err, identity.MaxRules)
	}
	f.settle()
}

// A removed client's conversations go with it: the same id written again
// starts with none, and the conversation's id is free for another client.
func TestARemovedClientsConversationsGoWithIt(t *testing.T) {
	f := newFixture(t)
	f.client("c1", "web")
	f.client("c2", "web")
	conv := graph.Conversation{ID: "conv-1", StartedAt: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), Summary: "asked about delivery"}
	if _, err := f.s.RecordConversation(f.ctx, f.project, "c1", conv); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveClient(f.ctx, f.project, "c1"); err != nil {
		t.Fatal(err)
	}
	f.client("c1", "web")
	page, err := f.s.ConversationsPage(f.ctx, f.project, "c1", "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("c1 written again has the removed client's conversations: %+v", page.Items)
	}
	if _, err := f.s.RecordConversation(f.ctx, f.project, "c2", conv); err != nil {
		t.Errorf("conv-1 for another client after its client was removed: %v", err)
	}
}

// Sending a client's display name again changes nothing: no event.
func TestTheSameDisplayNameAgainIsNoChange(t *testing.T) {
	f := newFixture(t)
	in := identity.ClientInput{ID: "a", DisplayName: "Ann", Channel: identity.Channel{Kind: "web", Account: "acme"}}
	if _, err := f.s.UpsertClient(f.ctx, f.project, in); err != nil {
		t.Fatal(err)
	}
	before := len(published.of(f.project))
	if _, err := f.s.UpsertClient(f.ctx, f.project, in); err != nil {
		t.Fatal(err)
	}
	if evs := published.of(f.project)[before:]; len(evs) != 0 {
		t.Errorf("the same name again made %d events: %+v", len(evs), evs)
	}
	in.DisplayName = "Ann K."
	if _, err := f.s.UpsertClient(f.ctx, f.project, in); err != nil {
		t.Fatal(err)
	}
	if evs := published.of(f.project)[before:]; len(evs) != 1 || evs[0].Type != identity.EventUpdated {
		t.Errorf("a new name made %+v, want one UPDATED", evs)
	}
}
