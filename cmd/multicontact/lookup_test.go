package main

import (
	"encoding/json"
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
