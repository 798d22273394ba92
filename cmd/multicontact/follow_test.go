package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// subscribeTo opens a websocket subscription of multiContactChanged for
// one multi-contact id.
func subscribeTo(t *testing.T, a *api, p testProject, mc string) *wsClient {
	t.Helper()
	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe("1", changed, map[string]any{"p": p.id, "mc": mc})
	return ws
}

// wantEvent reads the subscription's next event and checks its type,
// multi-contact and members.
func wantEvent(t *testing.T, ws *wsClient, who, typ, mc string, clients ...string) changeEvent {
	t.Helper()
	m, err := ws.next(15 * time.Second)
	if err != nil {
		t.Fatalf("%s heard nothing (%v), want %s of %s", who, err, typ, mc)
	}
	var out struct {
		Data   struct{ MultiContactChanged changeEvent }
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &out); m.Type != "next" || err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s got %s %s (%v), want %s of %s", who, m.Type, m.Payload, err, typ, mc)
	}
	e := out.Data.MultiContactChanged
	got := slices.Sorted(slices.Values(e.ClientIds))
	if e.Type != typ || e.MultiContactID != mc || !slices.Equal(got, clients) {
		t.Fatalf("%s got %s of %s with %v, want %s of %s with %v", who, e.Type, e.MultiContactID, got, typ, mc, clients)
	}
	return e
}

// growingMultiContacts makes three multi-contacts of one, two and four
// clients, each by an e-mail of its own (a, b1 and b2, c1 to c4), so that
// an e-mail given to a merges A into B, and one given to b1 B into C.
func growingMultiContacts(a *api, p testProject) (mcA, mcB, mcC string) {
	a.t.Helper()
	a.client(p, "a", "web", "email", "a@example.com")
	a.client(p, "b1", "web", "email", "b@example.com")
	a.client(p, "b2", "vk", "email", "b@example.com")
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		a.client(p, id, "telegram", "email", "c@example.com")
	}
	return mcID(a, p, "a"), mcID(a, p, "b1"), mcID(a, p, "c1")
}

// TestASubscriptionFollowsItsMultiContactAcrossMerges subscribes to A's
// multi-contact, then A is absorbed into B, and B into C: the subscriber
// hears each MERGED and then the survivor's changes, not its neighbours'.
// Subscribing by an id already absorbed follows the survivor too. When the
// survivor's last member goes, there is exactly one DELETED, for it; the
// absorbed ids never get one.
func TestASubscriptionFollowsItsMultiContactAcrossMerges(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	mcA, mcB, mcC := growingMultiContacts(a, p)
	a.client(p, "z", "web", "email", "z@example.com")

	byA := subscribeTo(t, a, p, mcA)
	time.Sleep(200 * time.Millisecond) // the subscription reaches the broker
	set := func(client, field, value string) {
		t.Helper()
		a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": client, "f": field, "v": value}, nil)
	}

	set("a", "email", "b@example.com") // A (1) into B (2)
	e := wantEvent(t, byA, "the subscriber of A", "MERGED", mcB, "a", "b1", "b2")
	if !slices.Equal(e.PreviousIds, []string{mcA}) {
		t.Errorf("MERGED previousIds %v, want [%s]", e.PreviousIds, mcA)
	}

	byAbsorbedA := subscribeTo(t, a, p, mcA) // A is an alias of B now
	time.Sleep(200 * time.Millisecond)

	set("z", "skype", "zed") // Z's change: nobody here hears it
	set("b1", "email", "c@example.com")
	e = wantEvent(t, byA, "the subscriber of A", "MERGED", mcC, "a", "b1", "b2", "c1", "c2", "c3", "c4")
	if !slices.Equal(e.PreviousIds, []string{mcB}) {
		t.Errorf("MERGED previousIds %v, want [%s]", e.PreviousIds, mcB)
	}
	wantEvent(t, byAbsorbedA, "the subscriber of absorbed A", "MERGED", mcC, "a", "b1", "b2", "c1", "c2", "c3", "c4")

	a.client(p, "c5", "vk", "email", "c@example.com") // the survivor C grows
	all := []string{"a", "b1", "b2", "c1", "c2", "c3", "c4", "c5"}
	wantEvent(t, byA, "the subscriber of A", "UPDATED", mcC, all...)
	wantEvent(t, byAbsorbedA, "the subscriber of absorbed A", "UPDATED", mcC, all...)

	// Every member leaves, in an order that splits nothing (b1 holds both
	// e-mails): UPDATED as C shrinks, then DELETED once.
	order := []string{"a", "b2", "b1", "c1", "c2", "c3", "c4", "c5"}
	for i, id := range order {
		a.ok(p.write, `mutation($p: ID!, $c: ID!) { removeClient(projectId: $p, clientId: $c) }`, map[string]any{"p": p.id, "c": id}, nil)
		typ, rest := "UPDATED", slices.Sorted(slices.Values(order[i+1:]))
		if len(rest) == 0 {
			typ = "DELETED"
		}
		for _, ws := range []*wsClient{byA, byAbsorbedA} {
			wantEvent(t, ws, "after removing "+id, typ, mcC, rest...)
		}
	}
	for _, id := range []string{mcA, mcB, mcC} {
		var out struct{ MultiContact *struct{ ID string } }
		a.ok(p.read, `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { id } }`, map[string]any{"p": p.id, "id": id}, &out)
		if out.MultiContact != nil {
			t.Errorf("multiContact(%s) = %s after every member was removed, want null", id, out.MultiContact.ID)
		}
	}
	if got, want := deletedEvents(a, p), map[string]int{mcC: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DELETED events per multi-contact %v, want %v (A and B were merged away, not deleted; Z is alive)", got, want)
	}
}

// TestDeletedOncePerMultiContactThatDisappears: removing a lone client
// deletes its multi-contact; removing one of two members only updates it;
// removing the last one deletes it. Each deleted multi-contact has exactly
// one DELETED event, in the log and for its subscriber.
func TestDeletedOncePerMultiContactThatDisappears(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "x", "web")
	a.client(p, "y1", "web", "phone", "+79160000001")
	a.client(p, "y2", "vk", "phone", "+79160000001")
	a.client(p, "keep", "web")
	mcX, mcY := mcID(a, p, "x"), mcID(a, p, "y1")
	byX, byY := subscribeTo(t, a, p, mcX), subscribeTo(t, a, p, mcY)
	time.Sleep(200 * time.Millisecond)
	remove := func(id string) {
		t.Helper()
		var out struct{ RemoveClient bool }
		a.ok(p.write, `mutation($p: ID!, $c: ID!) { removeClient(projectId: $p, clientId: $c) }`, map[string]any{"p": p.id, "c": id}, &out)
		if !out.RemoveClient {
			t.Fatalf("removeClient(%s) = false", id)
		}
	}
	remove("x")
	wantEvent(t, byX, "the subscriber of X", "DELETED", mcX)
	remove("y1")
	wantEvent(t, byY, "the subscriber of Y", "UPDATED", mcY, "y2")
	remove("y2")
	wantEvent(t, byY, "the subscriber of Y", "DELETED", mcY)
	if got, want := deletedEvents(a, p), map[string]int{mcX: 1, mcY: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DELETED events per multi-contact %v, want %v", got, want)
	}
}

// deletedEvents counts the project's DELETED events per multi-contact, from
// the event log.
func deletedEvents(a *api, p testProject) map[string]int {
	a.t.Helper()
	out := map[string]int{}
	var after *string
	for {
		var page struct {
			Events struct {
				Edges []struct {
					Node struct{ Type, MultiContactID string }
				}
				PageInfo struct {
					EndCursor   *string
					HasNextPage bool
				}
			}
		}
		a.ok(p.read, `query($p: ID!, $after: String) { events(projectId: $p, after: $after, first: 1000) {
			edges { node { type multiContactId } } pageInfo { endCursor hasNextPage } } }`,
			map[string]any{"p": p.id, "after": after}, &page)
		for _, e := range page.Events.Edges {
			if e.Node.Type == "DELETED" {
				out[e.Node.MultiContactID]++
			}
		}
		if !page.Events.PageInfo.HasNextPage {
			return out
		}
		after = page.Events.PageInfo.EndCursor
	}
}

// A subscriber that comes back with the multi-contact id it followed and
// its last cursor hears what it would have heard connected: the merges
// that took its multi-contact along and the survivor's changes after each,
// none of the survivor's own from before its merge; whether the id was
// still live at its cursor or absorbed already (it heard that merge).
func TestAResumedSubscriptionFollowsItsMultiContactFromItsCursor(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	mcA, mcB, mcC := growingMultiContacts(a, p)
	lastCursor := func() string {
		var page struct {
			Events struct{ PageInfo struct{ EndCursor string } }
		}
		a.ok(p.read, `query($p: ID!) { events(projectId: $p, first: 1000) { pageInfo { endCursor } } }`, map[string]any{"p": p.id}, &page)
		return page.Events.PageInfo.EndCursor
	}
	set := func(client, field, value string) {
		t.Helper()
		a.ok(p.write, setAttribute, map[string]any{"p": p.id, "c": client, "f": field, "v": value}, nil)
	}
	live := lastCursor()                // A still live here
	set("a", "email", "b@example.com")  // A into B
	absorbed := lastCursor()            // and absorbed here
	set("c1", "skype", "cee")           // C's own change, nothing of A's yet
	set("b2", "skype", "bee")           // B, with A, changes
	set("b1", "email", "c@example.com") // B into C

	resume := func(after string) *wsClient {
		ws, err := a.dialWS(p.read)
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe("1", changed, map[string]any{"p": p.id, "mc": mcA, "after": after})
		return ws
	}
	all := []string{"a", "b1", "b2", "c1", "c2", "c3", "c4"}
	ws := resume(live)
	wantEvent(t, ws, "the subscriber of A, resumed where A was live", "MERGED", mcB, "a", "b1", "b2")
	wantEvent(t, ws, "the subscriber of A, resumed where A was live", "UPDATED", mcB, "a", "b1", "b2")
	wantEvent(t, ws, "the subscriber of A, resumed where A was live", "MERGED", mcC, all...)
	ws = resume(absorbed)
	wantEvent(t, ws, "the subscriber of A, resumed after A's merge", "UPDATED", mcB, "a", "b1", "b2")
	wantEvent(t, ws, "the subscriber of A, resumed after A's merge", "MERGED", mcC, all...)
}
