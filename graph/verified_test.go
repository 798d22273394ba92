package graph_test

import (
	"testing"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// addVerifiedRule adds a rule that links only through verified values and
// waits for the re-resolution.
func (f *fixture) addVerifiedRule(name string, fields ...string) identity.Rule {
	f.t.Helper()
	r, err := f.s.AddRule(f.ctx, f.project, identity.Rule{Name: name, Fields: fields, Enabled: true, RequireVerified: true})
	if err != nil {
		f.t.Fatalf("add rule %v: %v", fields, err)
	}
	f.settle()
	return r
}

// attribute returns how a client holds a value: whether it holds it, its
// source and whether it is verified.
func (f *fixture) attribute(client, field, value string) (held bool, a identity.Attribute) {
	f.t.Helper()
	c, err := f.s.Client(f.ctx, f.project, client)
	if err != nil {
		f.t.Fatalf("client %s: %v", client, err)
	}
	for _, a := range c.Attributes {
		if a.Field == field && a.Value == value {
			return true, a
		}
	}
	return false, identity.Attribute{}
}

// TestRequireVerifiedLinksOnlyThroughVerifiedValues sends one phone to two
// clients, verified or not, step by step. A rule that requires verified
// values links them only once both hold it verified; a value once verified
// stays verified (with the source that verified it) when it is sent again
// unverified: the store ORs the flag, it never downgrades.
func TestRequireVerifiedLinksOnlyThroughVerifiedValues(t *testing.T) {
	f := newFixture(t)
	f.addVerifiedRule("verified phone", "phone")
	f.client("a", "web")
	f.client("b", "telegram")
	const phone = "+79161234567"
	steps := []struct {
		name     string
		client   string
		raw      string
		source   identity.Source
		verified bool
		// wanted afterwards
		groups    [][]string
		aVerified bool
		aSource   identity.Source
		bVerified bool
		bHolds    bool
	}{
		{"a gives it unverified", "a", "8 916 123-45-67", identity.SourceBot, false,
			[][]string{{"a"}, {"b"}}, false, identity.SourceBot, false, false},
		{"b gives it unverified too: unverified values link nobody", "b", "+7 916 123 45 67", identity.SourceBot, false,
			[][]string{{"a"}, {"b"}}, false, identity.SourceBot, false, true},
		{"a verifies it: one verified holder is not a match", "a", "89161234567", identity.SourceWidget, true,
			[][]string{{"a"}, {"b"}}, true, identity.SourceWidget, false, true},
		{"b verifies it: both verified, they merge", "b", "+79161234567", identity.SourceOperator, true,
			[][]string{{"a", "b"}}, true, identity.SourceWidget, true, true},
		{"a sends it again unverified: it stays verified and linked", "a", "8 (916) 123-45-67", identity.SourceBot, false,
			[][]string{{"a", "b"}}, true, identity.SourceWidget, true, true},
		{"b sends it again unverified: still verified", "b", "+79161234567", identity.SourceIntegration, false,
			[][]string{{"a", "b"}}, true, identity.SourceWidget, true, true},
	}
	for _, st := range steps {
		got, err := f.s.SetAttribute(f.ctx, f.project, st.client,
			identity.AttributeInput{Field: "phone", Value: st.raw, Source: st.source, Verified: st.verified})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != phone {
			t.Errorf("%s: normalized %q, want %q", st.name, got, phone)
		}
		t.Run(st.name, func(t *testing.T) {
			g := &fixture{t: t, ctx: f.ctx, s: f.s, project: f.project}
			g.wantGroups(st.groups, "a", "b")
			held, a := g.attribute("a", "phone", phone)
			if !held || a.Verified != st.aVerified || a.Source != st.aSource {
				t.Errorf("a's phone: held %v, verified %v, source %s; want held, verified %v, source %s",
					held, a.Verified, a.Source, st.aVerified, st.aSource)
			}
			held, b := g.attribute("b", "phone", phone)
			if held != st.bHolds || b.Verified != st.bVerified {
				t.Errorf("b's phone: held %v, verified %v; want held %v, verified %v", held, b.Verified, st.bHolds, st.bVerified)
			}
		})
	}
}

// TestRequireVerifiedAppliesToRuleChangesAndNewClients checks the batch
// path (a rule added or changed over existing values) and the incremental
// one (a client created with the value) against the same expectation:
// only the holders of the verified value are linked by a rule that
// requires verification, and all holders by one that does not.
func TestRequireVerifiedAppliesToRuleChangesAndNewClients(t *testing.T) {
	f := newFixture(t)
	upsert := func(id string, verified bool) {
		t.Helper()
		_, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: id, Channel: identity.Channel{Kind: "web", Account: "acme"},
			Attributes: []identity.AttributeInput{{Field: "email", Value: "Ann@Example.com", Source: identity.SourceIntegration, Verified: verified}}})
		if err != nil {
			t.Fatalf("upsert %s: %v", id, err)
		}
	}
	upsert("v1", true)
	upsert("v2", true)
	upsert("u1", false)
	f.wantGroups([][]string{{"v1"}, {"v2"}, {"u1"}}, "v1", "v2", "u1") // no rule yet

	rule := f.addVerifiedRule("verified email", "email")
	f.wantGroups([][]string{{"v1", "v2"}, {"u1"}}, "v1", "v2", "u1")

	upsert("v3", true)
	upsert("u2", false)
	f.wantGroups([][]string{{"v1", "v2", "v3"}, {"u1"}, {"u2"}}, "v1", "v2", "v3", "u1", "u2")

	rule.RequireVerified = false
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups([][]string{{"v1", "v2", "v3", "u1", "u2"}}, "v1", "v2", "v3", "u1", "u2")

	rule.RequireVerified = true
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups([][]string{{"v1", "v2", "v3"}, {"u1"}, {"u2"}}, "v1", "v2", "v3", "u1", "u2")
	rules, err := f.s.Rules(f.ctx, f.project)
	if err != nil || len(rules) != 1 || !rules[0].RequireVerified {
		t.Errorf("rules = %+v, %v; want the one rule requiring verified values", rules, err)
	}
}

// TestOneBatchGivesAValueAsItsOpsWouldOneByOne writes, in one batch, ops
// on the same value of one client, and checks the value as the ops would
// have left it applied one at a time: given verified then unverified, it
// stays verified; taken away then given unverified, it is unverified;
// given again then taken away, it is gone. A rule requiring verified values
// links the client to another that holds the value verified only in the
// first case.
func TestOneBatchGivesAValueAsItsOpsWouldOneByOne(t *testing.T) {
	const email = "ann@example.com"
	give := func(id string, source identity.Source, verified bool) graph.Op {
		return graph.Op{Kind: graph.OpAddAttribute, ClientID: id,
			Attribute: identity.AttributeInput{Field: "email", Value: email, Source: source, Verified: verified}}
	}
	take := func(id string) graph.Op {
		return graph.Op{Kind: graph.OpRemoveAttribute, ClientID: id, Attribute: identity.AttributeInput{Field: "email", Value: email}}
	}
	for _, tt := range []struct {
		name     string
		before   bool // a holds the value verified before the batch
		ops      []graph.Op
		held     bool
		verified bool
		source   identity.Source
	}{
		{"given verified, then unverified", false,
			[]graph.Op{give("a", identity.SourceOperator, true), give("a", identity.SourceWidget, false)}, true, true, identity.SourceOperator},
		{"taken away, then given unverified", true,
			[]graph.Op{take("a"), give("a", identity.SourceWidget, false)}, true, false, identity.SourceWidget},
		{"given again, then taken away", true,
			[]graph.Op{give("a", identity.SourceWidget, false), take("a")}, false, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addVerifiedRule("verified email", "email")
			f.client("a", "web")
			f.client("b", "telegram")
			setup := []graph.Op{give("b", identity.SourceOperator, true)}
			if tt.before {
				setup = append(setup, give("a", identity.SourceOperator, true))
			}
			if _, err := f.s.Write(f.ctx, f.project, setup, graph.WriteOptions{Resolve: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Write(f.ctx, f.project, tt.ops, graph.WriteOptions{Resolve: true}); err != nil {
				t.Fatal(err)
			}
			held, a := f.attribute("a", "email", email)
			if held != tt.held || a.Verified != tt.verified || a.Source != tt.source {
				t.Errorf("a holds the e-mail: %v, %s verified %v; want %v, %s verified %v", held, a.Source, a.Verified, tt.held, tt.source, tt.verified)
			}
			want := [][]string{{"a"}, {"b"}}
			if tt.held && tt.verified {
				want = [][]string{{"a", "b"}}
			}
			f.wantGroups(want, "a", "b")
		})
	}
}
