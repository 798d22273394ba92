package main

import (
	"encoding/json"
	"slices"
	"testing"
)

// An operator's lookup reads a client with its multi-contact (read in one
// statement with the client); what it shows is what the multi-contact
// itself answers, after a merge (the absorbed id listed as an alias) and
// for a client still alone.
func TestAClientsMultiContactIsTheMultiContact(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "tg-1", "telegram", "phone", "+7 916 123-45-67")
	a.client(p, "wa-1", "whatsapp", "email", "ann@example.com")
	a.client(p, "web-1", "web", "phone", "8 916 123 45 67", "email", "ann@example.com") // joins both
	a.client(p, "vk-1", "vk", "email", "bob@example.com")
	const head = `id size createdAt aliases clients { nodes { id } }`
	for _, id := range []string{"tg-1", "web-1", "vk-1"} {
		var viaClient struct {
			Client struct{ MultiContact json.RawMessage }
		}
		a.ok(p.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { id multiContact { `+head+` } } }`,
			map[string]any{"p": p.id, "c": id}, &viaClient)
		var mc struct{ ID string }
		if err := json.Unmarshal(viaClient.Client.MultiContact, &mc); err != nil || mc.ID == "" {
			t.Fatalf("%s: multiContact %s, %v", id, viaClient.Client.MultiContact, err)
		}
		var direct struct{ MultiContact json.RawMessage }
		a.ok(p.read, `query($p: ID!, $m: ID!) { multiContact(projectId: $p, id: $m) { `+head+` } }`,
			map[string]any{"p": p.id, "m": mc.ID}, &direct)
		if string(viaClient.Client.MultiContact) != string(direct.MultiContact) {
			t.Errorf("%s: client { multiContact } = %s, multiContact(id) = %s", id, viaClient.Client.MultiContact, direct.MultiContact)
		}
	}
	var merged struct {
		Client struct {
			MultiContact struct {
				Size    int
				Aliases []string
			}
		}
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "wa-1") { multiContact { size aliases } } }`, map[string]any{"p": p.id}, &merged)
	if m := merged.Client.MultiContact; m.Size != 3 || len(m.Aliases) != 1 {
		t.Errorf("wa-1's multi-contact after the merge: size %d, aliases %v; want 3 members and the absorbed id", m.Size, m.Aliases)
	}
}

// A lookup reads a multi-contact's first page of members with the
// multi-contact itself; every page size and cursor a query may give still
// answers exactly the members, in id order, whether the page comes by a
// literal, a variable or one of two aliases.
func TestTheFirstPageOfMembersComesWithTheMultiContact(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "b-web", "web", "email", "ann@example.com")
	a.client(p, "a-tg", "telegram", "email", "ann@example.com")
	a.client(p, "c-wa", "whatsapp", "email", "ann@example.com")
	type conn struct {
		Nodes    []struct{ ID string }
		PageInfo struct {
			HasNextPage bool
			EndCursor   string
		}
	}
	ids := func(c conn) (out []string) {
		for _, n := range c.Nodes {
			out = append(out, n.ID)
		}
		return out
	}
	const page = `{ nodes { id } pageInfo { hasNextPage endCursor } }`
	var mcID string
	for _, via := range []struct{ name, decl, prefix, suffix string }{
		{"client { multiContact }", "", `client(projectId: $p, id: "a-tg") { multiContact {`, `} }`},
		{"multiContact(id)", ", $m: ID!", `multiContact(projectId: $p, id: $m) {`, `}`},
	} {
		vars := func(n bool) map[string]any {
			v := map[string]any{"p": p.id}
			if via.decl != "" {
				v["m"] = mcID
			}
			if n {
				v["n"] = 2
			}
			return v
		}
		query := func(decl string, sel string, out any) {
			t.Helper()
			var res struct {
				Client       *struct{ MultiContact json.RawMessage }
				MultiContact json.RawMessage
			}
			a.ok(p.read, `query($p: ID!`+via.decl+decl+`) { `+via.prefix+` id `+sel+` `+via.suffix+` }`, vars(decl != ""), &res)
			raw := res.MultiContact
			if res.Client != nil {
				raw = res.Client.MultiContact
			}
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s: %s: %v", via.name, raw, err)
			}
		}
		if mcID == "" {
			var head struct{ ID string }
			query("", "", &head)
			mcID = head.ID
		}
		var all struct{ Clients conn }
		query("", "clients "+page, &all)
		if got := ids(all.Clients); !slices.Equal(got, []string{"a-tg", "b-web", "c-wa"}) || all.Clients.PageInfo.HasNextPage {
			t.Errorf("%s: clients = %v (more: %v), want the 3 members by id", via.name, got, all.Clients.PageInfo.HasNextPage)
		}
		var two struct{ Clients conn }
		query(", $n: Int", "clients(first: $n) "+page, &two)
		if got := ids(two.Clients); !slices.Equal(got, []string{"a-tg", "b-web"}) || !two.Clients.PageInfo.HasNextPage {
			t.Fatalf("%s: clients(first: $n = 2) = %v (more: %v), want a-tg, b-web and more", via.name, got, two.Clients.PageInfo.HasNextPage)
		}
		var rest struct{ Clients conn }
		query("", `clients(first: 2, after: "`+two.Clients.PageInfo.EndCursor+`") `+page, &rest)
		if got := ids(rest.Clients); !slices.Equal(got, []string{"c-wa"}) || rest.Clients.PageInfo.HasNextPage {
			t.Errorf("%s: the page after it = %v (more: %v), want c-wa alone", via.name, got, rest.Clients.PageInfo.HasNextPage)
		}
		var aliased struct{ One, Three conn }
		query("", "one: clients(first: 1) "+page+" three: clients(first: 3) "+page, &aliased)
		if got := ids(aliased.One); !slices.Equal(got, []string{"a-tg"}) || !aliased.One.PageInfo.HasNextPage {
			t.Errorf("%s: one: clients(first: 1) = %v, want a-tg and more", via.name, got)
		}
		if got := ids(aliased.Three); !slices.Equal(got, []string{"a-tg", "b-web", "c-wa"}) || aliased.Three.PageInfo.HasNextPage {
			t.Errorf("%s: three: clients(first: 3) = %v, want all 3 and no more", via.name, got)
		}
		for _, bad := range []string{"0", "501"} {
			a.wantCode("BAD_USER_INPUT", p.read, `query($p: ID!`+via.decl+`) { `+via.prefix+` clients(first: `+bad+`) { nodes { id } } `+via.suffix+` }`,
				vars(false))
		}
	}
}
