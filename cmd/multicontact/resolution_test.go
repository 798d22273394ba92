package main

import (
	"fmt"
	"slices"
	"testing"
)

const setVerified = `mutation($p: ID!, $c: ID!, $f: String!, $v: String!, $s: Source, $ver: Boolean) {
	setAttribute(projectId: $p, clientId: $c, field: $f, value: $v, source: $s, verified: $ver) {
		accepted normalized error { code } client { attributes { field value source verified } }
	}
}`

// TestRequireVerifiedThroughTheAPI: a rule that requires verified values
// links two clients only once both hold the value verified; sending it
// again unverified changes nothing (the flag never goes back to false).
func TestRequireVerifiedThroughTheAPI(t *testing.T) {
	a := startAPI(t)
	p := a.project() // rules on phone and on email, which link unverified values
	var rule struct {
		AddRule struct{ RequireVerified bool }
	}
	a.ok(p.admin, `mutation($p: ID!) { addRule(projectId: $p, input: {name: "verified contract", fields: ["contract"], requireVerified: true}) { requireVerified } }`,
		map[string]any{"p": p.id}, &rule)
	if !rule.AddRule.RequireVerified {
		t.Fatal("addRule(requireVerified: true) answered requireVerified false")
	}
	a.waitIdle(p)
	a.client(p, "a", "web")
	a.client(p, "b", "telegram")

	steps := []struct {
		name, client, source string
		verified             *bool // nil: the argument is left out (false)
		wantTogether         bool
		wantVerified         map[string]bool // client -> its contract's verified flag
		wantSource           map[string]string
	}{
		{"a unverified", "a", "BOT", nil, false, map[string]bool{"a": false}, map[string]string{"a": "BOT"}},
		{"b unverified", "b", "OPERATOR", ptr(false), false, map[string]bool{"a": false, "b": false}, map[string]string{"a": "BOT", "b": "OPERATOR"}},
		{"a verified", "a", "WIDGET", ptr(true), false, map[string]bool{"a": true, "b": false}, map[string]string{"a": "WIDGET", "b": "OPERATOR"}},
		{"b verified", "b", "INTEGRATION", ptr(true), true, map[string]bool{"a": true, "b": true}, map[string]string{"a": "WIDGET", "b": "INTEGRATION"}},
		{"a again unverified", "a", "BOT", ptr(false), true, map[string]bool{"a": true, "b": true}, map[string]string{"a": "WIDGET", "b": "INTEGRATION"}},
		{"b again, verified argument left out", "b", "BOT", nil, true, map[string]bool{"a": true, "b": true}, map[string]string{"a": "WIDGET", "b": "INTEGRATION"}},
	}
	for _, st := range steps {
		vars := map[string]any{"p": p.id, "c": st.client, "f": "contract", "v": " C-42 ", "s": st.source}
		if st.verified != nil {
			vars["ver"] = *st.verified
		}
		var out struct {
			SetAttribute struct {
				Accepted   bool
				Normalized *string
			}
		}
		a.ok(p.write, setVerified, vars, &out)
		if !out.SetAttribute.Accepted || out.SetAttribute.Normalized == nil || *out.SetAttribute.Normalized != "c-42" {
			t.Fatalf("%s: setAttribute = %+v, want accepted as c-42 (text is case-folded and trimmed)", st.name, out.SetAttribute)
		}
		if together := mcID(a, p, "a") == mcID(a, p, "b"); together != st.wantTogether {
			t.Errorf("%s: a and b together = %v, want %v", st.name, together, st.wantTogether)
		}
		for c, want := range st.wantVerified {
			at, ok := attributeOf(a, p, c, "contract")
			if !ok || at.Verified != want || at.Source != st.wantSource[c] {
				t.Errorf("%s: %s's contract = %+v (held %v), want verified %v, source %s", st.name, c, at, ok, want, st.wantSource[c])
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

type attributeOut struct {
	Field, Value, Source string
	Verified             bool
}

// attributeOf returns the client's value of field, read through the API.
func attributeOf(a *api, p testProject, client, field string) (attributeOut, bool) {
	a.t.Helper()
	var out struct {
		Client *struct{ Attributes []attributeOut }
	}
	a.ok(p.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { attributes { field value source verified } } }`,
		map[string]any{"p": p.id, "c": client}, &out)
	if out.Client == nil {
		a.t.Fatalf("client %s is null", client)
	}
	for _, at := range out.Client.Attributes {
		if at.Field == field {
			return at, true
		}
	}
	return attributeOut{}, false
}

// TestAnAliasChainResolvesThroughTheAPI: A is absorbed into B, then B into
// C; multiContact(A) and multiContact(B) answer C with all seven members.
func TestAnAliasChainResolvesThroughTheAPI(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "a", "web", "email", "a@example.com")
	for i := range 2 {
		a.client(p, fmt.Sprint("b", i), "web", "email", "b@example.com")
	}
	for i := range 4 {
		a.client(p, fmt.Sprint("c", i), "web", "email", "c@example.com")
	}
	mcA, mcB, mcC := mcID(a, p, "a"), mcID(a, p, "b0"), mcID(a, p, "c0")
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "a", "f": "email", "v": "b@example.com"}, nil)
	if got := mcID(a, p, "a"); got != mcB {
		t.Fatalf("a joined %s, want B %s", got, mcB)
	}
	a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "b0", "f": "email", "v": "c@example.com"}, nil)
	if got := mcID(a, p, "a"); got != mcC {
		t.Fatalf("a is in %s after B joined the larger C, want %s", got, mcC)
	}
	wantAliases := []string{mcA, mcB}
	slices.Sort(wantAliases)
	for _, id := range []string{mcA, mcB, mcC} {
		var out struct {
			MultiContact *struct {
				ID      string
				Size    int
				Aliases []string
				Clients struct{ Nodes []struct{ ID string } }
			}
		}
		a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { id size aliases clients { nodes { id } } } }`,
			map[string]any{"p": p.id, "id": id}, &out)
		m := out.MultiContact
		if m == nil {
			t.Errorf("multiContact(%s) is null, want %s", id, mcC)
			continue
		}
		aliases := slices.Sorted(slices.Values(m.Aliases))
		if m.ID != mcC || m.Size != 7 || len(m.Clients.Nodes) != 7 || !slices.Equal(aliases, wantAliases) {
			t.Errorf("multiContact(%s) = %s size %d, %d clients, aliases %v; want %s size 7, 7 clients, aliases %v",
				id, m.ID, m.Size, len(m.Clients.Nodes), m.Aliases, mcC, wantAliases)
		}
	}
}

// TestDefaultCapsOnSetAttribute: a new project allows 10 values per field
// per client and 50 clients per match key (README); setAttribute refuses
// the 11th value as an answer, and the 51st holder of a phone quarantines it.
func TestDefaultCapsOnSetAttribute(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	var settings struct {
		Project struct {
			Settings struct{ KeyCap, ValueCap int }
		}
	}
	a.ok(p.read, `query($p: ID!) { project(id: $p) { settings { keyCap valueCap } } }`, map[string]any{"p": p.id}, &settings)
	if s := settings.Project.Settings; s.KeyCap != 50 || s.ValueCap != 10 {
		t.Errorf("default settings keyCap %d valueCap %d, want 50 and 10", s.KeyCap, s.ValueCap)
	}

	t.Run("values per field per client", func(t *testing.T) {
		a.client(p, "v", "web")
		set := func(field, value string) setResult {
			t.Helper()
			var out setResult
			a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": "v", "f": field, "v": value}, &out)
			return out
		}
		for i := 1; i <= 10; i++ {
			if r := set("email", fmt.Sprintf("v%d@example.com", i)); !r.SetAttribute.Accepted {
				t.Fatalf("e-mail %d of 10 refused: %+v", i, r.SetAttribute.Error)
			}
		}
		r := set("email", "v11@example.com")
		if r.SetAttribute.Accepted || r.SetAttribute.Error == nil || r.SetAttribute.Error.Code != "TOO_MANY_VALUES" ||
			r.SetAttribute.Error.Field != "email" || r.SetAttribute.Client != nil {
			t.Errorf("an 11th e-mail: %+v, want refused with TOO_MANY_VALUES on email", r.SetAttribute)
		}
		if r := set("email", "V3@Example.com"); !r.SetAttribute.Accepted {
			t.Errorf("an e-mail the client holds, sent again at the cap: %+v, want accepted", r.SetAttribute.Error)
		}
		if r := set("phone", "+79161234567"); !r.SetAttribute.Accepted {
			t.Errorf("a phone beside 10 e-mails: %+v, want accepted (the cap is per field)", r.SetAttribute.Error)
		}
		emails := 0
		var out struct {
			Client struct{ Attributes []attributeOut }
		}
		a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "v") { attributes { field value source verified } } }`, map[string]any{"p": p.id}, &out)
		for _, at := range out.Client.Attributes {
			if at.Field == "email" {
				emails++
				if at.Value == "v11@example.com" {
					t.Error("the refused 11th e-mail was stored")
				}
			}
		}
		if emails != 10 {
			t.Errorf("the client holds %d e-mails, want 10", emails)
		}
		a.ok(p.write, `mutation($p: ID!) { removeAttribute(projectId: $p, clientId: "v", field: "email", value: "v1@example.com") { id } }`,
			map[string]any{"p": p.id}, nil)
		if r := set("email", "v11@example.com"); !r.SetAttribute.Accepted {
			t.Errorf("an e-mail after one was removed: %+v, want accepted", r.SetAttribute.Error)
		}
	})

	t.Run("clients per match key", func(t *testing.T) {
		const phone = "+74950000050"
		ids := make([]string, 51)
		for i := range ids {
			ids[i] = fmt.Sprintf("k%02d", i+1)
			a.client(p, ids[i], "web")
		}
		for _, id := range ids[:50] {
			var r setResult
			a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": id, "f": "phone", "v": phone}, &r)
			if !r.SetAttribute.Accepted {
				t.Fatalf("%s: %+v", id, r.SetAttribute.Error)
			}
		}
		var m struct {
			MultiContact *struct{ Size int }
		}
		first := mcID(a, p, ids[0])
		a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { size } }`, map[string]any{"p": p.id, "id": first}, &m)
		if m.MultiContact == nil || m.MultiContact.Size != 50 {
			t.Fatalf("50 holders of one phone: multi-contact %+v, want one of size 50", m.MultiContact)
		}
		if keys := quarantined(a, p); len(keys) != 0 {
			t.Fatalf("quarantined at 50 holders: %+v, want none", keys)
		}

		a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": ids[50], "f": "phone", "v": phone}, nil)
		keys := quarantined(a, p)
		if len(keys) != 1 || keys[0].Size != 51 || len(keys[0].Parts) != 1 || keys[0].Parts[0].Field != "phone" || keys[0].Parts[0].Value != phone {
			t.Fatalf("quarantined keys at 51 holders: %+v, want the phone with 51 clients", keys)
		}
		seen := map[string]bool{}
		for _, id := range []string{ids[0], ids[1], ids[49], ids[50]} {
			seen[mcID(a, p, id)] = true
		}
		if len(seen) != 4 {
			t.Errorf("holders of a quarantined phone share multi-contacts (%d ids for 4 clients), want each alone", len(seen))
		}
	})
}

type quarantinedKey struct {
	Rule, Key string
	Size      int
	Parts     []struct{ Field, Value string }
}

func quarantined(a *api, p testProject) []quarantinedKey {
	a.t.Helper()
	var out struct {
		Project struct{ QuarantinedKeys []quarantinedKey }
	}
	a.ok(p.read, `query($p: ID!) { project(id: $p) { quarantinedKeys { rule key size parts { field value } } } }`, map[string]any{"p": p.id}, &out)
	return out.Project.QuarantinedKeys
}
