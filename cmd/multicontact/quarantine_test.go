package main

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// When a write pushes a match key over the project's cap (three clients
// share an office phone, the cap is 2), the project's subscribers hear it
// at once: a QUARANTINED event that names the key, how many clients hold
// it and who they are.
func TestASubscriberHearsOfAKeyPassingTheCap(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {keyCap: 2}) { id } }`, map[string]any{"p": p.id}, nil)
	a.waitIdle(p)
	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe("1", `subscription($p: ID!) { multiContactChanged(projectId: $p) {
		type multiContactId clientIds quarantined { rule key size parts { field value } since } } }`, map[string]any{"p": p.id})
	time.Sleep(200 * time.Millisecond) // the subscription is running
	for _, c := range []string{"desk-1", "desk-2", "desk-3"} {
		a.client(p, c, "web", "phone", "+7 495 123-45-67")
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		m, err := ws.next(time.Until(deadline))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data struct {
				MultiContactChanged struct {
					Type        string
					ClientIds   []string
					Quarantined *struct {
						Rule, Key string
						Size      int
						Parts     []struct{ Field, Value string }
						Since     *string
					}
				}
			}
		}
		if err := json.Unmarshal(m.Payload, &out); err != nil {
			t.Fatal(err)
		}
		e := out.Data.MultiContactChanged
		if e.Type != "QUARANTINED" {
			if e.Quarantined != nil {
				t.Errorf("a %s event carries quarantined %+v, want null", e.Type, e.Quarantined)
			}
			continue
		}
		q := e.Quarantined
		if q == nil || q.Size != 3 || len(q.Parts) != 1 || q.Parts[0].Field != "phone" || q.Parts[0].Value != "+74951234567" ||
			q.Since == nil || q.Rule == "" || q.Key == "" {
			t.Errorf("QUARANTINED carries %+v, want the phone's key, held by 3, with its rule and time", q)
		}
		if !slices.Equal(e.ClientIds, []string{"desk-1", "desk-2", "desk-3"}) {
			t.Errorf("QUARANTINED lists %v, want the three desks", e.ClientIds)
		}
		return
	}
	t.Fatal("no QUARANTINED event within 15 s")
}

// Forgetting the person whose write pushed a key over the cap blanks the
// key of that QUARANTINED event: the value it was made of is the person's
// too. The event keeps its rule and size.
func TestForgettingAPersonBlanksTheKeyTheirWriteQuarantined(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	vars := map[string]any{"p": p.id}
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {keyCap: 2}) { id } }`, vars, nil)
	a.waitIdle(p)
	for _, c := range []string{"desk-1", "desk-2", "desk-3"} {
		a.client(p, c, "web", "phone", "+7 495 123-45-67")
	}
	type quarantined struct {
		Rule, Key string
		Size      int
		Parts     []struct{ Field, Value string }
	}
	events := func() []quarantined {
		var out struct {
			Events struct {
				Nodes []struct {
					Type        string
					Quarantined *quarantined
				}
			}
		}
		a.ok(p.read, `query($p: ID!) { events(projectId: $p, first: 1000) { nodes { type quarantined { rule key size parts { field value } } } } }`, vars, &out)
		var qs []quarantined
		for _, e := range out.Events.Nodes {
			if e.Type == "QUARANTINED" && e.Quarantined != nil {
				qs = append(qs, *e.Quarantined)
			}
		}
		return qs
	}
	if qs := events(); len(qs) != 1 || len(qs[0].Parts) != 1 || qs[0].Parts[0].Value != "+74951234567" {
		t.Fatalf("before forgetting: quarantine events %+v, want one naming the phone", qs)
	}
	var mc struct {
		Client struct{ MultiContact struct{ ID string } }
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "desk-3") { multiContact { id } } }`, vars, &mc)
	a.ok(p.admin, `mutation($p: ID!, $id: ID!) { forgetMultiContact(projectId: $p, id: $id) { type } }`,
		map[string]any{"p": p.id, "id": mc.Client.MultiContact.ID}, nil)
	qs := events()
	if len(qs) != 1 || qs[0].Key != "" || len(qs[0].Parts) != 0 || qs[0].Size != 3 || qs[0].Rule == "" {
		t.Errorf("after forgetting desk-3: quarantine events %+v, want one with its rule and size and no key", qs)
	}
}
